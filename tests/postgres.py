"""A throwaway PostgreSQL server for the tests (and the benchmarks) that need one: started from the PostgreSQL
binaries on the machine (Debian's `postgresql` package: /usr/lib/postgresql/<version>/bin, or initdb and pg_ctl
on PATH), listening on a private Unix socket only, run as an unprivileged user when the tests run as root, and
removed afterwards. Without the binaries, `find_binaries()` is None and the tests that need a server are skipped
with `SKIP_REASON`.

The server has a superuser (for the tests' own administration) and a role `crmctl` that is neither a superuser nor
BYPASSRLS: the role every store test connects as, so row-level security holds it as it would hold an application.
Each test gets a schema of its own (`fresh_url`), which is much cheaper than a database of its own."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from urllib.parse import quote

__all__ = ["SKIP_REASON", "PostgresServer", "find_binaries"]

SKIP_REASON = (
    "no PostgreSQL server binaries (initdb, pg_ctl) on this machine: install Debian's postgresql package "
    "(apt-get install postgresql; .ci/run does) or put them on PATH to run the PostgreSQL store tests"
)
ROLE = "crmctl"
DATABASE = "crmctl"

# argv: the pid to outlive, the server's directory, the command that stops it
_WATCHDOG = """
import os, shutil, subprocess, sys, time
pid, root, stop = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
def alive():
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie is dead
    except FileNotFoundError:
        return False
    except OSError:
        return True
while os.path.isdir(root) and alive():
    time.sleep(0.5)
if os.path.isdir(root):
    try:
        subprocess.run(stop, capture_output=True, timeout=120)
    except Exception:
        pass
    shutil.rmtree(root, ignore_errors=True)
"""


def find_binaries() -> Path | None:
    """The directory holding initdb and pg_ctl (the newest Debian version first), None if there is none."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return Path(initdb).resolve().parent
    return None


class PostgresServer:
    """One server in a temporary directory; `start()`, then `fresh_url()` per test, `stop()` at the end."""

    def __init__(self, binaries: Path) -> None:
        self.binaries = binaries
        self.root = Path(tempfile.mkdtemp(prefix="crmctl-pg-"))
        self.data = self.root / "data"
        self.socket = self.root / "socket"
        self._user = "nobody" if os.geteuid() == 0 else None
        self._watchdog: subprocess.Popen[bytes] | None = None
        self.superuser = self._user or pwd.getpwuid(os.geteuid()).pw_name

    def _command(self, *args: str) -> list[str]:
        command = [str(self.binaries / args[0]), *args[1:]]
        if self._user is not None:
            command = ["runuser", "-u", self._user, "--", *command]
        return command

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self._command(*args), check=True, capture_output=True, text=True, timeout=120)

    def _watch(self) -> None:
        """A detached process that stops the server and removes its directory once this process is gone, even by
        `kill -9` (a test run killed that way left its server running); it ends by itself after a normal `stop()`."""
        stop = self._command("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        self._watchdog = subprocess.Popen(
            [sys.executable, "-c", _WATCHDOG, str(os.getpid()), str(self.root), *stop],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    def start(self) -> PostgresServer:
        """initdb (trust on the private socket only, no TCP) and start; create the role and database `crmctl`."""
        self.socket.mkdir()
        if self._user is not None:
            self.root.chmod(0o755)
            shutil.chown(self.root, self._user)
            shutil.chown(self.socket, self._user)
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-E", "UTF8", "--no-sync", "-U", self.superuser)
        options = (
            f"-k {self.socket} -c listen_addresses='' -c fsync=off -c synchronous_commit=off "
            "-c full_page_writes=off -c max_connections=100 -c shared_buffers=64MB"
        )
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.root / "log"), "-w", "start")
        self._watch()
        self.admin(f"CREATE ROLE {ROLE} LOGIN NOSUPERUSER NOBYPASSRLS", f"CREATE DATABASE {DATABASE} OWNER {ROLE}")
        return self

    def stop(self) -> None:
        """Stop the server at once and remove its directory."""
        with contextlib.suppress(subprocess.CalledProcessError, subprocess.TimeoutExpired):
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)
        if self._watchdog is not None:  # nothing left to watch
            self._watchdog.kill()
            self._watchdog.wait()

    def url(self, *, user: str = ROLE, database: str = DATABASE, schema: str | None = None) -> str:
        """A libpq URL reaching the server on its socket (optionally with `schema` first on the search path)."""
        query = f"host={quote(str(self.socket), safe='')}"
        if schema is not None:
            query += "&options=" + quote(f"-csearch_path={schema}", safe="")
        return f"postgresql://{user}@/{database}?{query}"

    def admin(self, *statements: str, database: str = DATABASE) -> None:
        """Run statements as the superuser (each in its own transaction)."""
        import psycopg

        target = database if database != DATABASE or self._has_database() else "postgres"
        with psycopg.connect(self.url(user=self.superuser, database=target), autocommit=True) as con:
            for statement in statements:
                con.execute(statement)

    def _has_database(self) -> bool:
        import psycopg

        with psycopg.connect(self.url(user=self.superuser, database="postgres"), autocommit=True) as con:
            return bool(con.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE]).fetchall())

    def fresh_url(self) -> str:
        """A URL for the role `crmctl` on a new, empty schema it owns."""
        schema = "t_" + uuid.uuid4().hex[:12]
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as con:
            con.execute(f"CREATE SCHEMA {schema}")
        return self.url(schema=schema)
