#!/usr/bin/env bash
# Installs code-server 4.100.3 (VS Code 1.100, the last line that runs on Node 20) from the
# npm registry alone, for the VS Code extension's UI test, into a cache kept between runs.
# Safe to run again: a finished install is reused until this script or its lock changes.
# Prints the install directory; code-server is node_modules/.bin/code-server inside it.
#
# Nothing may be downloaded from elsewhere, and npm 11 runs a dependency's install script
# only when package.json's allowScripts names it, so:
#   - @vscode/ripgrep's download is served from its cache, seeded with Debian's rg;
#   - code-server's postinstall (a nested `npm install` in lib/vscode and
#     lib/vscode/extensions) finds allowScripts entries added to those package.json files,
#     since it refuses allow-scripts given by flag or environment;
#   - native modules build against Node's headers in /usr/include/node (npm_config_nodedir).
set -euo pipefail

VERSION=4.100.3
ROOT=$(cd "$(dirname "$0")/.." && pwd)
LOCK_DIR="$ROOT/scripts/code-server"
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/buildg-dap
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo

# What the native modules and the UI test need from Debian.
need_apt=()
for pkg in libkrb5-dev libsecret-1-dev libxkbfile-dev pkg-config ripgrep chromium g++ make python3; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need_apt+=("$pkg")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "code-server: installing ${need_apt[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# One install per version of this recipe, so that checkouts of different versions
# sharing the cache never remove an install another one is using.
want=$(cat "$0" "$LOCK_DIR/package.json" "$LOCK_DIR/package-lock.json" | sha256sum | cut -c1-16)
DEST=${BUILDG_DAP_CODE_SERVER_DIR:-$CACHE/code-server-$VERSION-$want}
ready() {
  [ -x "$DEST/node_modules/.bin/code-server" ] && [ "$(cat "$DEST/.installed" 2>/dev/null)" = "$want" ]
}
if ready; then
  echo "$DEST"
  exit 0
fi

echo "code-server: installing $VERSION into $DEST (about a minute)" >&2
# Built aside and moved into place when complete: a run that stops half-way, or one
# running beside this one, never sees a half-made install.
WORK="$DEST.partial-$$"
rm -rf "$WORK"
mkdir -p "$WORK"
cp "$LOCK_DIR/package.json" "$LOCK_DIR/package-lock.json" "$WORK/"
# The nested installs are chatty: their output goes to a log, shown if a step fails.
LOG="$WORK/install.log"
trap 'status=$?; if [ $status -ne 0 ]; then echo "code-server: install failed; the end of $LOG:" >&2; tail -n 40 "$LOG" >&2; rm -rf "$WORK"; fi' EXIT

# 1. The ripgrep archive @vscode/ripgrep would download, made from Debian's rg.
rg_cache="${TMPDIR:-/tmp}/vscode-ripgrep-cache-1.15.11"
rg_archive="$rg_cache/ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz"
if [ ! -s "$rg_archive" ]; then
  mkdir -p "$rg_cache"
  staging=$(mktemp -d)
  cp /usr/bin/rg "$staging/rg"
  tar -C "$staging" -czf "$rg_archive.tmp" rg
  mv "$rg_archive.tmp" "$rg_archive"
  rm -rf "$staging"
fi

# 2. code-server itself, no scripts yet.
(cd "$WORK" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error) >>"$LOG" 2>&1

# 3. Allow the install scripts of VS Code's native modules in its nested installs.
CS="$WORK/node_modules/code-server"
for manifest in "$CS/lib/vscode/package.json" "$CS/lib/vscode/extensions/package.json"; do
  node -e '
    const fs = require("fs");
    const file = process.argv[1];
    const pkg = JSON.parse(fs.readFileSync(file, "utf8"));
    pkg.allowScripts = Object.fromEntries(process.argv.slice(2).map((name) => [name, true]));
    fs.writeFileSync(file, JSON.stringify(pkg, null, 2) + "\n");
  ' "$manifest" @parcel/watcher @vscode/deviceid @vscode/ripgrep @vscode/spdlog kerberos native-watchdog node-pty
done

# 4. code-server's postinstall: VS Code's dependencies and native modules (about a minute).
(
  cd "$CS"
  npm_config_yes=true npm_config_user_agent="npm/11 node/$(node --version)" \
    npm_config_unsafe_perm=true npm_config_nodedir=/usr sh ./postinstall.sh
) >>"$LOG" 2>&1

# 5. argon2, code-server's password hashing (allowed in package.json's allowScripts).
(cd "$WORK" && npm_config_nodedir=/usr npm rebuild argon2 --loglevel=error) >>"$LOG" 2>&1

# (Its own config file goes beside it, not into the user's ~/.config.)
XDG_CONFIG_HOME="$WORK/.config" "$WORK/node_modules/.bin/code-server" --version >>"$LOG" 2>&1
echo "$want" > "$WORK/.installed"
if ready; then
  rm -rf "$WORK" # another run finished the same install first
else
  rm -rf "$DEST"
  mv "$WORK" "$DEST"
fi
# Installs of other versions of this recipe (about 1 GB each) go once a day old.
if [ -z "${BUILDG_DAP_CODE_SERVER_DIR:-}" ]; then
  find "$CACHE" -mindepth 1 -maxdepth 1 -name "code-server-*" ! -name "$(basename "$DEST")" \
    -mmin +1440 -exec rm -rf {} +
fi
echo "$DEST"
