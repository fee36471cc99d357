"""Small helpers shared by the service tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Keys:
    coordinator: dict[str, str]
    planner: dict[str, str]
    admin: dict[str, str]
    corporation: dict[str, str]  # corp-a
    corp_b: dict[str, str]

    def of(self, role: str) -> dict[str, str]:
        return getattr(self, role)


def wait_for_run(client, run_id: int, headers, timeout: float = 60.0) -> dict:
    """Poll the run's status (the state the API reports) until it is final, or fail."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = client.get(f"/runs/{run_id}", headers=headers).json()
        if run["status"] not in ("queued", "running"):
            return run
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} did not finish within {timeout} s: {run}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """The real service, started as `python -m service serve` on 127.0.0.1 and a free port."""

    def __init__(self, database_url: str, **env: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "PYTHONPATH": str(REPO),
            **env,
        }
        self.process: subprocess.Popen | None = None
        self.output = b""

    def start(self, timeout: float = 60.0) -> Server:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "service", "serve"],
            cwd=REPO,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: a kill reaches its workers too
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited: {self.process.stdout.read().decode()}")
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        self.stop()
        raise AssertionError("server did not answer /health in time")

    def kill(self) -> None:
        """SIGKILL to the whole process group: no shutdown code runs, as in a crash."""
        import signal

        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)
        self.output = self.process.stdout.read()

    def stop(self) -> None:
        import signal

        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        if self.process and self.process.stdout:
            self.output = self.process.stdout.read()


class Worker:
    """`python -m service worker`, in its own process group (a kill reaches its children)."""

    def __init__(self, database_url: str, **env: str):
        self.env = {**os.environ, "DATABASE_URL": database_url, "PYTHONPATH": str(REPO), **env}
        self.process: subprocess.Popen | None = None

    def start(self) -> Worker:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "service", "worker"],
            cwd=REPO,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    @property
    def pid(self) -> int:
        return self.process.pid

    def kill(self) -> None:
        import signal

        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> str:
        import signal

        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        return self.process.stdout.read().decode(errors="replace")
