"""Turns to claim (ADR 0020): at most one worker at a time looks for a part of a generator and
claims it; the others skip to the next generator instead of racing for the same part (a lost
race cost a read, a rejected append and a retry). The claim itself stays an append at the
expected version, so a turn is an optimization: correctness never depends on it.
"""

import threading
from typing import Any
from uuid import UUID


class LocalTurn:
    def __init__(self, turns: "LocalTurns", generator_id: UUID) -> None:
        self._turns, self._id, self._held = turns, generator_id, True

    def release(self) -> None:
        if self._held:
            self._held = False
            self._turns.end(self._id)


class LocalTurns:
    """Turns among the threads of one process (memory and SQLite stores: an SQLite file has
    one writer at a time, so workers in other processes lose a race cheaply)."""

    def __init__(self) -> None:
        self._held: set[UUID] = set()
        self._lock = threading.Lock()

    def take(self, generator_id: UUID) -> LocalTurn | None:
        with self._lock:
            if generator_id in self._held:
                return None
            self._held.add(generator_id)
        return LocalTurn(self, generator_id)

    def end(self, generator_id: UUID) -> None:
        with self._lock:
            self._held.discard(generator_id)


_TRY = "SELECT pg_try_advisory_lock(hashtextextended(%s, 0))"
_END = "SELECT pg_advisory_unlock(hashtextextended(%s, 0))"


class AdvisoryTurn:
    def __init__(self, pool: Any, connection: Any, key: str) -> None:
        self._pool, self._conn, self._key = pool, connection, key

    def release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            conn.execute(_END, [self._key])
        except Exception:  # a broken connection: the server ended its session and the lock
            conn.close()
        finally:
            self._pool.putconn(conn)


class AdvisoryTurns:
    """Turns across processes on PostgreSQL: a session-level advisory lock per generator,
    held on a pooled connection from the look until the claim is stored (SKIP LOCKED for
    the work queue, without holding a row lock that the claim's own upsert would wait on).
    A worker that dies holding one ends its session, and with it the lock."""

    def __init__(self, pool: Any) -> None:
        self._pool = pool

    def take(self, generator_id: UUID) -> AdvisoryTurn | None:
        conn = self._pool.getconn()
        key = str(generator_id)
        try:
            row = conn.execute(_TRY, [key]).fetchone()
        except BaseException:
            self._pool.putconn(conn)
            raise
        got = row["pg_try_advisory_lock"] if isinstance(row, dict) else row[0]
        if not got:
            self._pool.putconn(conn)
            return None
        return AdvisoryTurn(self._pool, conn, key)
