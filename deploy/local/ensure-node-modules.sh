#!/usr/bin/env bash
# Installs npm packages when node_modules is missing or older than package-lock.json or a patch
# of patches/ (npm ci applies them afresh).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
if [ ! -d node_modules ] || [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ] ||
  [ -n "$(find patches -name '*.patch' -newer node_modules/.package-lock.json -print -quit 2>/dev/null)" ]; then
  start=$SECONDS
  npm ci --no-audit --no-fund
  echo "[install] npm packages took $((SECONDS - start))s" >&2
fi
