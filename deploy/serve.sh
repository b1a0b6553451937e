#!/usr/bin/env bash
# `make serve`: a local Prefect server on 127.0.0.1:$UFO_PREFECT_PORT (default 4200) unless
# one already answers there, then a background `python -m deploy.serve` that registers and
# runs the deployments. PIDs and logs go to $UFO_RUN_DIR (default .run/); `make stop`
# (deploy/stop.sh) stops exactly the processes recorded there.
set -euo pipefail
cd "$(dirname "$0")/.."

PORT=${UFO_PREFECT_PORT:-4200}
RUN_DIR=${UFO_RUN_DIR:-.run}
PY=${UFO_PYTHON:-.venv/bin/python}
PREFECT="$(dirname "$PY")/prefect"
TIMEOUT=${UFO_SERVE_TIMEOUT:-180}
export PREFECT_HOME=${PREFECT_HOME:-$PWD/.prefect-home}
export PREFECT_SERVER_ANALYTICS_ENABLED=false
export PREFECT_API_URL="http://127.0.0.1:$PORT/api"
mkdir -p "$RUN_DIR" "$PREFECT_HOME"

# Basic auth (Prefect's own server setting): a random credential, made on first start and
# kept owner-only in $PREFECT_HOME/ufo-auth. The server requires it; the serve process, its
# flow runs and your `prefect` commands send it (PREFECT_API_AUTH_STRING).
AUTH_FILE="$PREFECT_HOME/ufo-auth"
if [[ ! -s "$AUTH_FILE" ]]; then
    (umask 077 && "$PY" -c 'import secrets; print("ufo:" + secrets.token_urlsafe(24))' >"$AUTH_FILE.new" \
        && mv "$AUTH_FILE.new" "$AUTH_FILE")
fi
chmod 600 "$AUTH_FILE"
PREFECT_SERVER_API_AUTH_STRING="$(cat "$AUTH_FILE")"
export PREFECT_SERVER_API_AUTH_STRING
export PREFECT_API_AUTH_STRING="$PREFECT_SERVER_API_AUTH_STRING"

healthy() {
    "$PY" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' \
        "$PREFECT_API_URL/health" >/dev/null 2>&1
}
# Is the process in $RUN_DIR/<name>.pid still ours? (a PID file can outlive its process)
alive() {
    local file="$RUN_DIR/$1.pid" pattern
    [[ $1 == server ]] && pattern='prefect server start' || pattern='deploy[.]serve'
    [[ -f "$file" ]] && tr '\0' ' ' <"/proc/$(cat "$file")/cmdline" 2>/dev/null | grep -qE "$pattern"
}
fail() {
    echo "serve: $1; last lines of $2:" >&2
    tail -n 20 "$2" >&2 || true
    exit 1
}

# 1. The server (state: $PREFECT_HOME/prefect.db).
if healthy && alive server; then
    echo "Prefect server already running at http://127.0.0.1:$PORT (pid $(cat "$RUN_DIR/server.pid"))"
elif healthy; then
    echo "Prefect server already answers at http://127.0.0.1:$PORT (not started by make serve; left alone by make stop)"
else
    if ! alive server; then
        # setsid: its own process group, so `make stop` can stop it and its children.
        setsid "$PREFECT" server start --host 127.0.0.1 --port "$PORT" \
            >"$RUN_DIR/server.log" 2>&1 </dev/null &
        echo $! >"$RUN_DIR/server.pid"
        echo "starting Prefect server on http://127.0.0.1:$PORT (PREFECT_HOME=$PREFECT_HOME, pid $!)"
    fi
    for ((i = 0; i < TIMEOUT; i++)); do
        healthy && break
        alive server || fail "the Prefect server exited" "$RUN_DIR/server.log"
        sleep 1
    done
    healthy || fail "the Prefect server did not answer within ${TIMEOUT}s" "$RUN_DIR/server.log"
fi

# 2. The serve process: registers the deployments and runs triggered flow runs.
if alive serve; then
    echo "deployments already served (pid $(cat "$RUN_DIR/serve.pid"))"
else
    setsid "$PY" -m deploy.serve >"$RUN_DIR/serve.log" 2>&1 </dev/null &
    echo $! >"$RUN_DIR/serve.pid"
    for ((i = 0; i < TIMEOUT; i++)); do
        grep -qE "(is|are) being served" "$RUN_DIR/serve.log" 2>/dev/null && break
        alive serve || fail "the serve process exited" "$RUN_DIR/serve.log"
        sleep 1
    done
    grep -qE "(is|are) being served" "$RUN_DIR/serve.log" || fail "deployments not served within ${TIMEOUT}s" "$RUN_DIR/serve.log"
    echo "serving ufo-pipeline/demo, ufo-pipeline/competition, ufo-pipeline/dask, ufo-search/demo, ufo-propose/demo (pid $(cat "$RUN_DIR/serve.pid"), log $RUN_DIR/serve.log)"
fi
echo "dashboard: http://127.0.0.1:$PORT (password: the line in $AUTH_FILE)"
echo "then: export PREFECT_API_URL=$PREFECT_API_URL PREFECT_API_AUTH_STRING=\"\$(cat $AUTH_FILE)\""
