"""An SQLite store file through plain sqlite3 (ADR 0005, ADR 0020): the library's events table,
the summaries beside it, one connection for writes and one for reads, each behind a lock.

Same table, same rows, same WAL file as the library's recorder, so its readers (notification
log, followers) and other processes see exactly what it would have written. A command's
events and its generator's summary are one transaction.
"""

import sqlite3
import threading
from collections.abc import Iterator
from typing import Any
from uuid import UUID

from ffwd.adapters.storage import read_model
from ffwd.adapters.storage.codec import Row
from ffwd.adapters.storage.read_model import SQLITE, Replay, SummaryQueries, histories
from ffwd.application.summaries import Summary

LAST = 2**62  # above any version: "no upper bound" in one cached SELECT statement
FIRST = -1  # below any version, 0 included: "no lower bound"


class Conflict(Exception):
    """An event at a taken version: another writer saved first."""


class SQLiteLog(SummaryQueries):
    dialect = SQLITE

    def __init__(self, path: str, timeout: float, table: str = "stored_events") -> None:
        self._writer = self._connect(path, timeout)
        self._reader = self._connect(path, timeout)
        self._write_lock = threading.Lock()
        self._read_lock = threading.Lock()
        self._data_version, self._epoch = -1, 0
        self._table = table
        self._insert = f"INSERT INTO {table} VALUES (?,?,?,?)"
        self._select = (
            f"SELECT originator_version, topic, state FROM {table} WHERE originator_id=? "
            "AND originator_version>? AND originator_version<=? ORDER BY originator_version"
        )
        with self._write_lock:
            for statement in SQLITE.create():
                self._writer.execute(statement)

    @staticmethod
    def _connect(path: str, timeout: float) -> sqlite3.Connection:
        # Autocommit (isolation_level=None), as the library's own connections; the file is
        # already in WAL mode (the library's recorder set it when it created the table).
        return sqlite3.connect(path, timeout=timeout, isolation_level=None, check_same_thread=False)

    def settings(self) -> tuple[str, int]:
        """The writer's journal mode and `synchronous` level (library defaults: wal, 2 = FULL)."""
        with self._write_lock:
            journal_mode = self._writer.execute("PRAGMA journal_mode").fetchone()[0]
            return journal_mode, self._writer.execute("PRAGMA synchronous").fetchone()[0]

    def epoch(self) -> int:
        """A number that changes when another connection (another process, or the library's
        own pool) has committed since the last call. SQLite's `data_version` on the writer
        tells exactly that (its own commits leave it unchanged), for a fraction of the cost of
        a SELECT for newer events."""
        with self._write_lock:
            data_version = self._writer.execute("PRAGMA data_version").fetchone()[0]
            if data_version != self._data_version:
                self._data_version, self._epoch = data_version, self._epoch + 1
            return self._epoch

    def rows(self, generator_id: UUID, gt: int = FIRST, lte: int = LAST) -> list[Row]:
        with self._read_lock:
            return self._reader.execute(self._select, (generator_id.hex, gt, lte)).fetchall()

    def append(self, generator_id: UUID, rows: list[Row], summary: Summary) -> None:
        params = [(generator_id.hex, *row) for row in rows]
        writer = self._writer
        with self._write_lock:
            writer.execute("BEGIN IMMEDIATE")
            try:
                writer.executemany(self._insert, params)
                writer.execute(SQLITE.upsert, read_model.encode(summary))
                writer.execute("COMMIT")
            except BaseException as e:
                if writer.in_transaction:
                    writer.execute("ROLLBACK")
                if isinstance(e, sqlite3.IntegrityError):
                    raise Conflict from None
                raise

    def mark_unreadable(self, generator_id: UUID) -> None:
        with self._write_lock:
            self._writer.execute(SQLITE.mark_unreadable, [str(generator_id)])

    def rebuild(self, replay: Replay, force: bool) -> int:
        """Write every generator's summary anew from its events, holding the write lock (no
        command can interleave); `replay` turns (id, rows) per generator into summaries.
        Without `force`, nothing when another process has just rebuilt them at this
        version; returns the number of events read."""
        writer, counted = self._writer, [0]
        with self._write_lock:
            writer.execute("BEGIN IMMEDIATE")
            try:
                current = writer.execute(SQLITE.read_version).fetchall()
                if not force and current == [(read_model.VERSION,)]:
                    writer.execute("COMMIT")
                    return 0
                order = {
                    gid: position
                    for position, (gid,) in enumerate(
                        writer.execute(
                            f"SELECT originator_id FROM {self._table} "
                            "WHERE originator_version = 1 ORDER BY rowid"
                        ),
                        start=1,
                    )
                }
                writer.execute(f"DELETE FROM {read_model.TABLE}")
                batch = []
                for summary in replay(self._histories(counted)):
                    position = order[summary.id.hex]
                    batch.append((position, *read_model.encode(summary)))
                    if len(batch) >= 1000:
                        writer.executemany(SQLITE.insert_at, batch)
                        batch.clear()
                writer.executemany(SQLITE.insert_at, batch)
                writer.execute(SQLITE.write_version, [read_model.VERSION])
                writer.execute("COMMIT")
            except BaseException:
                if writer.in_transaction:
                    writer.execute("ROLLBACK")
                raise
        return counted[0]

    def _histories(self, counted: list[int]) -> Iterator[tuple[str, list[Row]]]:
        """Every generator's rows, one generator after another (in the order of the events
        table's key: one pass, nothing held but the generator being read)."""
        cursor = self._writer.execute(
            f"SELECT originator_id, originator_version, topic, state FROM {self._table} "
            "ORDER BY originator_id, originator_version"
        )
        return histories(cursor, counted)

    def _read(self, sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
        with self._read_lock:
            return self._reader.execute(sql, params).fetchall()

    def close(self) -> None:
        with self._write_lock, self._read_lock:
            self._writer.close()
            self._reader.close()
