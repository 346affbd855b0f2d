#!/usr/bin/env bash
# Moved to src/run-local.sh (where a newcomer looks for how to run the service); kept for old notes.
exec "$(dirname "$0")/../../src/run-local.sh" "$@"
