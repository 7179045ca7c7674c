#!/usr/bin/env bash
# npm start: installs what is missing, builds, and runs the whole system (scripts/local.ts).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
bash deploy/local/ensure-node-modules.sh
npm run -s build
exec node_modules/.bin/tsx scripts/local.ts
