#!/usr/bin/env bash
# Installs everything buildg-dap needs on a Debian machine; safe to run again.
#   Debian: runc, docker-registry, busybox-static, apache2-utils (htpasswd for tests),
#           docker.io and openssh-server (remote-builder tests start private instances),
#           neovim, emacs-nox, elpa-lsp-mode, elpa-dap-mode and elpa-eglot (the language
#           server's editor checks, tests/lsp/test_editors.py)
#   Go module proxy: buildkitd + buildctl v0.32.2
#   .venv: the project with its dev dependencies
#   npm: the JS test dependencies in tests/dap/js (DebugClient), and the VS Code
#        extension's (vscode-extension: TypeScript, ESLint, vsce, playwright-core)
#   code-server and Debian's chromium for the extension's UI test (scripts/code-server.sh)
set -euo pipefail

BUILDKIT_VERSION=v0.32.2
ROOT=$(cd "$(dirname "$0")/.." && pwd)
GOBIN_DIR=${BUILDG_DAP_GOBIN:-$HOME/go/bin}
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo

need_apt=()
for pkg in runc docker-registry busybox-static apache2-utils docker.io openssh-server \
           neovim emacs-nox elpa-lsp-mode elpa-dap-mode elpa-eglot; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need_apt+=("$pkg")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]}"
  $SUDO apt-get update -qq
  # The packages' scripts must not start dockerd or sshd (tests start private ones): a
  # policy-rc.d that refuses every start, for the install only, unless one is there.
  policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    policy=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
    $SUDO chmod 755 "$policy"
  fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
  [ -z "$policy" ] || $SUDO rm -f "$policy"
fi

have_version() {
  [ -x "$GOBIN_DIR/$1" ] && "$GOBIN_DIR/$1" --version 2>/dev/null | grep -q " $BUILDKIT_VERSION "
}
if ! have_version buildkitd || ! have_version buildctl; then
  echo "setup: installing buildkitd and buildctl $BUILDKIT_VERSION"
  # BuildKit's go.mod has exclude directives, which `go install pkg@version` refuses;
  # a throwaway module that repeats them installs the same versions from the proxy.
  mod=$(mktemp -d)
  trap 'rm -rf "$mod"' EXIT
  cat > "$mod/go.mod" <<GOMOD
module buildg-dap-tools

go 1.24

exclude (
	github.com/davecgh/go-spew v1.1.2-0.20180830191138-d8f796af33cc
	github.com/pmezard/go-difflib v1.0.1-0.20181226105442-5d4384ee4fb2
)
GOMOD
  (
    cd "$mod"
    go get "github.com/moby/buildkit/cmd/buildkitd@$BUILDKIT_VERSION" \
           "github.com/moby/buildkit/cmd/buildctl@$BUILDKIT_VERSION" >/dev/null 2>&1 ||
      go get "github.com/moby/buildkit/cmd/buildkitd@$BUILDKIT_VERSION" \
             "github.com/moby/buildkit/cmd/buildctl@$BUILDKIT_VERSION"
    GOBIN="$GOBIN_DIR" go install \
      -ldflags "-X github.com/moby/buildkit/version.Version=$BUILDKIT_VERSION" \
      github.com/moby/buildkit/cmd/buildkitd github.com/moby/buildkit/cmd/buildctl
  )
fi

if [ ! -x "$ROOT/.venv/bin/python" ]; then
  python3 -m venv "$ROOT/.venv"
fi
if ! "$ROOT/.venv/bin/python" -c "import buildg_dap, grpc_tools, pytest, mypy" 2>/dev/null ||
   [ "$ROOT/pyproject.toml" -nt "$ROOT/.venv/.installed" ]; then
  echo "setup: installing the Python environment"
  "$ROOT/.venv/bin/pip" install -q -U pip
  "$ROOT/.venv/bin/pip" install -q -e "$ROOT[dev]"
  touch "$ROOT/.venv/.installed"
fi
# The DAP tests drive the adapter with VS Code's DebugClient: npm packages, pinned by
# the committed lock file.
JS_TESTS="$ROOT/tests/dap/js"
if [ ! -f "$JS_TESTS/node_modules/.package-lock.json" ] ||
   [ "$JS_TESTS/package-lock.json" -nt "$JS_TESTS/node_modules/.package-lock.json" ]; then
  echo "setup: installing the JS test dependencies"
  (cd "$JS_TESTS" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
fi
# The VS Code extension's build and test tools, pinned by its lock file.
EXT="$ROOT/vscode-extension"
if [ ! -f "$EXT/node_modules/.package-lock.json" ] ||
   [ "$EXT/package-lock.json" -nt "$EXT/node_modules/.package-lock.json" ]; then
  echo "setup: installing the VS Code extension's npm packages"
  (cd "$EXT" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
fi
# A real VS Code for the extension's UI test: cached outside the checkout.
bash "$ROOT/scripts/code-server.sh" >/dev/null
echo "setup: ready (buildkitd $("$GOBIN_DIR/buildkitd" --version | awk '{print $3}'))"
