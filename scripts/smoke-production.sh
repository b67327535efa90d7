#!/usr/bin/env bash
# The production shape on this machine's PostgreSQL and Redis: a fresh database migrated,
# localstripe, gunicorn with 2 workers, the job worker with 2 processes on Redis and the periodic
# worker; one purchase through localstripe to an active, allocated license; `flask ledger check`
# clean. The checks are in scripts/smoke_production.py; this wrapper makes sure whatever it
# started is stopped, however it ends.
#
#   DIVIDEND_SMOKE_DATABASE_URL  a PostgreSQL server (default postgresql://postgres@127.0.0.1:5432/test)
#   DIVIDEND_SMOKE_REDIS_URL     a Redis server (default redis://127.0.0.1:6379); an empty db number is used
set -euo pipefail
cd "$(dirname "$0")/.."
SMOKE_WORK=$(mktemp -d -t dividend-smoke.XXXXXX)
export SMOKE_WORK
cleanup() {
  # The driver stops its processes itself; this catches a driver that was killed.
  if [ -f "$SMOKE_WORK/pids" ]; then
    while read -r pid; do kill -TERM -- "-$pid" 2>/dev/null || true; done <"$SMOKE_WORK/pids"
    sleep 1
    while read -r pid; do kill -KILL -- "-$pid" 2>/dev/null || true; done <"$SMOKE_WORK/pids"
  fi
  if [ "${KEEP_SMOKE_LOGS:-}" ]; then echo "logs kept in $SMOKE_WORK"; else rm -rf "$SMOKE_WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
echo "== production smoke test (logs in $SMOKE_WORK) =="
.venv/bin/python scripts/smoke_production.py
