"""Delivery standing in SQLite and PostgreSQL, beside the library's tracking table.

The position is the tracking row `ffwd.notify:<endpoint>`; two tables of ours, written in the
same transaction, hold the endpoint's lease and counters and its dead letters. The lease is
timed by the database's clock, the one clock every process sharing the store agrees on.
"""

from functools import cache
from typing import Any

from eventsourcing.persistence import IntegrityError, Tracking
from eventsourcing.sqlite import SQLiteTrackingRecorder

from ffwd.adapters.notify.standing import DeadLetter, EndpointRecord, tracking_name

ENDPOINTS = "ffwd_notify_endpoints"
DEAD_LETTERS = "ffwd_notify_dead_letters"


_RECORD_COLUMNS = (
    "delivered",
    "dead_lettered",
    "last_delivered_id",
    "last_dead_id",
    "last_error",
    "owner",
    "lease_until",
    "updated_at",
)
_LETTER_COLUMNS = (
    "endpoint",
    "notification_id",
    "delivery_key",
    "type",
    "attempts",
    "error",
    "recorded_at",
)


class _SQLDelivery:
    """The statements shared by SQLite and PostgreSQL; subclasses name tables and the clock."""

    datastore: Any
    p: str  # the placeholder
    now_sql: str  # seconds since the epoch, by the database's clock
    endpoints: str
    dead: str
    tracking: str
    _insert_tracking: Any  # the library's, from the TrackingRecorder beside this class

    def _create_statements(self, real: str) -> list[str]:
        return [
            f"CREATE TABLE IF NOT EXISTS {self.endpoints} (endpoint TEXT PRIMARY KEY, "
            f"owner TEXT, lease_until {real}, delivered BIGINT NOT NULL DEFAULT 0, "
            "dead_lettered BIGINT NOT NULL DEFAULT 0, last_delivered_id BIGINT, "
            f"last_dead_id BIGINT, last_error TEXT, updated_at {real})",
            f"CREATE TABLE IF NOT EXISTS {self.dead} (endpoint TEXT, notification_id BIGINT, "
            "delivery_key TEXT, type TEXT, attempts INTEGER, error TEXT, "
            f"recorded_at {real}, PRIMARY KEY (endpoint, notification_id))",
        ]

    def acquire(self, endpoint: str, owner: str, lease_s: float) -> bool:
        p, now = self.p, self.now_sql
        with self.datastore.transaction(commit=True) as c:
            c.execute(
                f"INSERT INTO {self.endpoints} (endpoint) VALUES ({p}) "
                "ON CONFLICT (endpoint) DO NOTHING",
                (endpoint,),
            )
            c.execute(
                f"UPDATE {self.endpoints} SET owner={p}, lease_until={now}+{p} "
                f"WHERE endpoint={p} AND (owner IS NULL OR owner={p} OR lease_until<{now}) "
                "RETURNING endpoint",
                (owner, lease_s, endpoint, owner),
            )
            return c.fetchone() is not None

    def release(self, endpoint: str, owner: str) -> None:
        p = self.p
        with self.datastore.transaction(commit=True) as c:
            c.execute(
                f"UPDATE {self.endpoints} SET owner=NULL, lease_until=NULL "
                f"WHERE endpoint={p} AND owner={p}",
                (endpoint, owner),
            )

    def position(self, endpoint: str) -> int | None:
        p = self.p
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT notification_id FROM {self.tracking} WHERE application_name={p}",
                (tracking_name(endpoint),),
            )
            row = c.fetchone()
            return None if row is None else row["notification_id"]

    def begin_at(self, endpoint: str, notification_id: int) -> None:
        p = self.p
        with self.datastore.transaction(commit=True) as c:
            c.execute(
                f"INSERT INTO {self.tracking} (application_name, notification_id) "
                f"VALUES ({p}, {p}) ON CONFLICT (application_name) DO NOTHING",
                (tracking_name(endpoint), notification_id),
            )

    def delivered(self, endpoint: str, notification_id: int) -> None:
        p, now = self.p, self.now_sql
        try:
            with self.datastore.transaction(commit=True) as c:
                self._insert_tracking(c, Tracking(tracking_name(endpoint), notification_id))
                c.execute(
                    f"UPDATE {self.endpoints} SET delivered=delivered+1, "
                    f"last_delivered_id={p}, updated_at={now} WHERE endpoint={p}",
                    (notification_id, endpoint),
                )
        except IntegrityError:
            pass  # another owner already moved past it (a lease taken over): nothing to do

    def dead_lettered(self, letter: DeadLetter) -> None:
        p, now = self.p, self.now_sql
        try:
            with self.datastore.transaction(commit=True) as c:
                self._insert_tracking(
                    c, Tracking(tracking_name(letter.endpoint), letter.notification_id)
                )
                c.execute(
                    f"INSERT INTO {self.dead} VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {now})",
                    (
                        letter.endpoint,
                        letter.notification_id,
                        letter.key,
                        letter.type,
                        letter.attempts,
                        letter.error,
                    ),
                )
                c.execute(
                    f"UPDATE {self.endpoints} SET dead_lettered=dead_lettered+1, "
                    f"last_dead_id={p}, last_error={p}, updated_at={now} WHERE endpoint={p}",
                    (letter.notification_id, letter.error, letter.endpoint),
                )
        except IntegrityError:
            pass

    def redelivered(self, endpoint: str, notification_id: int) -> bool:
        p, now = self.p, self.now_sql
        with self.datastore.transaction(commit=True) as c:
            c.execute(
                f"DELETE FROM {self.dead} WHERE endpoint={p} AND notification_id={p} "
                "RETURNING notification_id",
                (endpoint, notification_id),
            )
            if c.fetchone() is None:
                return False
            c.execute(
                f"UPDATE {self.endpoints} SET delivered=delivered+1, "
                f"dead_lettered=dead_lettered-1, last_dead_id=(SELECT max(notification_id) "
                f"FROM {self.dead} WHERE endpoint={p}), updated_at={now} WHERE endpoint={p}",
                (endpoint, endpoint),
            )
            return True

    def record(self, endpoint: str) -> EndpointRecord:
        p = self.p
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT {', '.join(_RECORD_COLUMNS)} FROM {self.endpoints} WHERE endpoint={p}",
                (endpoint,),
            )
            row = c.fetchone()
        position = self.position(endpoint)
        if row is None:
            return EndpointRecord(endpoint, position)
        return EndpointRecord(endpoint, position, *(row[name] for name in _RECORD_COLUMNS))

    def dead_letters(self, endpoint: str, limit: int = 20) -> list[DeadLetter]:
        p = self.p
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT {', '.join(_LETTER_COLUMNS)} FROM {self.dead} WHERE endpoint={p} "
                f"ORDER BY notification_id DESC LIMIT {p}",
                (endpoint, limit),
            )
            return [DeadLetter(*(row[name] for name in _LETTER_COLUMNS)) for row in c.fetchall()]


class SQLiteDeliveryRecorder(_SQLDelivery, SQLiteTrackingRecorder):
    p = "?"
    now_sql = "((julianday('now') - 2440587.5) * 86400.0)"
    endpoints, dead, tracking = ENDPOINTS, DEAD_LETTERS, "tracking"

    def construct_create_table_statements(self) -> list[str]:
        return [*super().construct_create_table_statements(), *self._create_statements("REAL")]


@cache
def postgres_recorder_class() -> type:
    """The PostgreSQL recorder, built on first use: psycopg is an optional extra."""
    from eventsourcing.postgres import PostgresTrackingRecorder
    from psycopg.sql import SQL

    class PostgresDeliveryRecorder(_SQLDelivery, PostgresTrackingRecorder):
        p = "%s"
        now_sql = "extract(epoch from clock_timestamp())"

        def __init__(self, datastore: Any, **kwargs: Any) -> None:
            super().__init__(datastore, **kwargs)
            schema = datastore.schema
            self.endpoints = f'"{schema}".{ENDPOINTS}'
            self.dead = f'"{schema}".{DEAD_LETTERS}'
            self.tracking = f'"{schema}"."{self.tracking_table_name}"'
            for statement in self._create_statements("DOUBLE PRECISION"):
                self.sql_create_statements.append(SQL(statement))  # type: ignore[arg-type]

    return PostgresDeliveryRecorder
