# Sourced by scripts/client-python and scripts/client-typescript.
# start_collabd BINARY starts the server on a free 127.0.0.1 port with a
# throw-away SQLite DB and mail dir, waits until it answers, exports
# COLLABD_URL and COLLABD_MAIL_DIR (and COLLABD_BIN and COLLABD_DB, for a
# flow that runs the binary against the server's database), and traps EXIT
# to stop it again.

stop_collabd() {
    local rc=$?
    if [ -n "${collabd_pid:-}" ]; then
        kill "$collabd_pid" 2>/dev/null || true
        wait "$collabd_pid" 2>/dev/null || true
    fi
    # On failure the server's side of the story is usually the useful part.
    if [ "$rc" -ne 0 ] && [ -f "${collabd_tmp:-}/server.log" ]; then
        echo "--- server log (last 40 lines) ---" >&2
        tail -n 40 "$collabd_tmp/server.log" >&2
    fi
    [ -n "${collabd_tmp:-}" ] && rm -rf "$collabd_tmp"
    exit "$rc"
}

start_collabd() {
    local bin=$1 port
    if [ ! -x "$bin" ]; then
        echo "no server binary at $bin (build it, or pass its path as the first argument)" >&2
        exit 1
    fi
    collabd_tmp=$(mktemp -d)
    trap stop_collabd EXIT
    mkdir -p "$collabd_tmp/mail"
    # Ask the kernel for a free port (tiny race until the server binds it: acceptable here).
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    # No SMTP: every email lands as an .eml file in the mail dir, where the
    # Python flow reads the invitation token. Poll the outbox often so the
    # invite arrives without waiting a whole second.
    env -u COLLABD_SMTP_URL -u COLLABD_PUBLIC_URL \
        COLLABD_LISTEN="127.0.0.1:$port" \
        COLLABD_DATABASE_URL="$collabd_tmp/db.sqlite3" \
        COLLABD_MAIL_DIR="$collabd_tmp/mail" \
        COLLABD_MAIL_POLL_MS=100 \
        "$bin" serve >"$collabd_tmp/server.log" 2>&1 &
    collabd_pid=$!
    export COLLABD_URL="http://127.0.0.1:$port" COLLABD_MAIL_DIR="$collabd_tmp/mail"
    # For flows that make a service key as the operator would.
    export COLLABD_BIN="$bin" COLLABD_DB="$collabd_tmp/db.sqlite3"
    for _ in $(seq 1 300); do
        if ! kill -0 "$collabd_pid" 2>/dev/null; then
            echo "collabd exited during start-up" >&2
            exit 1
        fi
        curl -fsS -o /dev/null "$COLLABD_URL/readyz" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "collabd did not become ready at $COLLABD_URL within 30 s" >&2
    exit 1
}
