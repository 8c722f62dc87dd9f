#!/usr/bin/env bash
# The whole test suite: set-up, generated-code freshness, lint, types, unit and
# integration tests (the integration tests start their own registry and buildkitds), and
# the VS Code extension's checks.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
bash "$ROOT/scripts/setup.sh"
cd "$ROOT"
export PATH="${BUILDG_DAP_GOBIN:-$HOME/go/bin}:$ROOT/.venv/bin:$PATH"
python scripts/gen_protos.py --check
python scripts/gen_dap.py --check
ruff check .
mypy
# The VS Code extension: types, lint and unit tests (its end-to-end and UI tests, against
# the real daemon, run under pytest in tests/dap/test_vscode_extension.py).
(
  cd vscode-extension
  npx --no-install tsc -p . --noEmit
  npx --no-install eslint .
  npm run --silent test:unit
)
exec pytest "$@"
