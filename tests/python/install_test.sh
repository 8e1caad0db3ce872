#!/bin/bash
# The Python package installs offline into a fresh venv (Debian's python3-venv and pip, with
# --system-site-packages for grpcio, protobuf and numpy), and the installed copy (not the source
# tree) runs the example against a real server on loopback.
# Usage: install_test.sh SOURCE_DIR SERVER_BINARY
set -euo pipefail
source_dir=$1
server=$2
work=$(mktemp -d /tmp/adanns_pip_XXXXXX)
server_pid=
cleanup() {
  [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

# pip builds a local directory in place; a copy keeps build/ and *.egg-info out of the source.
cp -r "$source_dir/client/python" "$work/package"
/usr/bin/python3 -m venv --system-site-packages "$work/venv"
"$work/venv/bin/pip" install --quiet --no-build-isolation --no-index "$work/package"
cp "$source_dir/client/python/adanns_example.py" "$work/example.py"
rm -rf "$work/package"  # nothing left to import but the installed copy

cd "$work"
"$work/venv/bin/python" - <<'PY'
import adanns, adanns.aio, adanns.v1.adanns_pb2, os, sys
where = os.path.realpath(adanns.__file__)
assert where.startswith(os.path.realpath(sys.prefix)), f"imported from {where}, not the venv"
assert os.path.exists(os.path.join(os.path.dirname(where), "py.typed")), "py.typed not installed"
print("installed:", where, adanns.__version__)
PY

"$server" --listen=127.0.0.1:0 --data_dir="$work/data" --metrics_listen= \
  --port_file="$work/port" --snapshot_dir= --log_level=warn --calibration_queries=50 &
server_pid=$!
for _ in $(seq 300); do [[ -s $work/port ]] && break; sleep 0.1; done  # bounded: 30 s
[[ -s $work/port ]] || { echo "adanns-server did not start" >&2; exit 1; }
"$work/venv/bin/python" "$work/example.py" --server "127.0.0.1:$(cat "$work/port")"
