"""The generator store on eventsourcing: one Application per store URL.

Where a command's time went with the library's defaults, and what this store does instead
(each measured with `make bench`):

- Every get deep-copied the cached aggregate: a get copies only what event bodies change,
  and a save applies its stored events to the kept state in place (`cache`).
- Every command first read the log for newer events: `update` runs the command on the kept
  state straight away, since storing its events at the next versions proves that state was
  the latest, and the commanded copy becomes the kept state. The log is asked only when the
  command stores nothing or rejects (ADR 0017).
- Every statement went through the library's connection pool: an SQLite file is written and
  read through two plain sqlite3 connections on the library's own table (`sqlite_log`), and
  a get asks the log for newer events only when SQLite's `data_version` says another
  connection has committed.
- Replays decoded rows through the library's per-event wrappers (`codec`).

Each command also writes its generator's summary, in the same transaction as its events:
lists, id prefixes and the work queue read the summaries, never every generator (ADR 0020).
"""

import itertools
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import IntegrityError, StoredEvent

from ffwd.adapters.storage.cache import (
    UNVERIFIED,
    Cache,
    copy_generator,
    project_generator,
)
from ffwd.adapters.storage.claim_turns import AdvisoryTurns, LocalTurns
from ffwd.adapters.storage.codec import EventCodec, Row
from ffwd.adapters.storage.failures import failing_as_unavailable, translated
from ffwd.adapters.storage.read_model import VERSION
from ffwd.adapters.storage.sqlite_log import FIRST, LAST, Conflict, SQLiteLog
from ffwd.adapters.storage.urls import DEFAULT_LOCK_TIMEOUT_S, persistence_env
from ffwd.application.ports import ClaimTurn, ConcurrentWrite
from ffwd.application.summaries import Summary, SummaryQuery, summarize, unreadable
from ffwd.domain.errors import FfwdError, StoreUnavailable, UnknownGenerator
from ffwd.domain.generator import Generator

T = TypeVar("T")

__all__ = ["EventSourcedStore", "project_generator"]


class _Generators(Application[UUID]):
    name = "ffwd"


class _RecorderLog:
    """Stored events through the library's recorder (memory, PostgreSQL); the recorder keeps
    the summaries (`memory_recorder`, `postgres_recorder`)."""

    def __init__(self, recorder: Any) -> None:
        self.recorder = recorder
        self._epochs = itertools.count()

    def epoch(self) -> int:
        """A new epoch on every call: with no cheap way to tell whether others wrote, every
        get looks for newer events."""
        return next(self._epochs)

    def rows(self, generator_id: UUID, gt: int = FIRST, lte: int = LAST) -> list[Row]:
        stored = self.recorder.select_events(generator_id, gt=gt, lte=lte)
        return [(s.originator_version, s.topic, s.state) for s in stored]

    def append(self, generator_id: UUID, rows: list[Row], summary: Summary) -> None:
        try:
            self.recorder.insert_events(
                [StoredEvent(generator_id, *row) for row in rows], summary=summary
            )
        except IntegrityError:
            raise Conflict from None

    def close(self) -> None:
        pass


class EventSourcedStore:
    """GeneratorStore on memory, SQLite or PostgreSQL, by URL.

    `cache_size` generators are kept in memory (0: none, every get replays the history).
    A generator from `get` is the caller's own to command; its plain values (spec, outputs,
    lists) are shared with the kept state, so change it only through commands. Opening a
    store whose summaries are missing or of an older layout rebuilds them.
    """

    def __init__(
        self, url: str, cache_size: int = 1000, lock_timeout_s: float = DEFAULT_LOCK_TIMEOUT_S
    ) -> None:
        self.url = url
        postgres = url.startswith(("postgresql:", "postgres:"))
        with failing_as_unavailable(url):
            env = persistence_env(url, lock_timeout_s)
            if postgres:
                from ffwd.adapters.storage.postgres_recorder import probe

                probe(env)  # unreachable: said in seconds, not after the library's retries
            self.app = _Generators(env=env)  # creates the table; its recorder serves followers
            self.recorder = self.app.recorder
            dbname = env.get("SQLITE_DBNAME", "")
            if dbname:
                sqlite = SQLiteLog(dbname, lock_timeout_s)
                self._log: SQLiteLog | _RecorderLog = sqlite
                self._index: Any = sqlite
            else:
                self._log, self._index = _RecorderLog(self.recorder), self.recorder
            current = self._index.read_model_version() == VERSION
        self._codec = EventCodec(self.app.mapper)
        self._cache = Cache(cache_size)
        self._turns: Any = AdvisoryTurns(self.recorder.datastore.pool) if postgres else LocalTurns()
        if not current:
            self.rebuild_summaries(force=False)

    @property
    def answers_locally(self) -> bool:
        """Whether a read is answered from memory or a local file, never waiting on a server
        across the network (memory and SQLite; not PostgreSQL)."""
        return isinstance(self._log, SQLiteLog) or self.url.startswith("memory:")

    @translated
    def get(self, generator_id: UUID, version: int | None = None) -> Generator:
        if version is not None:
            return self._replay(generator_id, lte=version)
        epoch = self._log.epoch()
        state = self._cache.state(generator_id)
        if state is None:
            generator = self._replay(generator_id)
            self._cache.adopt(copy_generator(generator), epoch)
            return generator
        latest, verified = state
        if verified != epoch:
            # Fast-forward with events stored since by others (another process), so that
            # reads never lag; skipped while the log says nobody else has written since.
            newer = self._log.rows(generator_id, gt=latest)
            if newer:
                with self._readable(generator_id):
                    events = self._codec.events(generator_id, newer)
                self._cache.advance(generator_id, events)
                latest = newer[-1][0]
        copy = self._cache.copy(generator_id, latest, epoch)
        return self._replay(generator_id) if copy is None else copy

    @translated
    def update(
        self, generator_id: UUID, command: Callable[[Generator], T]
    ) -> tuple[T, Sequence[Any]]:
        """Run `command` on the latest state and store the events it triggers in one
        transaction, with the generator's summary; returns its result and those events.

        The command runs on a copy of the kept state without asking the log first: when it
        triggers events, storing them at the next versions proves the state was the latest
        (else ConcurrentWrite, and the next get catches up); when it triggers none or rejects,
        the log is asked, and a command that ran on a state behind it runs again.
        """
        checked = False
        while True:
            kept = None if checked else self._cache.current(generator_id)
            generator = self.get(generator_id) if kept is None else kept
            version = generator.version
            try:
                result = command(generator)
            except Exception:
                if checked or not self._behind(generator_id, version):
                    raise
                checked = True
                continue
            events = list(generator.collect_events())
            if not events:
                if checked or not self._behind(generator_id, version):
                    return result, events
                checked = True
                continue
            self._append(generator, events)
            self._cache.replace(generator)
            return result, events

    def _behind(self, generator_id: UUID, version: int) -> bool:
        """Whether the log holds events after `version` (the kept state then catches up)."""
        return self.get(generator_id).version > version

    @translated
    def save(self, generator: Generator) -> Sequence[Any]:
        events = list(generator.collect_events())
        if not events:
            return events
        self._append(generator, events)
        if not self._cache.advance(generator.id, events):
            # A new generator, or one not kept: keep a copy (the caller keeps its object),
            # to be checked against the log at its first get.
            self._cache.adopt(copy_generator(generator), UNVERIFIED)
        return events

    def _append(self, generator: Generator, events: list[Any]) -> None:
        try:
            self._log.append(generator.id, self._codec.rows(events), summarize(generator))
        except Conflict:
            self._cache.distrust(generator.id)
            raise ConcurrentWrite(str(generator.id)) from None

    @translated
    def events(self, generator_id: UUID) -> Sequence[Any]:
        rows = self._log.rows(generator_id)
        with self._readable(generator_id):
            events = self._codec.events(generator_id, rows)
        if not events:
            raise UnknownGenerator(f"no generator {generator_id}")
        return events

    # The summaries.

    @translated
    def summaries(self, query: SummaryQuery) -> list[Summary]:
        """A page of summaries, newest first."""
        return self._index.summaries(query)

    @translated
    def summary(self, generator_id: UUID) -> Summary | None:
        return self._index.summary(generator_id)

    @translated
    def ids_starting_with(self, prefix: str, limit: int) -> list[UUID]:
        """Ids that start with `prefix` (lowercase, with dashes), found by index."""
        return self._index.prefixed(prefix, limit)

    @translated
    def claimable(self, now: datetime, limit: int) -> list[UUID]:
        """Generators with a part to claim now, oldest first: pending parts whose turn it
        is, then running parts whose lease ran out."""
        return self._index.claimable(now, limit)

    @translated
    def cancelled_since(self, since: datetime, limit: int) -> list[UUID]:
        return self._index.cancelled_since(since, limit)

    @translated
    def claim_turn(self, generator_id: UUID) -> ClaimTurn | None:
        return self._turns.take(generator_id)

    @translated
    def generator_ids(self) -> list[UUID]:
        """Every generator's id, oldest first (reads the whole index: for tools, not for
        serving requests)."""
        return self._index.summary_ids()

    @translated
    def rebuild_summaries(self, force: bool = True) -> tuple[int, int]:
        """Every summary anew from the event log, while commands wait; (generators, events)
        read. Without `force`, only if no other process has just rebuilt them."""
        generators = [0]

        def replay(histories: Iterator[tuple[str, list[Row]]]) -> Iterator[Summary]:
            for gid, rows in histories:
                generators[0] += 1
                try:
                    yield summarize(self._project(UUID(gid), rows))
                except Exception:
                    yield unreadable(self._readable_prefix(UUID(gid), rows), UUID(gid), rows)

        events = self._index.rebuild(replay, force)
        return generators[0], events

    @contextmanager
    def _readable(self, generator_id: UUID) -> Iterator[None]:
        """Events that cannot be read (a topic this version does not know, a body it cannot
        decode or apply) make that generator unreadable, not the store: it is marked so in
        its summary (out of the work queue), and only it answers `store_unavailable`."""
        try:
            yield
        except Exception as e:
            if isinstance(e, FfwdError):
                raise
            with suppress(Exception):  # best effort: the error below says it either way
                self._index.mark_unreadable(generator_id)
            raise StoreUnavailable(
                f"generator {generator_id}: its history holds an event this version of ffwd "
                f"cannot read ({type(e).__name__}: {e})"
            ) from e

    def sqlite_settings(self) -> tuple[str, int]:
        """Journal mode and `synchronous` of the SQLite writer (for benchmarks and reports)."""
        if not isinstance(self._log, SQLiteLog):
            raise ValueError(f"{self.url} is not an SQLite file store")
        return self._log.settings()

    def _project(self, generator_id: UUID, rows: list[Row]) -> Generator:
        generator = project_generator(None, self._codec.events(generator_id, rows))
        if generator is None:
            raise LookupError(f"no events for {generator_id}")
        return generator

    def _readable_prefix(self, generator_id: UUID, rows: list[Row]) -> Generator | None:
        """The state after the events that can still be read, up to the first that cannot."""
        generator = None
        for row in rows:
            try:
                generator = project_generator(generator, self._codec.events(generator_id, [row]))
            except Exception:
                break
        return generator

    def close(self) -> None:
        self._log.close()
        self.app.close()

    def _replay(self, generator_id: UUID, lte: int = LAST) -> Generator:
        """The state after the first `lte` events: exactly version `lte`, or UnknownGenerator
        (a version after the latest is not silently answered with the latest)."""
        rows = self._log.rows(generator_id, lte=lte)
        with self._readable(generator_id):
            generator = project_generator(None, self._codec.events(generator_id, rows))
        if generator is None or (lte != LAST and generator.version != lte):
            at = "" if lte == LAST else f" at version {lte}"
            raise UnknownGenerator(f"no generator {generator_id}{at}")
        return generator
