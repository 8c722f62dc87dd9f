#!/usr/bin/env bash
# The whole test suite: set-up, generated-code freshness, lint, types, unit and
# integration tests (the integration tests start their own registry and buildkitds).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
bash "$ROOT/scripts/setup.sh"
cd "$ROOT"
export PATH="${BUILDG_DAP_GOBIN:-$HOME/go/bin}:$ROOT/.venv/bin:$PATH"
python scripts/gen_protos.py --check
python scripts/gen_dap.py --check
ruff check .
mypy
exec pytest "$@"
