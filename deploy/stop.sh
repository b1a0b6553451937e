#!/usr/bin/env bash
# `make stop`: stop what `make serve` started, using only the PID files in $UFO_RUN_DIR.
# Each process was started with setsid, so its PID is also its process group: the group
# (the process and its children, e.g. running flows) gets SIGTERM, then SIGKILL after 30 s.
set -uo pipefail
cd "$(dirname "$0")/.."
RUN_DIR=${UFO_RUN_DIR:-.run}

stop() {
    local file="$RUN_DIR/$1.pid" pid
    if [[ ! -f "$file" ]]; then
        echo "$1: not started by make serve (no $file)"
        return
    fi
    pid=$(cat "$file")
    # Guard against a reused PID: the process must still be ours (prefect server / deploy.serve).
    if kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qE "$2"; then
        kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid"
        for ((i = 0; i < 60; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.5
        done
        if kill -0 "$pid" 2>/dev/null; then
            echo "$1: still running after 30 s, sending SIGKILL"
            kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid"
        fi
        echo "$1: stopped (pid $pid)"
    else
        echo "$1: pid $pid is not running (stale PID file removed)"
    fi
    rm -f "$file"
}

stop serve 'deploy[.]serve'   # first: it pauses its deployments through the server on the way out
stop server 'prefect server start'
