"""Store URLs (`memory://`, `sqlite:///path`, `postgresql://...`) as eventsourcing settings."""

from pathlib import Path
from urllib.parse import unquote, urlsplit

from ffwd.domain.errors import InvalidSpec

DEFAULT_STORE = "sqlite:///.ffwd/store.db"
# The library's recorders, extended to keep the summaries (ADR 0020).
MEMORY_FACTORY = "ffwd.adapters.storage.memory_recorder:MemoryFactory"
PG_RECORDER = "ffwd.adapters.storage.postgres_recorder:PostgresRecorder"


DEFAULT_LOCK_TIMEOUT_S = 30.0


def persistence_env(url: str, lock_timeout_s: float = DEFAULT_LOCK_TIMEOUT_S) -> dict[str, str]:
    """The eventsourcing environment for a store URL; InvalidSpec for one we cannot use.
    `lock_timeout_s`: how long a write waits for another process's lock on an SQLite file."""
    parts = urlsplit(url)
    if parts.scheme == "memory":
        return {"PERSISTENCE_MODULE": MEMORY_FACTORY}
    if parts.scheme == "sqlite":
        path = url.removeprefix("sqlite:///")
        if not path or path == url:
            raise InvalidSpec([f"store: expected sqlite:///PATH, got {url!r}"])
        if path == ":memory:" or "mode=memory" in path:
            raise InvalidSpec([f"store: {url!r} is in memory; use memory:// for that"])
        Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)
        return {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(Path(path).expanduser()),
            "SQLITE_LOCK_TIMEOUT": str(max(1, round(lock_timeout_s))),  # the library wants an int
        }
    if parts.scheme in ("postgresql", "postgres"):
        if not parts.path.strip("/"):
            raise InvalidSpec([f"store: expected postgresql://user:pass@host:port/db, got {url!r}"])
        return {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": unquote(parts.path.strip("/")),
            "POSTGRES_HOST": parts.hostname or "127.0.0.1",
            "POSTGRES_PORT": str(parts.port or 5432),
            "POSTGRES_USER": unquote(parts.username or "postgres"),
            "POSTGRES_PASSWORD": unquote(parts.password or ""),
            "POSTGRES_CONNECT_TIMEOUT": "10",
            "POSTGRES_PRE_PING": "n",
            "APPLICATION_RECORDER_TOPIC": PG_RECORDER,
        }
    raise InvalidSpec([f"store: unknown scheme in {url!r} (memory://, sqlite:///, postgresql://)"])
