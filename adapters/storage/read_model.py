"""The summaries table (ADR 0020): one row per generator, in the store's own database, written
in the transaction that stores the generator's events, indexed for lists and the work queue.

SQLite and PostgreSQL share the layout and the statements; `Dialect` holds what differs.
Times are whole microseconds since the epoch (exact, unlike a float); part states are small
JSON lists.
"""

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from ffwd.application.summaries import UNREADABLE, Summary, SummaryQuery

TABLE = "ffwd_summaries"
META = "ffwd_meta"
# Raise when the table's layout or meaning changes: a store with an older one is rebuilt.
VERSION = "1"
COLUMNS = (
    "id",
    "name",
    "kind",
    "state",
    "parent",
    "created_at",
    "updated_at",
    "version",
    "phases",
    "steps",
    "ready",
    "lease_expires_at",
)
CHANGING = ("state", "updated_at", "version", "phases", "steps", "ready", "lease_expires_at")
Row = tuple[Any, ...]
# What a rebuild is given: turns (generator id, its event rows) into summaries.
Replay = Callable[[Iterator[tuple[str, list[Any]]]], Iterator[Summary]]
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True)
class Dialect:
    mark: str  # the parameter placeholder
    position: str  # the position column's type
    text_key: str  # the id column's type: compared byte by byte, for prefix ranges
    micros: str  # a 64-bit integer
    like: str  # case-insensitive LIKE

    def create(self) -> list[str]:
        return [
            f"CREATE TABLE IF NOT EXISTS {TABLE} ("
            f"position {self.position} PRIMARY KEY, id {self.text_key} NOT NULL UNIQUE, "
            "name TEXT NOT NULL, kind TEXT NOT NULL, state TEXT NOT NULL, parent TEXT, "
            f"created_at {self.micros} NOT NULL, updated_at {self.micros} NOT NULL, "
            "version INTEGER NOT NULL, phases TEXT NOT NULL, steps TEXT NOT NULL, "
            f"ready INTEGER NOT NULL, lease_expires_at {self.micros})",
            f"CREATE INDEX IF NOT EXISTS {TABLE}_state ON {TABLE} (state, position)",
            f"CREATE INDEX IF NOT EXISTS {TABLE}_ready ON {TABLE} (position) WHERE ready = 1",
            f"CREATE INDEX IF NOT EXISTS {TABLE}_lease ON {TABLE} (lease_expires_at) "
            "WHERE lease_expires_at IS NOT NULL",
            f"CREATE INDEX IF NOT EXISTS {TABLE}_changed ON {TABLE} (state, updated_at)",
            f"CREATE INDEX IF NOT EXISTS {TABLE}_parent ON {TABLE} (parent, position) "
            "WHERE parent IS NOT NULL",
            f"CREATE TABLE IF NOT EXISTS {META} (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        ]

    @property
    def upsert(self) -> str:
        marks = ", ".join([self.mark] * len(COLUMNS))
        changes = ", ".join(f"{c} = excluded.{c}" for c in CHANGING)
        return (
            f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}) VALUES ({marks}) "
            f"ON CONFLICT (id) DO UPDATE SET {changes}"
        )

    @property
    def insert_at(self) -> str:
        """An insert with its position given (a rebuild keeps the creation order)."""
        marks = ", ".join([self.mark] * (len(COLUMNS) + 1))
        return f"INSERT INTO {TABLE} (position, {', '.join(COLUMNS)}) VALUES ({marks})"

    @property
    def read_version(self) -> str:
        return f"SELECT value FROM {META} WHERE key = 'summaries'"

    @property
    def write_version(self) -> str:
        m = self.mark
        return (
            f"INSERT INTO {META} (key, value) VALUES ('summaries', {m}) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value"
        )

    def page(self, query: SummaryQuery) -> tuple[str, list[Any]]:
        m, where, params = self.mark, [], []
        if query.state is not None:
            where.append(f"state = {m}")
            params.append(query.state)
        if query.name:
            where.append(f"name {self.like} {m} ESCAPE '\\'")
            params.append(f"%{_escape_like(query.name)}%")
        if query.before is not None:
            where.append(f"position < {m}")
            params.append(query.before)
        if query.parent is not None:
            where.append(f"parent = {m}")
            params.append(str(query.parent))
        clause = f"WHERE {' AND '.join(where)} " if where else ""
        params.append(query.limit)
        return (
            f"SELECT position, {', '.join(COLUMNS)} FROM {TABLE} {clause}"
            f"ORDER BY position DESC LIMIT {m}",
            params,
        )

    @property
    def one(self) -> str:
        return f"SELECT position, {', '.join(COLUMNS)} FROM {TABLE} WHERE id = {self.mark}"

    @property
    def prefixed(self) -> str:
        m = self.mark
        return f"SELECT id FROM {TABLE} WHERE id >= {m} AND id < {m} ORDER BY id LIMIT {m}"

    @property
    def claimable(self) -> str:
        """Ready generators oldest first, then those whose first lease ran out: one round
        trip, each half by its own partial index."""
        m = self.mark
        return (
            f"SELECT id, 0 AS half, position AS rank FROM (SELECT id, position FROM {TABLE} "
            f"WHERE ready = 1 ORDER BY position LIMIT {m}) AS ready UNION ALL "
            f"SELECT id, 1, lease_expires_at FROM (SELECT id, lease_expires_at FROM {TABLE} "
            f"WHERE lease_expires_at IS NOT NULL AND lease_expires_at <= {m} "
            f"ORDER BY lease_expires_at LIMIT {m}) AS expired ORDER BY half, rank"
        )

    @property
    def cancelled_since(self) -> str:
        m = self.mark
        return (
            f"SELECT id FROM {TABLE} WHERE state = 'cancelled' AND updated_at >= {m} "
            f"ORDER BY updated_at LIMIT {m}"
        )

    @property
    def mark_unreadable(self) -> str:
        return (
            f"UPDATE {TABLE} SET state = '{UNREADABLE}', ready = 0, lease_expires_at = NULL "
            f"WHERE id = {self.mark}"
        )

    @property
    def all_ids(self) -> str:
        return f"SELECT id FROM {TABLE} ORDER BY position"


SQLITE = Dialect(mark="?", position="INTEGER", text_key="TEXT", micros="INTEGER", like="LIKE")
POSTGRES = Dialect(
    mark="%s",
    position="BIGSERIAL",
    text_key='TEXT COLLATE "C"',
    micros="BIGINT",
    like="ILIKE",
)


class SummaryQueries:
    """The queries on the summaries table, for a class that says how it reads (`_read`)
    and in which dialect."""

    dialect: Dialect

    def _read(self, sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def summaries(self, query: SummaryQuery) -> list[Summary]:
        sql, params = self.dialect.page(query)
        return [decode(row) for row in self._read(sql, params)]

    def summary(self, generator_id: UUID) -> Summary | None:
        rows = self._read(self.dialect.one, [str(generator_id)])
        return decode(rows[0]) if rows else None

    def prefixed(self, prefix: str, limit: int) -> list[UUID]:
        rows = self._read(self.dialect.prefixed, [*prefix_range(prefix), limit])
        return [UUID(r[0]) for r in rows]

    def claimable(self, now: datetime, limit: int) -> list[UUID]:
        rows = self._read(self.dialect.claimable, [limit, micros(now), limit])
        return merged(r[0] for r in rows)

    def cancelled_since(self, since: datetime, limit: int) -> list[UUID]:
        rows = self._read(self.dialect.cancelled_since, [micros(since), limit])
        return [UUID(r[0]) for r in rows]

    def summary_ids(self) -> list[UUID]:
        return [UUID(r[0]) for r in self._read(self.dialect.all_ids, [])]

    def read_model_version(self) -> str | None:
        rows = self._read(self.dialect.read_version, [])
        return rows[0][0] if rows else None


def encode(s: Summary) -> Row:
    return (
        str(s.id),
        s.name,
        s.kind,
        s.state,
        None if s.parent is None else str(s.parent),
        micros(s.created_at),
        micros(s.updated_at),
        s.version,
        json.dumps(s.phases, separators=(",", ":")),
        json.dumps(s.steps, separators=(",", ":")),
        int(s.ready),
        None if s.lease_expires_at is None else micros(s.lease_expires_at),
    )


def decode(row: Sequence[Any]) -> Summary:
    """A summary from `(position, *COLUMNS)`."""
    position, id_, name, kind, state, parent, created, updated, version = row[:9]
    phases, steps, ready, lease = row[9:]
    return Summary(
        id=UUID(id_),
        name=name,
        kind=kind,
        state=state,
        parent=None if parent is None else UUID(parent),
        created_at=_utc(created),
        updated_at=_utc(updated),
        version=version,
        phases=tuple(tuple(p) for p in json.loads(phases)),
        steps=tuple(tuple(s) for s in json.loads(steps)),
        ready=bool(ready),
        lease_expires_at=None if lease is None else _utc(lease),
        position=position,
    )


def prefix_range(prefix: str) -> tuple[str, str]:
    """Every id that starts with `prefix` lies in [low, high): ids are lowercase hex and
    dashes, all below '~'."""
    return prefix, prefix + "~"


def merged(*id_lists: Iterable[str]) -> list[UUID]:
    """Ids from several queries, in order, each once."""
    seen: dict[str, None] = {}
    for ids in id_lists:
        for i in ids:
            seen.setdefault(i, None)
    return [UUID(i) for i in seen]


def histories(rows: Iterable[Sequence[Any]], counted: list[int]) -> Iterator[tuple[str, list]]:
    """(generator id, its rows) per generator, from (id, version, topic, state) rows sorted
    by id and version; counts the rows read in `counted[0]`."""
    current, history = None, []
    for gid, version, topic, state in rows:
        if gid != current:
            if history:
                yield current, history
            current, history = gid, []
        history.append((version, topic, bytes(state)))
        counted[0] += 1
    if history:
        yield current, history


def micros(moment: datetime) -> int:
    return (moment - EPOCH) // MICROSECOND


def _utc(count: int) -> datetime:
    return EPOCH + count * MICROSECOND


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
