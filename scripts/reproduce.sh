#!/usr/bin/env bash
# A miniature reproduction of the four claims of Li et al. 2020 in one command: the sweeps that
# each claim's rule needs (sweeps/repro_*.yaml, whose headers say what varies and why), the width
# sweep's models compressed (sweeps/repro_compress.yaml), then `tlc-report --claims --advise`. It
# ends with each claim's verdict. Sets up .venv first, like demo.sh.
#
#   ./scripts/reproduce.sh toy                 # toy_mt width + depth, toy_mlm width + batch, 3 seeds each, then
#                                              #   compression: every claim gets a verdict (~25 min on 2 cores)
#   ./scripts/reproduce.sh toy --quick         # one seed and 5-s budgets: the same stages, verdicts computed but
#                                              #   resting on nothing (~3 min; tests/e2e/test_reproduce.py)
#   ./scripts/reproduce.sh tatoeba PAIRS.tsv   # real En->Fr text (or TLC_TATOEBA_TSV=PAIRS.tsv): width and
#                                              #   depth sweeps, 3 seeds, compression, report (~26 min on 2 cores)
#
# Runs go to $TLC_RUNS_ROOT/repro_<mode>[_quick]_<stage> (default ./runs), prepared data to
# $TLC_DATA_ROOT (default ./data), the report to $TLC_RUNS_ROOT/repro_<mode>[_quick]_report with
# README.md and run.json (command, machine, date, seconds per stage, verdicts; what
# docs/reproductions/ commits beside report.md) and logs/ (each stage's full output; the terminal
# gets one line per job). Re-running the same command skips finished runs and resumes the
# others. A bad argument is one line and exit status 2, before anything is set up.
set -euo pipefail

USAGE="usage: scripts/reproduce.sh toy|tatoeba [PAIRS.tsv] [--quick]"
fail() { echo "reproduce.sh: error: $*" >&2; exit 2; }

MODE="" TSV="" QUICK=0
for arg in "$@"; do
  case "$arg" in
    --quick) QUICK=1 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) fail "unknown option $arg ($USAGE)" ;;
    *) if [[ -z "$MODE" ]]; then MODE=$arg
       elif [[ "$MODE" == tatoeba && -z "$TSV" ]]; then TSV=$arg
       else fail "unexpected argument '$arg' ($USAGE)"; fi ;;
  esac
done
case "$MODE" in
  toy|tatoeba) ;;
  "") fail "no mode given ($USAGE)" ;;
  *) fail "unknown mode '$MODE'; choose toy or tatoeba ($USAGE)" ;;
esac
if [[ "$MODE" == tatoeba ]]; then
  [[ -n "$TSV" ]] && from="$TSV" || { TSV=${TLC_TATOEBA_TSV:-}; from="TLC_TATOEBA_TSV=$TSV"; }
  [[ -n "$TSV" ]] ||
    fail "the tatoeba mode needs a source<TAB>target file: give it as an argument or set TLC_TATOEBA_TSV"
  [[ -f "$TSV" ]] || fail "$from: no such file (the tatoeba mode's source<TAB>target pairs)"
  TSV="$(cd "$(dirname "$TSV")" && pwd)/$(basename "$TSV")"  # before the cd below
fi
COMMAND="scripts/reproduce.sh $*"
STARTED=$(date -u +%Y-%m-%dT%H:%M:%SZ) LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

cd "$(dirname "$0")/.."
./scripts/setup.sh

export TLC_RUNS_ROOT=${TLC_RUNS_ROOT:-$PWD/runs}
export TLC_DATA_ROOT=${TLC_DATA_ROOT:-$PWD/data}
export WANDB_SILENT=${WANDB_SILENT:-true}
# One torch thread per run: on a 2-core machine shared with other work, two OpenMP threads stall
# whenever a neighbour takes a core, and a toy_mt run at width 64 made 23 updates in 20 training
# seconds instead of 245 at one thread (docs/performance.md: the benchmark measures with one for this reason).
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}

PREFIX="repro_$MODE"
[[ $QUICK == 1 ]] && PREFIX+="_quick"
REPORT="$TLC_RUNS_ROOT/${PREFIX}_report"
LOGS="$REPORT/logs"
mkdir -p "$LOGS"
STAGE_SECONDS=()

# One line per job (its start time and what the sweep varies: the words of the stage's own command
# are left out, a source run is named by its folder) and the sweep's summary on the terminal.
progress() {
  local - skip=" $1 " jobs="?" line rest word text
  set -f  # overrides are words, never globs
  while IFS= read -r line; do
    case "$line" in
      *"[HYDRA] Launching "*) jobs=${line#*Launching }; jobs=${jobs%% *} ;;
      *"[HYDRA] "$'\t'"#"*)
        rest=${line#*$'\t'#} text=""
        for word in ${rest#* : }; do
          [[ "$skip" == *" $word "* ]] && continue
          [[ "$word" == source=* ]] && word="source=${word##*/}" && word=${word%\'}
          text+=" $word"
        done
        echo "  ${line:12:8} job $((${rest%% *} + 1))/$jobs:$text" ;;
      "sweep "*|"  failed"*|"  running elsewhere"*|*error:*) echo "  $line" ;;
    esac
  done
}

# stage NAME DESCRIPTION COMMAND...: runs one stage, this invocation's output in $LOGS/NAME.log; stops
# the script with the command's status when it fails (re-running resumes there).
STAGE=0
stage() {
  local name=$1 what=$2 start=$SECONDS status=0
  shift 2
  STAGE=$((STAGE + 1))
  echo "[reproduce $MODE] $STAGE/$STAGES $name: $what ($(elapsed) elapsed; log: $LOGS/$name.log)"
  "$@" 2>&1 | tee "$LOGS/$name.log" | progress "$*" || status=$?
  STAGE_SECONDS+=("$name=$((SECONDS - start))")
  if (( status != 0 )); then
    echo "[reproduce $MODE] $name failed (exit $status); its output: $LOGS/$name.log. Run the same command" \
         "again to resume: finished runs are skipped." >&2
    exit "$status"
  fi
}

elapsed() { printf '%d min %02d s' $((SECONDS / 60)) $((SECONDS % 60)); }

train() {  # train STAGE SWEEP DESCRIPTION [OVERRIDES...]
  local name=$1 sweep=$2 what=$3
  shift 3
  stage "$name" "$what" .venv/bin/tlc-train -m "+sweep=$sweep" "experiment=${PREFIX}_$name" "${COMMON[@]}" "$@"
}

compress() {  # compress SOURCE_STAGE [OVERRIDES...]: every replica of a finished sweep, at every setting
  local source=$1 grid="sparsity 0 / 0.5 / 0.9 x 32 / 8 / 4 bits"
  shift
  [[ $QUICK == 1 ]] && grid="sparsity 0 / 0.9 x 32 / 4 bits"
  stage compress "$grid of every $source run, embeddings included" \
    .venv/bin/tlc-compress -m +sweep=repro_compress "source_sweep=$TLC_RUNS_ROOT/${PREFIX}_$source" \
    "experiment=${PREFIX}_compress" "$@"
}

# prepare_tatoeba TSV DATA_DIR: split and prepare the pairs once; a data dir prepared from another
# file is refused, since the runs trained on it would be skipped as finished.
prepare_tatoeba() {
  local tsv=$1 data=$2 digest
  digest=$(sha256sum "$tsv" | cut -d' ' -f1)
  if [[ -f "$data/prepared.json" && -f "$data/pairs.sha256" ]]; then
    [[ "$(cat "$data/pairs.sha256")" == "$digest" ]] && { echo "already prepared from $tsv"; return 0; }
    echo "reproduce.sh: error: $data was prepared from another file than $tsv; delete it and" \
         "$TLC_RUNS_ROOT/repro_tatoeba*, or set TLC_DATA_ROOT and TLC_RUNS_ROOT elsewhere" >&2
    return 2
  fi
  # 500 + 500 held out of Tatoeba's 18k pairs; 2000 joint pieces suit 17k short training pairs and
  # keep the embeddings from dwarfing a width-64 model (?).
  .venv/bin/tlc-prepare translation --tsv "$tsv" --valid 500 --test 500 --raw-dir "$data/pairs" \
    --out "$data" --src en --tgt fr --vocab-size 2000
  echo "$digest" > "$data/pairs.sha256"
}

COMMON=()
if [[ "$MODE" == toy ]]; then
  # BYTES: above the widest model's smallest (195-210 kB), below the narrowest one's fp32 size (366 kB).
  STAGES=6 BUDGET=20 BYTES=2e5
  QUICK_MT=() QUICK_COMPRESS=()
  if [[ $QUICK == 1 ]]; then
    BUDGET=5
    # Four validations, not ten: each is most of a second on an untrained model.
    COMMON=(seed=1 budget.train_seconds=$BUDGET budget.eval_every_seconds=1.25)
    # An untrained model decodes to its length limit: 50 sentences keep each validation under a second.
    QUICK_MT=(task.eval.bleu_sentences=50 task.eval.test_sentences=50)
    QUICK_COMPRESS=(compression.sparsity=0,0.9 compression.bits=32,4)
  fi
  seeds=$([[ $QUICK == 1 ]] && echo "seed 1" || echo "seeds 1-3")
  train width repro_toy_width "toy_mt 2+2 layers at widths 32, 64, 128, $seeds, $BUDGET s each" "${QUICK_MT[@]}"
  train depth repro_toy_depth "toy_mt width 64 at depths 1, 2, 3, $seeds, $BUDGET s each" "${QUICK_MT[@]}"
  train mlm_width repro_toy_mlm_width "toy_mlm 2 layers at widths 32, 64, 128, batch 16, $seeds, $BUDGET s each"
  train batch repro_toy_batch "toy_mlm 64x2 at batches 16, 32, 64, $seeds, $BUDGET s each"
  compress width "${QUICK_COMPRESS[@]}"
  SOURCES=(width depth mlm_width batch compress)
else
  # BYTES: above the widest model's smallest (609 kB), below the narrowest one's fp32 size (1.45 MB).
  STAGES=5 BUDGET=60 BYTES=1e6
  DATA="$TLC_DATA_ROOT/repro_tatoeba"
  QUICK_COMPRESS=()
  if [[ $QUICK == 1 ]]; then
    BUDGET=10
    COMMON=(seed=1 budget.train_seconds=$BUDGET budget.eval_every_seconds=2.5 task.eval.bleu_sentences=50
            task.eval.test_sentences=50)
    QUICK_COMPRESS=(compression.sparsity=0,0.9 compression.bits=32,4)
  fi
  seeds=$([[ $QUICK == 1 ]] && echo "seed 1" || echo "seeds 1-3")
  stage prepare "$TSV -> $DATA (500 valid, 500 test pairs)" prepare_tatoeba "$TSV" "$DATA"
  train width repro_tatoeba_width "2+2 layers at widths 64, 128, 256, $seeds, $BUDGET s each"
  train depth repro_tatoeba_depth "width 128 at depths 1, 2, 4, $seeds, $BUDGET s each"
  compress width "${QUICK_COMPRESS[@]}"
  SOURCES=(width depth compress)
fi

# Folders under the checkout are given relative to it, so the report names no machine's paths.
FOLDERS=()
for source in "${SOURCES[@]}"; do
  folder="$TLC_RUNS_ROOT/${PREFIX}_$source"
  FOLDERS+=("${folder#"$PWD/"}")
done
# Advice for the sweeps' own training budget, and for a memory budget where a compressed wide
# model competes with the narrow ones.
stage report "tlc-report --claims --advise train_seconds=$BUDGET bytes=$BYTES" \
  .venv/bin/tlc-report "${FOLDERS[@]}" --out "$REPORT" --claims --advise "train_seconds=$BUDGET" "bytes=$BYTES"

STAGE_ARGS=()
for item in "${STAGE_SECONDS[@]}"; do STAGE_ARGS+=(--stage "$item"); done
.venv/bin/python scripts/reproduce_record.py "$REPORT" --command "$COMMAND" --started "$STARTED" \
  --load-start "$LOAD_START" "${STAGE_ARGS[@]}" --pairs "$TSV" --verdicts "$LOGS/report.log"

echo "[reproduce $MODE] done in $(elapsed): $REPORT/report.md (figures/, README.md and run.json beside it)"
echo "[reproduce $MODE] verdicts:"
grep '^claim [0-9] (' "$LOGS/report.log" | sed 's/^/  /'
