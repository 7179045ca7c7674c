#!/usr/bin/env bash
# npm run bench: the benchmarks on Node.js 24 (this machine's, or the one deploy/local/node.sh
# fetches when it is older), as the apps run in production.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
source deploy/local/node.sh
exec node_modules/.bin/tsx bench/run.ts "$@"
