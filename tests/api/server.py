"""A real server for the end-to-end and page tests (a helper module, not a test module):
`uvicorn api.app:create_app --factory` in a subprocess on a free 127.0.0.1 port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from scenarios import repository
from scenarios.db import make_engine, make_sessionmaker, upgrade
from tests.api.helpers import API
from tests.instances import REPO


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def api_key_for(database_url: str, tenant: str = "acme") -> str:
    """A key for `tenant` in the database, migrated first (for servers started by tests)."""
    engine = make_engine(database_url)
    try:
        upgrade(engine)
        with make_sessionmaker(engine)() as session:
            return repository.create_api_key(session, tenant_name=tenant).key
    finally:
        engine.dispose()


class Server:
    """`uvicorn api.app:create_app --factory` on 127.0.0.1 with TERRITORIA_* settings from the environment
    (and `env`), run in `cwd`, with `uvicorn_args` added to uvicorn's command line."""

    def __init__(
        self,
        database_url: str,
        log: Path,
        max_workers: int = 2,
        cwd: Path = REPO,
        env: dict[str, str] | None = None,
        uvicorn_args: tuple[str, ...] = (),
    ) -> None:
        self.database_url, self.log_path, self.max_workers = database_url, log, max_workers
        self.cwd, self.env, self.uvicorn_args = cwd, env or {}, uvicorn_args
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self, timeout_s: float = 30.0) -> Server:
        env = {
            **os.environ,
            "TERRITORIA_DATABASE_URL": self.database_url,
            "TERRITORIA_MAX_WORKERS": str(self.max_workers),
            **self.env,
        }
        self.log = open(self.log_path, "ab")  # noqa: SIM115 (the server writes to it until stop)
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "api.app:create_app",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--log-level",
                "warning",
                *self.uvicorn_args,
            ],
            cwd=self.cwd,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline:
                assert self.process.poll() is None, f"server exited: {self.log_path.read_text()[-2000:]}"
                try:
                    if httpx.get(f"{self.url}{API}/health", timeout=1).status_code == 200:
                        return self
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
            raise AssertionError(f"server did not start in {timeout_s} s: {self.log_path.read_text()[-2000:]}")
        except BaseException:
            self.stop()
            raise

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.log.close()
