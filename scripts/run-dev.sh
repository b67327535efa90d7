#!/usr/bin/env bash
# `make run`: localstripe, the job worker and the web app, stopped together on Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv
STRIPE_PORT=${DIVIDEND_LOCALSTRIPE_PORT:-8420}
export DIVIDEND_STRIPE_API_BASE=${DIVIDEND_STRIPE_API_BASE:-http://127.0.0.1:$STRIPE_PORT}
mkdir -p instance
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

"$VENV/bin/localstripe" --port "$STRIPE_PORT" --from-scratch >instance/localstripe.log 2>&1 &
pids+=($!)
"$VENV/bin/flask" --app app worker >instance/worker.log 2>&1 &
pids+=($!)

echo
echo "  Dividend is starting: open http://127.0.0.1:5000"
echo "  (local Stripe on :$STRIPE_PORT, job worker running; logs in instance/; Ctrl-C stops all)"
echo
"$VENV/bin/flask" --app app run --host 127.0.0.1 --port 5000
