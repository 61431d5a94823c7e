"""Cross-process delivery on PostgreSQL: LISTEN/NOTIFY wakes a reader of the event log.

eventsourcing's PostgreSQL recorder sends `NOTIFY <channel>` in every transaction that stores
events (ours also `NOTIFY ffwd_workers` when it stores one that workers follow: a follower
of those topics alone, a worker's, listens there). A follower LISTENs on its channel over a
dedicated connection and, when woken, reads
the new rows with the recorder's own `select_notifications` from the position it reached, so a
NOTIFY only says "look now" and nothing depends on it arriving (ADR 0016):

- No NOTIFY for `fallback_s` (1 s): the reader looks anyway, so a stop stored while the
  LISTEN connection was silently gone still lands within about a second.
- Any error (server restart, dropped connection): the LISTEN connection is thrown away and
  opened again, and the reader catches up from its position; nothing is skipped.
- Events found by a fallback look with no NOTIFY for them, or `relisten_s` of silence: the
  LISTEN may be dead without anyone saying so (a NAT, a half-open TCP connection), so it is
  opened again. TCP keepalives and `tcp_user_timeout` also end a dead connection's waits.
"""

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import psycopg
from psycopg import sql

from ffwd.adapters.storage.event_store import EventSourcedStore
from ffwd.adapters.storage.postgres_recorder import WORKER_TOPICS, WORKERS_CHANNEL
from ffwd.adapters.storage.urls import persistence_env

log = logging.getLogger(__name__)
_PAGE = 500
_TICK_S = 0.1  # how often a wait for NOTIFY checks whether the follower was stopped
_MAX_BACKOFF_S = 1.0


class PostgresFollower:
    """The EventFeed port on PostgreSQL: calls a listener with every event stored after it
    started, woken by NOTIFY, with a fallback look every `fallback_s`."""

    def __init__(
        self,
        store: EventSourcedStore,
        *,
        fallback_s: float = 1.0,
        relisten_s: float = 30.0,
        connect_timeout_s: int = 5,
    ) -> None:
        self.store = store
        self.fallback_s = fallback_s
        self.relisten_s = relisten_s
        self.connect_timeout_s = connect_timeout_s
        env = persistence_env(store.url)
        self._conninfo = {
            "host": env["POSTGRES_HOST"],
            "port": env["POSTGRES_PORT"],
            "dbname": env["POSTGRES_DBNAME"],
            "user": env["POSTGRES_USER"],
            "password": env["POSTGRES_PASSWORD"],
        }
        self.channel = store.app.recorder.channel_name  # type: ignore[attr-defined]
        self.listens = 0  # LISTEN connections opened so far (tests and benchmarks read it)

    def follow(
        self, listener: Callable[[Sequence[Any]], None], topics: Sequence[str] = ()
    ) -> Callable[[], None]:
        """Start following in a daemon thread (events of `topics` only, when given);
        returns the function that stops it."""
        recorder, mapper = self.store.app.recorder, self.store.app.mapper
        position = recorder.max_notification_id() or 0
        stopped = threading.Event()
        for_workers = bool(topics) and set(topics) <= WORKER_TOPICS
        channel = WORKERS_CHANNEL if for_workers else self.channel

        def read() -> bool:
            """Deliver every event stored after `position`; True when there was any."""
            nonlocal position
            found = False
            while not stopped.is_set():
                notifications = recorder.select_notifications(
                    position + 1, _PAGE, topics=list(topics)
                )
                if not notifications:
                    return found
                events = [mapper.to_domain_event(n) for n in notifications]
                position, found = notifications[-1].id, True
                try:
                    listener(events)
                except Exception:  # a listener's bug must not end delivery to the others
                    log.exception("an event listener failed")
                if len(notifications) < _PAGE:
                    return found
            return found

        def run() -> None:
            conn: psycopg.Connection | None = None
            heard = time.monotonic()
            backoff = 0.05
            while not stopped.is_set():
                try:
                    if conn is None:
                        conn = self._listen(channel)
                        notified = True  # look now: events stored while nobody listened
                    else:
                        notified = self._wait(conn, stopped)
                    if stopped.is_set():
                        break
                    found = read()
                    now = time.monotonic()
                    if notified:
                        heard = now
                    elif found or now - heard > self.relisten_s:
                        _close(conn)  # events nobody announced, or a long silence
                        conn = None
                    backoff = 0.05
                except Exception as e:  # the server went away, a connection broke: again
                    log.warning("following the PostgreSQL event log: %s; reconnecting", e)
                    _close(conn)
                    conn = None
                    stopped.wait(backoff)
                    backoff = min(_MAX_BACKOFF_S, backoff * 2)
            _close(conn)

        thread = threading.Thread(target=run, name="ffwd-pg-follower", daemon=True)
        thread.start()

        def stop() -> None:
            stopped.set()
            thread.join()

        return stop

    def _listen(self, channel: str) -> psycopg.Connection:
        conn = psycopg.connect(
            **self._conninfo,
            autocommit=True,
            connect_timeout=self.connect_timeout_s,
            application_name="ffwd-follower",
            keepalives=1,
            keepalives_idle=5,
            keepalives_interval=2,
            keepalives_count=3,
            tcp_user_timeout=10_000,
        )
        try:
            conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
        except BaseException:
            _close(conn)
            raise
        self.listens += 1
        return conn

    def _wait(self, conn: psycopg.Connection, stopped: threading.Event) -> bool:
        """Wait for a NOTIFY for up to `fallback_s`: True when one came (all that came are
        consumed), False on timeout or stop."""
        deadline = time.monotonic() + self.fallback_s
        while not stopped.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            # The generator holds the connection's lock until it ends: let it end first.
            heard = any(True for _ in conn.notifies(timeout=min(_TICK_S, left), stop_after=1))
            if heard:
                for _ in conn.notifies(timeout=0):  # drain: one look serves them all
                    pass
                return True
        return False


def _close(conn: psycopg.Connection | None) -> None:
    if conn is not None:
        try:
            conn.close()
        except Exception:  # already broken: nothing more to release
            log.debug("closing the LISTEN connection failed", exc_info=True)
