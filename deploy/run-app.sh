#!/bin/sh
# Runs one app: the first argument, else $APP; any further arguments go to node (--cpu-prof, say).
# Every launch comes through here (the image's entrypoint, `npm start`, the tests and the
# benchmarks), so an app runs with the same Node and allocator settings wherever it runs.
# `run-app.sh --settings` prints those settings instead (the allocator's variable, then the node
# flags), for a process that must run as the apps do: the benchmarks' floors.
set -eu
app="${1:-${APP:-}}"
[ "$#" -gt 0 ] && shift
case "$app" in
  triggers-api|matcher|webhook-dispatcher|lead-mover|log-sink|--settings) ;;
  *) echo "run-app: set APP (or pass an argument) to one of triggers-api, matcher, webhook-dispatcher, lead-mover, log-sink; got '${app}'" >&2; exit 64 ;;
esac
root="$(cd "$(dirname "$0")/.." && pwd)"

# glibc hands every allocation of 128 KiB or more (Kafka fetch responses, produce requests) its
# own mapping, returned to the system when freed. Left to itself it raises that threshold after
# the first such free, and the big Buffers then fragment its heap for good (40 MB of the
# matcher's resident memory).
# MALLOC_MMAP_THRESHOLD_=glibc leaves glibc its own dynamic threshold (to measure the difference).
if [ "${MALLOC_MMAP_THRESHOLD_:-}" = glibc ]; then
  unset MALLOC_MMAP_THRESHOLD_
else
  export MALLOC_MMAP_THRESHOLD_="${MALLOC_MMAP_THRESHOLD_:-131072}"
fi

# V8's young generation: semi-spaces of 8 MB instead of 16 keep less short-lived garbage
# resident. The old generation's limit of 1.5 GB (thirty times the matcher's live heap with
# 10,000 triggers) also caps how far V8 lets it grow between full collections: about 1.6 times
# what is live instead of up to 4 times on a large machine. Measured again on Node 24, the two
# take a third to two fifths off the matcher's and the dispatcher's resident memory, for no
# measurable CPU in the matcher and about a fifth more in the dispatcher. NODE_HEAP_FLAGS replaces
# both (RUNBOOK: Memory).
heap="--max-semi-space-size=8 --max-old-space-size=1536"

if [ "$app" = "--settings" ]; then
  printf 'MALLOC_MMAP_THRESHOLD_=%s\n%s\n' "${MALLOC_MMAP_THRESHOLD_-}" "${NODE_HEAP_FLAGS-$heap}"
  exit 0
fi
exec "${NODE:-node}" ${NODE_HEAP_FLAGS-$heap} "$@" "$root/dist/apps/$app/src/main.js"
