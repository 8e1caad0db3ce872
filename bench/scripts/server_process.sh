# Sourced by the benchmark scripts: `server_pid` holds the server they started (empty: none), and
# stop_server ends it; the caller's exit stops it too.
server_pid=""

stop_server() {
  if [[ -n "$server_pid" ]]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
  fi
}
trap stop_server EXIT
