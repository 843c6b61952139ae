"""Run the Debian `nats-server` on a free loopback port; stop and restart it for "NATS down"."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from typing import Optional

from twin.prometheus import free_port, stop_process

NATS_BINARY = os.environ.get("TWIN_NATS_BINARY", "nats-server")


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


class NatsServer:
    """A nats-server process bound to 127.0.0.1; keeps its port across restarts."""

    def __init__(self, port: int = 0) -> None:
        self.port = port
        self.proc: Optional[subprocess.Popen] = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout_s: float = 15.0) -> "NatsServer":
        if self.running:
            return self
        if shutil.which(NATS_BINARY) is None:
            raise RuntimeError(f"{NATS_BINARY} binary not found")
        self.port = self.port or free_port()
        self.proc = subprocess.Popen([NATS_BINARY, "-a", "127.0.0.1", "-p", str(self.port)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"nats-server exited with {self.proc.returncode}")
            if _port_open(self.port):
                return self
            time.sleep(0.05)
        self.stop()
        raise TimeoutError(f"nats-server not listening on {self.port} after {timeout_s}s")

    def stop(self, timeout_s: float = 10.0) -> None:
        stop_process(self.proc, timeout_s)
        self.proc = None

    def restart(self) -> "NatsServer":
        self.stop()
        return self.start()

    def __enter__(self) -> "NatsServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
