"""Run the Debian `prometheus` binary on a free loopback port with the remote-write receiver."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from typing import List, Optional

PROMETHEUS_BINARY = os.environ.get("TWIN_PROMETHEUS_BINARY", "prometheus")
_CONFIG = """global:
  scrape_interval: 15s
  evaluation_interval: 15s
scrape_configs: []
"""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_http(url: str, timeout_s: float, proc: Optional[subprocess.Popen] = None) -> None:
    """Poll `url` until it answers 200; raise if `proc` exits or time runs out."""
    deadline = time.monotonic() + timeout_s
    last_error = ""
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before {url} was ready")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError) as exc:
            last_error = str(exc)
        time.sleep(0.05)
    raise TimeoutError(f"{url} not ready after {timeout_s}s: {last_error}")


def stop_process(proc: Optional[subprocess.Popen], timeout_s: float = 10.0) -> None:
    """Terminate a child process, killing it if it does not exit within `timeout_s`."""
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class PrometheusServer:
    """A throw-away Prometheus: temp TSDB, no scrape targets, remote-write receiver on."""

    def __init__(self, workdir: Optional[str] = None, port: int = 0,
                 extra_args: Optional[List[str]] = None) -> None:
        self._own_dir = workdir is None
        self.workdir = workdir or tempfile.mkdtemp(prefix="twin-prom-")
        self.port = port
        self._extra_args = list(extra_args or [])
        self.proc: Optional[subprocess.Popen] = None
        self._log = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 30.0) -> "PrometheusServer":
        if shutil.which(PROMETHEUS_BINARY) is None:
            raise RuntimeError(f"{PROMETHEUS_BINARY} binary not found")
        os.makedirs(self.workdir, exist_ok=True)
        config_path = os.path.join(self.workdir, "prometheus.yml")
        with open(config_path, "w") as handle:
            handle.write(_CONFIG)
        self.port = self.port or free_port()
        args = [
            PROMETHEUS_BINARY,
            f"--config.file={config_path}",
            f"--storage.tsdb.path={os.path.join(self.workdir, 'tsdb')}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--web.enable-remote-write-receiver",
            "--storage.tsdb.retention.time=30d",
            "--log.level=warn",
        ] + self._extra_args
        self._log = open(os.path.join(self.workdir, "prometheus.log"), "ab")
        self.proc = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            wait_for_http(self.url + "/-/ready", timeout_s, self.proc)
        except Exception:
            self.stop()
            raise
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        stop_process(self.proc, timeout_s)
        self.proc = None
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._own_dir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def log_tail(self, max_bytes: int = 4000) -> str:
        """The end of Prometheus' log, for error messages."""
        path = os.path.join(self.workdir, "prometheus.log")
        try:
            with open(path, "rb") as handle:
                return handle.read()[-max_bytes:].decode(errors="replace")
        except OSError:
            return ""

    def __enter__(self) -> "PrometheusServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
