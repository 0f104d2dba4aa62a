#!/bin/sh
# `make run`: the platform with its demo data, and beside it a witness of its own (audit/witness.py), so
# that receipts carry their log proofs and the audit page shows cosigned checkpoints as in a real centre.
# A real centre's witness is run by the supervising authority on its own host (README, "The witness");
# set SUNBID_WITNESS_URL and SUNBID_WITNESS_KEY to use one and no local witness is started.
set -eu
VENV=${VENV:-.venv}
FLASK="$VENV/bin/flask --app wsgi"
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-5000}
WITNESS_PORT=${WITNESS_PORT:-7380}
INSTANCE=${SUNBID_INSTANCE_PATH:-instance}

if [ -z "${SUNBID_WITNESS_URL:-}" ]; then
  state="$INSTANCE/witness"
  if [ ! -f "$state/witness.key" ]; then
    log_key=$($FLASK audit key)
    "$VENV/bin/sunbid-witness" init "$state" --name demo-witness.sunbid.local >/dev/null
    "$VENV/bin/sunbid-witness" add-log "$state" --origin "${log_key%%+*}" --key "$log_key" >/dev/null
  fi
  "$VENV/bin/sunbid-witness" serve "$state" --listen "127.0.0.1:$WITNESS_PORT" &
  witness=$!
  trap 'kill $witness 2>/dev/null' EXIT INT TERM
  SUNBID_WITNESS_URL="http://127.0.0.1:$WITNESS_PORT"
  SUNBID_WITNESS_KEY=$("$VENV/bin/sunbid-witness" key "$state")
  export SUNBID_WITNESS_URL SUNBID_WITNESS_KEY
  echo "SunBid: a demo witness cosigns the log at $SUNBID_WITNESS_URL"
fi
echo "SunBid: http://$HOST:$PORT  (demo accounts: see README.md)"
SUNBID_SANDBOX=${SUNBID_SANDBOX-1} $FLASK run --host "$HOST" --port "$PORT"
