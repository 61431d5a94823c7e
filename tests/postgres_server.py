"""A throwaway PostgreSQL server for tests: its own data directory, port and socket dir.

PostgreSQL refuses to run as root, so as root every server command runs as the `postgres`
user (`runuser`) in a temp dir that user owns; as anyone else the commands run directly.
Missing binaries are an error, never a reason to skip: a skipped test proves nothing.
"""

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import psycopg

SERVER_USER = "postgres"


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server can be started here; the message says why and what to install."""


def find_bindir() -> Path:
    """The folder holding `initdb` and `pg_ctl`: `pg_config --bindir`, then Debian's layout."""
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True)
        if out.returncode == 0 and out.stdout.strip():
            candidates.append(Path(out.stdout.strip()))
    versions = glob.glob("/usr/lib/postgresql/*/bin")
    candidates += [Path(p) for p in sorted(versions, key=_major, reverse=True)]
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(Path(initdb).resolve().parent)
    for bindir in candidates:
        if all(os.access(bindir / tool, os.X_OK) for tool in ("initdb", "pg_ctl")):
            return bindir
    looked = ", ".join(str(c) for c in candidates) or "nowhere (no pg_config, no initdb)"
    raise PostgresUnavailable(
        "PostgreSQL server binaries (initdb, pg_ctl) not found; looked in: "
        f"{looked}. Install the server (Debian: apt-get install -y postgresql) "
        "or run .ci/run, which does."
    )


def _major(bindir: str) -> int:
    version = Path(bindir).parent.name
    return int(version) if version.isdigit() else 0


def _reachable_tmp() -> str:
    """The temp dir, if every folder above it lets other users through (the server runs as
    `postgres`); otherwise /tmp."""
    tmp = Path(tempfile.gettempdir()).resolve()
    if all(folder.stat().st_mode & 0o001 for folder in [tmp, *tmp.parents]):
        return str(tmp)
    return "/tmp"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    """One server on 127.0.0.1: `start()`, `create_database()`, `url(db)`, `stop()`."""

    def __init__(self) -> None:
        self.bindir = find_bindir()
        self.as_root = os.geteuid() == 0
        self.port = 0
        self.dir: Path | None = None
        self._options = ""

    def start(self) -> "PostgresServer":
        self.dir = Path(tempfile.mkdtemp(prefix="ffwd-pg-", dir=_reachable_tmp()))
        if self.as_root:
            try:
                shutil.chown(self.dir, user=SERVER_USER, group=None)
            except LookupError:
                self.remove()
                raise PostgresUnavailable(
                    f"running as root but there is no {SERVER_USER!r} user to run PostgreSQL "
                    "(Debian's postgresql package creates it)"
                ) from None
        init = ["-D", self.data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-locale"]
        self._run("initdb", *init, "--no-sync")
        log = str(self.dir / "log")
        for _attempt in range(3):  # another process may take the free port first
            self.port = free_port()
            options = (
                f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
            )
            start = ["-D", self.data, "-o", options, "-l", log, "-w", "-t", "30", "start"]
            started = self._run("pg_ctl", *start, check=False)
            if started.returncode == 0:
                self._options = options
                return self
        tail = Path(log).read_text(errors="replace")[-2000:]
        self.remove()
        raise PostgresUnavailable(f"pg_ctl start failed:\n{started.stderr}\n{tail}")

    @property
    def data(self) -> str:
        assert self.dir is not None, "start() first"
        return str(self.dir / "data")

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def create_database(self, name: str | None = None) -> str:
        """A new empty database; returns its URL."""
        name = name or f"t_{uuid.uuid4().hex}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def restart(self, down_s: float = 0.0) -> None:
        """Restart the server on the same port and data: `pg_ctl restart -m fast` (every
        connection is cut), or with `down_s`, stop, stay down that long, then start."""
        log = str(Path(self.data).parent / "log")
        start = ["-D", self.data, "-o", self._options, "-l", log, "-w", "-t", "30"]
        if not down_s:
            self._run("pg_ctl", *start, "-m", "fast", "restart")
            return
        self._run("pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop")
        time.sleep(down_s)
        self._run("pg_ctl", *start, "start")

    def stop(self) -> None:
        if self.dir is not None and (self.dir / "data" / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop", check=False)
        self.remove()

    def remove(self) -> None:
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def _run(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        command = [str(self.bindir / tool), *args]
        if self.as_root:
            command = ["runuser", "-u", SERVER_USER, "--", *command]
        done = subprocess.run(
            command, capture_output=True, text=True, stdin=subprocess.DEVNULL, cwd=self.dir
        )
        if check and done.returncode != 0:
            self.remove()
            raise PostgresUnavailable(
                f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
            )
        return done
