"""The library's PostgreSQL recorder, extended to keep the summaries (ADR 0020): a generator's
summary is upserted in the transaction that inserts its events, before the library takes the
events table's lock. Chosen through eventsourcing's `APPLICATION_RECORDER_TOPIC`;
`insert_events(events, summary=...)` hands the summary to `_insert_events`, the hook the
library runs inside that transaction."""

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Identifier

from ffwd.adapters.storage import read_model
from ffwd.adapters.storage.read_model import POSTGRES, Replay, SummaryQueries, histories
from ffwd.application.worker import FOLLOWED_BY_WORKERS

# Workers listen here: woken by the events they follow (a stop, a cancel, a takeover, a part
# that may be claimed now), not by every progress report of every generator, which the
# library's own channel announces to every listener.
WORKERS_CHANNEL = "ffwd_workers"
WORKER_TOPICS = frozenset(cls.TOPIC for cls in FOLLOWED_BY_WORKERS)


PROBE_TIMEOUT_S = 5


def probe(env: dict[str, str]) -> None:
    """Connect once, briefly: a server that is down or unreachable is said at once (the
    library would retry for close to a minute before saying so)."""
    import psycopg

    psycopg.connect(
        host=env["POSTGRES_HOST"],
        port=env["POSTGRES_PORT"],
        dbname=env["POSTGRES_DBNAME"],
        user=env["POSTGRES_USER"],
        password=env["POSTGRES_PASSWORD"],
        connect_timeout=PROBE_TIMEOUT_S,
    ).close()


class PostgresRecorder(PostgresApplicationRecorder, SummaryQueries):
    """Summaries in their table, upserted in the transaction that inserts the events."""

    dialect = POSTGRES

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sql_create_statements += [SQL(statement) for statement in POSTGRES.create()]  # type: ignore[arg-type]
        self._events = SQL("{0}.{1}").format(
            Identifier(self.datastore.schema), Identifier(self.events_table_name)
        )

    def _insert_events(
        self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> None:
        summary = kwargs.get("summary")
        if summary is not None:
            curs.execute(POSTGRES.upsert, read_model.encode(summary), prepare=True)
        if any(e.topic in WORKER_TOPICS for e in stored_events):
            curs.execute(f"NOTIFY {WORKERS_CHANNEL}")

    def mark_unreadable(self, generator_id: UUID) -> None:
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(POSTGRES.mark_unreadable, [str(generator_id)])

    def rebuild(self, replay: Replay, force: bool) -> int:
        """Every summary anew, in one transaction that holds the events table's write lock
        (commands wait; reads go on); without `force`, nothing when another process has
        just rebuilt them at this version. Returns the number of events read."""
        counted = [0]
        with self.datastore.get_connection() as conn, conn.transaction():
            with conn.cursor() as curs:
                curs.execute("LOCK TABLE ffwd_meta IN EXCLUSIVE MODE")
                curs.execute(POSTGRES.read_version)
                if not force and curs.fetchall() == [{"value": read_model.VERSION}]:
                    return 0
                for statement in self.lock_table_statements:
                    curs.execute(statement)
                curs.execute(f"TRUNCATE {read_model.TABLE}")
                order_sql = SQL(
                    "SELECT originator_id::text FROM {0} WHERE originator_version = 1 "
                    "ORDER BY notification_id"
                ).format(self._events)
                order = {
                    row["originator_id"]: i for i, row in enumerate(curs.execute(order_sql), 1)
                }
            rows = conn.cursor(name="ffwd_rebuild", row_factory=tuple_row)
            rows.itersize = 2000
            rows.execute(
                SQL(
                    "SELECT originator_id::text, originator_version, topic, state FROM {0} "
                    "ORDER BY originator_id, originator_version"
                ).format(self._events)
            )
            with conn.cursor() as curs:
                batch = []
                for summary in replay(histories(rows, counted)):
                    batch.append((order[str(summary.id)], *read_model.encode(summary)))
                    if len(batch) >= 1000:
                        curs.executemany(POSTGRES.insert_at, batch)
                        batch.clear()
                if batch:
                    curs.executemany(POSTGRES.insert_at, batch)
                curs.execute(
                    f"SELECT setval(pg_get_serial_sequence('{read_model.TABLE}', 'position'), "
                    f"GREATEST((SELECT MAX(position) FROM {read_model.TABLE}), 1))"
                )
                curs.execute(POSTGRES.write_version, [read_model.VERSION])
            rows.close()
        return counted[0]

    def _read(self, sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
        with self.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as c:
            c.execute(sql, params, prepare=True)
            return c.fetchall()
