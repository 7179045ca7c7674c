#!/bin/sh
# Runs one app of the image: the first argument, else $APP.
set -eu
app="${1:-${APP:-}}"
case "$app" in
  triggers-api|matcher|webhook-dispatcher|lead-mover|log-sink) ;;
  *) echo "run-app: set APP (or pass an argument) to one of triggers-api, matcher, webhook-dispatcher, lead-mover, log-sink; got '${app}'" >&2; exit 64 ;;
esac
exec node "/app/dist/apps/${app}/src/main.js"
