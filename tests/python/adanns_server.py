"""A real adanns-server on 127.0.0.1 (ephemeral port) for the Python client's tests.

$ADANNS_SERVER_BIN names the binary (ctest sets it); the package under test is imported from
$PYTHONPATH (ctest: client/python) or from an installed copy.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
import time
from typing import List, Optional


class ServerProcess:
    """Starts adanns-server with a fresh data dir; stop() (or the context manager) ends it."""

    def __init__(self, extra_flags: Optional[List[str]] = None) -> None:
        self.dir = tempfile.mkdtemp(prefix="adanns_py_")
        self.extra_flags = list(extra_flags or [])
        self._launch("127.0.0.1:0")

    def _launch(self, listen: str) -> None:
        binary = os.environ.get("ADANNS_SERVER_BIN", "build/server/adanns-server")
        port_file = os.path.join(self.dir, "port")
        if os.path.exists(port_file):
            os.remove(port_file)
        self.process = subprocess.Popen(
            [binary, f"--listen={listen}", f"--data_dir={self.dir}/data", "--metrics_listen=",
             f"--port_file={port_file}", f"--snapshot_dir={self.dir}/snapshots", "--log_level=warn",
             "--calibration_queries=50", *self.extra_flags])
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

    def _terminate(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def kill(self) -> None:
        """SIGKILL; the data dir stays until stop()."""
        self.process.kill()
        self.process.wait()

    def restart_later(self, down_for: float) -> threading.Thread:
        """Stops the server now and starts it again on the same port and data dir after
        `down_for` seconds, on a thread (join it; `failure` is set when the restart failed)."""
        self._terminate()
        self.failure: Optional[BaseException] = None

        def restart() -> None:
            time.sleep(down_for)
            try:
                self._launch(f"127.0.0.1:{self.port}")
            except BaseException as error:  # reported by the test that joins
                self.failure = error

        thread = threading.Thread(target=restart)
        thread.start()
        return thread

    def stop(self) -> None:
        self._terminate()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> "ServerProcess":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
