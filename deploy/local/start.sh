#!/usr/bin/env bash
# npm start: installs what is missing, builds, and runs the whole system (scripts/local.ts).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
# Node.js 24: this machine's, or the one deploy/local/node.sh fetches when it is older.
source deploy/local/node.sh
bash deploy/local/ensure-node-modules.sh
npm run -s build
exec node_modules/.bin/tsx scripts/local.ts
