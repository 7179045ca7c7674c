#!/usr/bin/env bash
# npm test: installs what is missing, builds the apps (e2e tests run the compiled processes),
# then runs the unit and integration suites against the real servers (test profile ports).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
# Node.js 24: this machine's, or the one deploy/local/node.sh fetches when it is older.
source deploy/local/node.sh
bash deploy/local/ensure-node-modules.sh
npm run -s build
# JEST_PROJECTS picks the suites: unit and integration for npm test, faults for npm run test:faults.
# --forceExit: a test that times out must not leave the run hanging on open Kafka clients.
read -r -a projects <<< "${JEST_PROJECTS:-unit integration}"
# The fault suite's files restart its broker: one file at a time, so none restarts it under another.
workers=2
[[ "${JEST_PROJECTS:-}" == faults || "${JEST_PROJECTS:-}" == scale ]] && workers=1
exec node_modules/.bin/jest --selectProjects "${projects[@]}" --maxWorkers=$workers --forceExit "$@"
