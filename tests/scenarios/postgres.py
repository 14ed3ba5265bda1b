"""A throwaway PostgreSQL server for tests, and the `database_url` fixture that runs a test on both backends.

`database_url` is parametrized: "sqlite" (a file in tmp_path) and "postgresql" (a fresh,
empty database, dropped after the test). PostgreSQL comes from TERRITORIA_TEST_POSTGRES_URL
when set (a server where that user may CREATE DATABASE); otherwise one cluster per test
session is created with initdb and started with pg_ctl in a temporary folder, on a free
127.0.0.1 port, when the server binaries are installed. PostgreSQL refuses to run as root:
as root the cluster runs as user `nobody` (through runuser or su). When none of this is
possible the PostgreSQL cases are skipped, saying why. Every step has a timeout: a server
that does not come up is a skip after 60 s, never a hang.

The cluster runs with TimeZone=America/New_York, so tests see that times come back in UTC
whatever the server's time zone.
"""

from __future__ import annotations

import atexit
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest

ENV_URL = "TERRITORIA_TEST_POSTGRES_URL"
SERVER_TIMEZONE = "America/New_York"
_TIMEOUT_S = 60
_UNPRIVILEGED = "nobody"


def _binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    return candidates[0] if candidates else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """initdb + pg_ctl start in a temporary folder; `stop()` removes it all."""

    def __init__(self) -> None:
        self.initdb, self.pg_ctl = _binary("initdb"), _binary("pg_ctl")
        if not (self.initdb and self.pg_ctl):
            raise _Unavailable(
                f"PostgreSQL server binaries (initdb, pg_ctl) not found; set {ENV_URL} to test against a server"
            )
        self.as_user: list[str] = []
        self.owner: tuple[int, int] | None = None
        if os.geteuid() == 0:  # postgres will not run as root
            try:
                entry = pwd.getpwnam(_UNPRIVILEGED)
            except KeyError:
                raise _Unavailable(
                    f"running as root and there is no user '{_UNPRIVILEGED}' to run PostgreSQL as"
                ) from None
            if shutil.which("runuser"):
                self.as_user = ["runuser", "-u", _UNPRIVILEGED, "--"]
            elif shutil.which("su"):
                self.as_user = ["su", _UNPRIVILEGED, "-s", "/bin/sh", "-c", '"$0" "$@"']
            else:
                raise _Unavailable("running as root and neither runuser nor su is there to run PostgreSQL unprivileged")
            self.owner = (entry.pw_uid, entry.pw_gid)
        self.root = Path(tempfile.mkdtemp(prefix="territoria-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = 0
        self.started = False

    def _run(self, *args: str, timeout: float = _TIMEOUT_S) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*self.as_user, *args], capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
        )

    def start(self) -> str:
        if self.owner is not None:
            os.chown(self.root, *self.owner)
        init = self._run(
            self.initdb, "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync", "--locale=C"
        )
        if init.returncode != 0:
            raise _Unavailable(f"initdb failed: {(init.stderr or init.stdout)[-800:]}")
        for _attempt in range(3):  # the free port may be taken between finding and binding it
            self.port = _free_port()
            with open(self.data / "postgresql.conf", "a") as conf:
                conf.write(
                    f"\nport = {self.port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = ''\n"
                    "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\nmax_connections = 300\n"
                    f"shared_buffers = 32MB\ntimezone = '{SERVER_TIMEZONE}'\n"
                )
            try:
                started = self._run(self.pg_ctl, "-D", str(self.data), "-l", str(self.log), "-w", "-t", "45", "start")
            except subprocess.TimeoutExpired:
                self.stop()
                raise _Unavailable("pg_ctl start did not return in time") from None
            if started.returncode == 0:
                self.started = True
                return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"
        log = self.log.read_text()[-800:] if self.log.exists() else started.stderr[-800:]
        self.stop()
        raise _Unavailable(f"could not start a throwaway PostgreSQL cluster: {log}")

    def stop(self) -> None:
        if self.started:
            try:
                self._run(self.pg_ctl, "-D", str(self.data), "-m", "immediate", "-t", "20", "stop", timeout=30)
            except subprocess.TimeoutExpired:
                pass
            self.started = False
        shutil.rmtree(self.root, ignore_errors=True)


class _Unavailable(Exception):
    """PostgreSQL cannot be had here; the message says why (the reason the tests are skipped)."""


_server: dict[str, object] = {}  # "url" or "skip": one cluster (or one reason) per test session


def server_url() -> str:
    """The admin URL of the session's PostgreSQL server; skips the test when there is none."""
    if "url" not in _server and "skip" not in _server:
        try:
            import psycopg  # noqa: F401
        except ImportError:
            _server["skip"] = "psycopg is not installed (pip install -e '.[postgres]')"
        else:
            if os.environ.get(ENV_URL):
                url = os.environ[ENV_URL]
                _server["url"] = (
                    url.replace("postgresql://", "postgresql+psycopg://", 1) if url.startswith("postgresql://") else url
                )
            else:
                try:
                    cluster = Cluster()
                    _server["url"] = cluster.start()
                    atexit.register(cluster.stop)
                except _Unavailable as e:
                    _server["skip"] = str(e)
    if "skip" in _server:
        pytest.skip(f"PostgreSQL: {_server['skip']}")
    return str(_server["url"])


def _admin(url: str):
    import psycopg
    from sqlalchemy.engine import make_url

    u = make_url(url)
    return psycopg.connect(
        host=u.host,
        port=u.port,
        user=u.username,
        password=u.password,
        dbname=u.database or "postgres",
        autocommit=True,
        connect_timeout=10,
    )


def fresh_database() -> tuple[str, callable]:
    """A new empty database on the session's server: (its URL, a function that drops it)."""
    from sqlalchemy.engine import make_url

    admin_url = server_url()
    name = f"territoria_test_{uuid.uuid4().hex[:12]}"
    with _admin(admin_url) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with _admin(admin_url) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return make_url(admin_url).set(database=name).render_as_string(hide_password=False), drop


@pytest.fixture
def postgres_url():
    """A fresh PostgreSQL database for one test (skipped when there is no PostgreSQL)."""
    url, drop = fresh_database()
    yield url
    drop()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """The same test on a SQLite file and on a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'api.db'}"
        return
    url, drop = fresh_database()
    yield url
    drop()
