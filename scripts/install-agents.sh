#!/usr/bin/env bash
# Installs the agent CLIs (claude, codex) pinned in package-lock.json into node_modules/.bin.
# Idempotent: a second run reinstalls the same locked versions.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ -x node_modules/.bin/claude && -x node_modules/.bin/codex ]] \
    && cmp -s package-lock.json node_modules/.package-lock.json.baton 2>/dev/null; then
    exit 0
fi
npm ci --no-audit --no-fund
cp package-lock.json node_modules/.package-lock.json.baton
node_modules/.bin/claude --version
node_modules/.bin/codex --version
