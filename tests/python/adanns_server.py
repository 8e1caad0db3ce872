"""A real adanns-server on 127.0.0.1 (ephemeral port) for the Python client's tests.

$ADANNS_SERVER_BIN names the binary (ctest sets it); the package under test is imported from
$PYTHONPATH (ctest: client/python) or from an installed copy.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from typing import List, Optional


class ServerProcess:
    """Starts adanns-server with a fresh data dir; stop() (or the context manager) ends it."""

    def __init__(self, extra_flags: Optional[List[str]] = None) -> None:
        self.dir = tempfile.mkdtemp(prefix="adanns_py_")
        binary = os.environ.get("ADANNS_SERVER_BIN", "build/server/adanns-server")
        port_file = os.path.join(self.dir, "port")
        self.process = subprocess.Popen(
            [binary, "--listen=127.0.0.1:0", f"--data_dir={self.dir}/data", "--metrics_listen=",
             f"--port_file={port_file}", f"--snapshot_dir={self.dir}/snapshots", "--log_level=warn",
             "--calibration_queries=50", *(extra_flags or [])])
        deadline = time.monotonic() + 30  # bounded: the server opens RocksDB, then binds
        while not os.path.exists(port_file):
            if self.process.poll() is not None:
                raise RuntimeError(f"adanns-server exited with {self.process.returncode}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("adanns-server did not start within 30 s")
            time.sleep(0.02)
        with open(port_file) as f:
            self.port = int(f.read())
        self.address = f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> "ServerProcess":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
