#!/usr/bin/env bash
# Run the test suite on a fresh or existing checkout: sets up .venv if needed, starts the local
# SLURM cluster for the integration tests when this machine can run one, then pytest.
# Extra arguments go to pytest, e.g. ./scripts/test.sh -m "not e2e and not integration" (unit
# tests only), ./scripts/test.sh -m integration (launchers: Ray, local SLURM; ~4 min on 2 cores),
# ./scripts/test.sh -m gpu (bf16, compile, two GPUs, the CUDA clock check; skipped, with the reason,
# where no CUDA device is visible) or ./scripts/test.sh -k resume.
#
# SLURM (scripts/slurm_local.sh) is started when running as root and slurm-wlm is installed or apt
# can install it, and stopped afterwards only if this script started it. Otherwise the SLURM tests
# skip, unless TLC_REQUIRE_SLURM=1 (CI), which turns a missing cluster into failing tests.
# Arguments containing "not integration", or a marker expression without "not" that never names
# integration (-m gpu, -m "e2e or gpu": it selects no integration test), skip the cluster altogether.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh

export PATH="$PATH:/usr/sbin:/sbin"  # slurmctld, slurmd and munged live in sbin
started_slurm=0
stop_slurm() {  # on every exit, Ctrl-C included; only a cluster this script started
  if (( started_slurm )); then
    scripts/slurm_local.sh stop || echo "[test] warning: scripts/slurm_local.sh stop failed" >&2
  fi
}
trap stop_slurm EXIT

wants_integration() {
  local arg previous=""
  for arg in "$@"; do
    [[ "$arg" == *"not integration"* ]] && return 1
    [[ "$previous" == "-m" && "$arg" != *integration* && "$arg" != *not* ]] && return 1
    previous=$arg
  done
  return 0
}

can_run_slurm() {
  [[ "$(id -u)" == 0 ]] || { echo "[test] not root: the SLURM tests will skip"; return 1; }
  command -v slurmctld >/dev/null && command -v munged >/dev/null && return 0
  command -v apt-get >/dev/null && timeout 120 apt-get -qq update >/dev/null 2>&1 && return 0
  echo "[test] slurm-wlm is not installed and apt is unreachable: the SLURM tests will skip"
  return 1
}

if wants_integration "$@" && can_run_slurm; then
  if scripts/slurm_local.sh status >/dev/null 2>&1; then
    echo "[test] local SLURM cluster already running; leaving it running afterwards"
  elif scripts/slurm_local.sh start; then
    started_slurm=1
  else
    echo "[test] could not start the local SLURM cluster (see above): the SLURM tests will" \
         "$([[ -n "${TLC_REQUIRE_SLURM:-}" ]] && echo fail || echo skip)"
  fi
  eval "$(scripts/slurm_local.sh env)"
fi
if [[ -n "${TLC_REQUIRE_SLURM:-}" ]] && ! command -v slurmctld >/dev/null; then
  echo "[test] TLC_REQUIRE_SLURM is set but SLURM is unavailable: the SLURM tests will fail"
fi

.venv/bin/python -m pytest "$@"
