#!/usr/bin/env bash
# Run the test suite on a fresh or existing checkout: sets up .venv if needed, then pytest.
# Extra arguments go to pytest, e.g. ./scripts/test.sh -m "not e2e" or ./scripts/test.sh -k resume
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
exec .venv/bin/python -m pytest "$@"
