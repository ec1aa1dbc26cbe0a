#!/usr/bin/env bash
# Set up (or refresh) the project's virtualenv in .venv. Idempotent: a second run with
# unchanged pyproject.toml and setup.sh does nothing but check.
#
# Install order matters (measured on Python 3.11 with torch 2.13):
#   1. torch: kept if already importable (a CUDA build on a GPU box is never replaced);
#      otherwise the pinned CPU/CUDA wheel torch==2.13.0.
#   2. numpy and cython, which the fairseq build imports.
#   3. fairseq-fixed (imports as `fairseq`) with --no-build-isolation --no-deps: its build
#      imports the torch above, and its metadata demands torchaudio, which would drag in a
#      second torch. Its real runtime needs are listed in pyproject.toml instead.
#   4. this project, editable, with its pinned dependencies (and pytest).
# The fairseq build is most of a setup from an empty pip cache. It compiles its C++ extensions
# without debug info (-g0, the same -O3 code): 62 s instead of 116 s on 2 cores
# (scripts/results/bench_setup.json against bench_setup_1000b3a.json).
# Its setup.py has no switch to skip the extensions the text tasks never use (libnat, libbase,
# alignment_train), and building them in parallel races in torch's shared ninja file.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=${TLC_VENV:-.venv}
TORCH_PIN="torch==2.13.0"
NUMPY_PIN="numpy==2.4.6"
CYTHON_PIN="cython==3.3.1"
FAIRSEQ_PIN="fairseq-fixed==0.12.3.1"

stamp_of() { cat pyproject.toml scripts/setup.sh | sha1sum | cut -d' ' -f1; }

if [ ! -x "$VENV/bin/python" ]; then
  if "$PYTHON" -c "import torch" 2>/dev/null; then
    echo "[setup] reusing the torch already installed for $PYTHON"
    "$PYTHON" -m venv --system-site-packages "$VENV"
  else
    "$PYTHON" -m venv "$VENV"
  fi
fi
PY="$VENV/bin/python"
PIP=("$PY" -m pip --disable-pip-version-check -q)

if [ -f "$VENV/.tlc-installed" ] && [ "$(cat "$VENV/.tlc-installed")" = "$(stamp_of)" ] \
   && "$PY" -c "import torch, fairseq, train_large" 2>/dev/null; then
  echo "[setup] $VENV is up to date"
  exit 0
fi

if "$PY" -c "import torch" 2>/dev/null; then
  echo "[setup] keeping torch $("$PY" -c 'import torch; print(torch.__version__)')"
else
  echo "[setup] installing $TORCH_PIN"
  "${PIP[@]}" install "$TORCH_PIN"
fi
"${PIP[@]}" install "$NUMPY_PIN" "$CYTHON_PIN" setuptools wheel
if ! "$PY" -c "import fairseq" 2>/dev/null; then
  echo "[setup] building $FAIRSEQ_PIN (a few minutes the first time; pip caches the wheel)"
  CFLAGS="${CFLAGS:-} -g0" CXXFLAGS="${CXXFLAGS:-} -g0" \
    "${PIP[@]}" install --no-build-isolation --no-deps "$FAIRSEQ_PIN"
fi
echo "[setup] installing train-large-then-compress and its pinned dependencies"
"${PIP[@]}" install -e ".[test]"
"$PY" -c "import torch, fairseq, train_large" >/dev/null 2>&1 || {
  echo "[setup] error: the environment in $VENV does not import torch, fairseq and train_large" >&2
  exit 1
}
stamp_of > "$VENV/.tlc-installed"
echo "[setup] done: $VENV"
