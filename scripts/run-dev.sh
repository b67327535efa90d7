#!/usr/bin/env bash
# `make run`: localstripe, the job worker and the web app, stopped together on Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv
STRIPE_PORT=${DIVIDEND_LOCALSTRIPE_PORT:-8420}
export DIVIDEND_STRIPE_API_BASE=${DIVIDEND_STRIPE_API_BASE:-http://127.0.0.1:$STRIPE_PORT}
export DIVIDEND_STRIPE_WEBHOOK_SECRET=${DIVIDEND_STRIPE_WEBHOOK_SECRET:-whsec_local_fake}
APP_URL=http://127.0.0.1:5000
mkdir -p instance
# The app refuses the development signing key outside debug: make one for this machine, once.
[ -s instance/secret_key ] || "$VENV/bin/python" -c 'import secrets; print(secrets.token_hex(32))' > instance/secret_key
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

"$VENV/bin/localstripe" --port "$STRIPE_PORT" --from-scratch >instance/localstripe.log 2>&1 &
pids+=($!)
# Once localstripe answers, tell it where to send signed events: a card confirmed in the
# browser then comes back as payment_intent.succeeded on /webhooks/stripe, as with Stripe.
"$VENV/bin/python" - "$DIVIDEND_STRIPE_API_BASE" "$APP_URL/webhooks/stripe" "$DIVIDEND_STRIPE_WEBHOOK_SECRET" <<'PY'
import sys, time, urllib.parse, urllib.request
base, url, secret = sys.argv[1:]
data = urllib.parse.urlencode({"url": url, "secret": secret}).encode()
for _ in range(100):
    try:
        urllib.request.urlopen(urllib.request.Request(f"{base}/_config/webhooks/dividend", data=data), timeout=2)
        break
    except OSError:
        time.sleep(0.1)
else:
    sys.exit(f"localstripe did not answer on {base}; see instance/localstripe.log")
PY
"$VENV/bin/flask" --app app worker >instance/worker.log 2>&1 &
pids+=($!)

echo
echo "  Dividend is starting: open $APP_URL"
echo "  (local Stripe on :$STRIPE_PORT, job worker running; logs in instance/; Ctrl-C stops all)"
echo
"$VENV/bin/flask" --app app run --host 127.0.0.1 --port 5000
