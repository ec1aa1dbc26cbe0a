#!/usr/bin/env bash
# Upload the offline W&B runs that training left under a folder, skipping those already uploaded.
#
# Usage: scripts/sync_wandb.sh [DIR] [-- WANDB_SYNC_ARGS...]
#   DIR defaults to runs/. Every `offline-run-*` folder below it (at any depth, e.g.
#   runs/<run-id>/wandb/offline-run-<time>-<id>) is passed to one `wandb sync`.
#   A folder whose `run-<id>.wandb.synced` marker exists was uploaded before and is skipped.
#   Extra arguments after `--` go to `wandb sync`, e.g. `-- --project tlc --entity me`.
#   Needs WANDB_API_KEY set or a prior `wandb login` (an entry in ~/.netrc).
#   Example: scripts/sync_wandb.sh runs/ -- -p train-large-then-compress
set -euo pipefail

root="runs"
if [[ $# -gt 0 && "$1" != "--" ]]; then
    root="$1"
    shift
fi
if [[ $# -gt 0 && "$1" == "--" ]]; then
    shift
fi

if [[ ! -d "$root" ]]; then
    echo "sync_wandb: no such directory: $root" >&2
    exit 2
fi
if ! command -v wandb >/dev/null 2>&1; then
    echo "sync_wandb: the wandb CLI is not on PATH (activate the project's virtualenv)" >&2
    exit 2
fi

# wandb reads credentials from WANDB_API_KEY first, then from the netrc entry `wandb login` writes.
host="${WANDB_BASE_URL:-https://api.wandb.ai}"
host="${host#*://}"
host="${host%%/*}"
netrc="${NETRC:-$HOME/.netrc}"
if [[ -z "${WANDB_API_KEY:-}" ]] && ! grep -qs "machine[[:space:]]\+$host\b" "$netrc"; then
    echo "sync_wandb: not logged in to W&B: set WANDB_API_KEY or run 'wandb login' (no entry for $host in $netrc)" >&2
    exit 1
fi

pending=()
while IFS= read -r -d '' run; do
    synced=0
    for marker in "$run"/run-*.wandb.synced; do
        [[ -e "$marker" ]] && synced=1
    done
    if [[ $synced -eq 0 ]]; then
        pending+=("$run")
    fi
done < <(find "$root" -type d -name 'offline-run-*' -print0 | sort -z)

if [[ ${#pending[@]} -eq 0 ]]; then
    echo "sync_wandb: nothing to upload under $root"
    exit 0
fi
echo "sync_wandb: uploading ${#pending[@]} offline run(s) from $root"
# With explicit paths `wandb sync` asks no confirmation and skips synced files itself as well.
wandb sync "$@" "${pending[@]}"
