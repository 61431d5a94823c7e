"""A store that cannot be opened, read or written, said in words a user can act on: corrupt,
not a store, read-only, locked past its timeout, unreachable (`store_unavailable`, never a
traceback). Runners treat it as passing: they retry (ADR 0016)."""

import functools
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar
from urllib.parse import urlsplit

from eventsourcing.persistence import PersistenceError

from ffwd.domain.errors import FfwdError, StoreUnavailable

F = TypeVar("F", bound=Callable[..., Any])

# What the drivers say, and what it means for the user.
_SQLITE_SAYS = (
    ("file is not a database", "is not an ffwd store (not an SQLite database)"),
    ("malformed", "is corrupt (its database image is malformed)"),
    ("locked", "is locked by another process for longer than the lock timeout"),
    ("readonly", "is read-only here (the file, its folder or the file system)"),
    ("read-only", "is read-only here (the file, its folder or the file system)"),
    ("unable to open", "cannot be opened (a missing folder, or no permission)"),
    ("disk i/o error", "cannot be read or written (a disk error)"),
)


def where(url: str) -> str:
    """The store's location without its password."""
    if url.startswith("sqlite:///"):
        return url.removeprefix("sqlite:///")
    parts = urlsplit(url)
    if parts.password:
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
        user = f"{parts.username}@" if parts.username else ""
        return parts._replace(netloc=f"{user}{host}{port}").geturl()
    return url


def unavailable(url: str, error: BaseException) -> StoreUnavailable:
    said = " ".join(str(error).split()) or type(error).__name__
    if url.startswith("sqlite:"):
        lowered = said.lower()
        for words, meaning in _SQLITE_SAYS:
            if words in lowered:
                return StoreUnavailable(f"the store {where(url)} {meaning}")
        return StoreUnavailable(f"the store {where(url)} failed: {said}")
    if url.startswith(("postgresql:", "postgres:")):
        return StoreUnavailable(f"the store {where(url)} is unreachable or refused: {said}")
    return StoreUnavailable(f"the store {where(url)} failed: {said}")


STORE_ERRORS = (sqlite3.Error, PersistenceError, OSError)


@contextmanager
def failing_as_unavailable(url: str) -> Iterator[None]:
    """Driver errors inside come out as StoreUnavailable; ffwd's own errors, and every
    other exception (a ConcurrentWrite, a command's own), pass as they are."""
    try:
        yield
    except FfwdError:
        raise
    except STORE_ERRORS as e:
        raise unavailable(url, e) from e
    except Exception as e:
        if type(e).__module__.startswith("psycopg"):
            raise unavailable(url, e) from e
        raise


def translated(method: F) -> F:
    """A store method whose driver errors come out as StoreUnavailable (`self.url` names
    the store)."""

    @functools.wraps(method)
    def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        with failing_as_unavailable(self.url):
            return method(self, *args, **kwargs)

    return call  # type: ignore[return-value]
