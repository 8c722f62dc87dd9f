#!/usr/bin/env bash
# The main job: set up (idempotent), then the debug walkthrough on local builders.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
bash "$ROOT/scripts/setup.sh"
export PATH="${BUILDG_DAP_GOBIN:-$HOME/go/bin}:$ROOT/.venv/bin:$PATH"
cd "$ROOT"
exec python scripts/walkthrough.py "$@"
