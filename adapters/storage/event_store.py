"""The generator store on eventsourcing: one Application per store URL.

Where a command's time went with the library's defaults, and what this module does instead
(each measured with `make bench`):

- Every get deep-copied the cached aggregate (~100 us, mostly the spec): here a get copies only
  the parts event bodies change (`_copy`, a few us), and a save applies its stored events to
  the kept state in place instead of copying the saved aggregate (`_Cache.advance`).
- Every command first read the log for newer events: `update` runs the command on the kept
  state straight away, since storing its events at the next versions proves that state was
  the latest, and the commanded copy becomes the kept state (`_Cache.replace`). The log is
  asked only when the command stores nothing or rejects (ADR 0017).
- Every statement went through the library's connection pool (locks, context managers,
  explicit BEGIN/COMMIT): an SQLite file is written and read through two plain sqlite3
  connections on the library's own table, same rows, same bytes (`_SQLiteLog`).
- Every get fast-forwarded the cached aggregate with a SELECT, so that reads see other
  processes' writes: here SQLite's `data_version` says whether anyone else has committed at
  all, and the SELECT runs only when someone has (`_SQLiteLog.epoch`).
- Replays built a `StoredEvent`, a `UUID` and a JSON decoder call chain per row: rows are
  decoded with the transcoder's own scanner and object hook, and JSON is encoded with one
  C encoder built once (`EventCodec`).

Memory, PostgreSQL and in-memory SQLite keep the library's recorder for every statement.
"""

import itertools
import json
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import is_dataclass
from functools import cache
from json.encoder import (  # type: ignore[attr-defined]
    c_make_encoder,
    encode_basestring,
    encode_basestring_ascii,
)
from typing import Any, TypeVar, get_args, get_origin, get_type_hints
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import IntegrityError, JSONTranscoder, Mapper, StoredEvent
from eventsourcing.utils import get_topic, resolve_topic

from ffwd.adapters.storage.urls import persistence_env
from ffwd.application.ports import ConcurrentWrite
from ffwd.domain.errors import UnknownGenerator
from ffwd.domain.generator import Generator

T = TypeVar("T")
_PAGE = 500
_LAST = 2**62  # above any version: "no upper bound" in one cached SELECT statement
_UNVERIFIED = -1  # the epoch of a kept generator not yet checked against the log
Row = tuple[int, str, bytes]  # originator_version, topic, state


def project_generator(generator: Generator | None, events: Iterable[Any]) -> Generator | None:
    """Replay events; the library's default projector spends most of its time in a runtime
    Protocol check on every event (ARCHITECTURE.md, ADR 0005)."""
    for event in events:
        generator = event.mutate(generator)
    return generator


class _Generators(Application[UUID]):
    name = "ffwd"


@cache
def _parts(cls: type) -> tuple[tuple[str, type], ...]:
    """The attributes of an aggregate class that hold its parts, by annotation: a dataclass,
    or a dict or list of dataclasses, e.g. `phases: dict[str, Phase]` -> ("phases", dict)."""
    found = []
    for name, hint in get_type_hints(cls).items():
        args = get_args(hint)
        if is_dataclass(hint):
            found.append((name, object))
        elif get_origin(hint) in (dict, list) and args and is_dataclass(args[-1]):
            found.append((name, get_origin(hint)))
    return tuple(found)


def _copy_part(part: Any) -> Any:
    clone = object.__new__(type(part))
    clone.__dict__.update(part.__dict__)
    return clone


def _copy(aggregate: Generator) -> Generator:
    """A copy that shares nothing that event bodies change: its own attributes, and its own
    copies of its parts (the dataclasses its annotations declare, e.g. phases and steps).

    Everything else is shared: plain values recorded from events (spec, outputs, reasons,
    checkpoints), which event bodies only ever assign, never change in place (ARCHITECTURE.md).
    A deep copy costs ~100 us here (mostly the spec), this one a few.
    """
    state = aggregate.__dict__.copy()
    for name, holder in _parts(type(aggregate)):
        value = state.get(name)
        if value is None:
            continue
        if holder is dict:
            state[name] = {key: _copy_part(part) for key, part in value.items()}
        elif holder is list:
            state[name] = [_copy_part(part) for part in value]
        else:
            state[name] = _copy_part(value)
    state["_pending_events"] = []
    clone = object.__new__(type(aggregate))
    object.__setattr__(clone, "__dict__", state)
    return clone


class _Entry:
    """A kept generator, and the epoch at which it was last known to be the latest state."""

    __slots__ = ("epoch", "generator")

    def __init__(self, generator: Generator, epoch: int) -> None:
        self.generator, self.epoch = generator, epoch


class _Cache:
    """The latest known state of recently used generators, least recently used evicted first.

    Kept generators are private: handed out only as copies, and read, copied or advanced only
    under one lock, so threads share them without per-generator locks. A failed save never
    reaches them: only events already stored are applied.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[UUID, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def state(self, generator_id: UUID) -> tuple[int, int] | None:
        """The kept version and the epoch it was last known to be the latest at."""
        with self._lock:
            entry = self._items.get(generator_id)
            return None if entry is None else (entry.generator.version, entry.epoch)

    def copy(self, generator_id: UUID, latest: int, epoch: int) -> Generator | None:
        """A copy of the kept state if it has at least version `latest`, the latest stored
        as of `epoch`, which it is then known to be current at; else None."""
        with self._lock:
            entry = self._items.get(generator_id)
            if entry is None or entry.generator.version < latest:
                return None
            entry.epoch = max(entry.epoch, epoch)
            self._items.move_to_end(generator_id)
            return _copy(entry.generator)

    def current(self, generator_id: UUID) -> Generator | None:
        """A copy of the kept state, without checking the log; None when none is kept or it
        may be behind the log."""
        with self._lock:
            entry = self._items.get(generator_id)
            if entry is None or entry.epoch == _UNVERIFIED:
                return None
            self._items.move_to_end(generator_id)
            return _copy(entry.generator)

    def replace(self, generator: Generator) -> None:
        """Keep `generator`, whose events are stored and which nobody else holds, in place of
        an older kept state: no copy, nothing re-applied. Storing the next events proved the
        kept state was the latest, so the epoch it was known at still holds."""
        with self._lock:
            entry = self._items.get(generator.id)
            if entry is not None:
                if entry.generator.version < generator.version:
                    entry.generator = generator
                return
        self.adopt(generator, _UNVERIFIED)

    def distrust(self, generator_id: UUID) -> None:
        """The kept state may be behind the log: the next get looks for newer events."""
        with self._lock:
            entry = self._items.get(generator_id)
            if entry is not None:
                entry.epoch = _UNVERIFIED

    def adopt(self, generator: Generator, epoch: int) -> None:
        """Keep `generator` (nobody else may hold it) unless a newer state is already kept."""
        if self.size <= 0:
            return
        with self._lock:
            entry = self._items.get(generator.id)
            if entry is None or entry.generator.version < generator.version:
                self._items[generator.id] = _Entry(generator, epoch)
            self._items.move_to_end(generator.id)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def advance(self, generator_id: UUID, events: Sequence[Any]) -> bool:
        """Apply stored events to the kept state in place (cheaper than a copy); False when
        there is no kept state they follow on from, or they fail to apply (then none is kept:
        the next get replays, and reports any error)."""
        with self._lock:
            entry = self._items.get(generator_id)
            if entry is None:
                return False
            new = [e for e in events if e.originator_version > entry.generator.version]
            try:
                if new and new[0].originator_version != entry.generator.version + 1:
                    raise LookupError("a gap between the kept version and the events")
                project_generator(entry.generator, new)
            except Exception:
                del self._items[generator_id]  # possibly half-applied: keep nothing
                return False
            return True


class _Conflict(Exception):
    """An event at a taken version: another writer saved first."""


class _RecorderLog:
    """Stored events through the library's recorder (memory, PostgreSQL, in-memory SQLite)."""

    def __init__(self, app: _Generators, serialize: bool) -> None:
        self.recorder = app.recorder
        # In-memory SQLite: each new pooled connection would open a new, empty database, and
        # the pool opens one per concurrent reader; one statement at a time keeps to one.
        self._lock: AbstractContextManager[Any] = threading.Lock() if serialize else nullcontext()
        self._epochs = itertools.count()

    def epoch(self) -> int:
        """A new epoch on every call: with no cheap way to tell whether others wrote, every
        get looks for newer events."""
        return next(self._epochs)

    def rows(self, generator_id: UUID, gt: int = 0, lte: int = _LAST) -> list[Row]:
        with self._lock:
            stored = self.recorder.select_events(generator_id, gt=gt, lte=lte)
        return [(s.originator_version, s.topic, s.state) for s in stored]

    def append(self, generator_id: UUID, rows: list[Row]) -> None:
        try:
            with self._lock:
                self.recorder.insert_events([StoredEvent(generator_id, *row) for row in rows])
        except IntegrityError:
            raise _Conflict from None

    def close(self) -> None:
        pass


class _SQLiteLog:
    """The library's SQLite table through plain sqlite3: one connection for writes and one for
    reads, each behind a lock. Same table, same rows, same WAL file, so the library's readers
    (notification log, followers) and other processes see exactly what it would have written."""

    def __init__(self, path: str, timeout: float, table: str = "stored_events") -> None:
        self._writer = self._connect(path, timeout)
        self._reader = self._connect(path, timeout)
        self._write_lock = threading.Lock()
        self._read_lock = threading.Lock()
        self._data_version, self._epoch = -1, 0
        self._insert = f"INSERT INTO {table} VALUES (?,?,?,?)"
        self._select = (
            f"SELECT originator_version, topic, state FROM {table} WHERE originator_id=? "
            "AND originator_version>? AND originator_version<=? ORDER BY originator_version"
        )

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

    def rows(self, generator_id: UUID, gt: int = 0, lte: int = _LAST) -> list[Row]:
        with self._read_lock:
            return self._reader.execute(self._select, (generator_id.hex, gt, lte)).fetchall()

    def append(self, generator_id: UUID, rows: list[Row]) -> None:
        params = [(generator_id.hex, *row) for row in rows]
        writer = self._writer
        with self._write_lock:
            try:
                if len(params) == 1:
                    # A lone INSERT in autocommit mode is its own durable transaction: no
                    # BEGIN/COMMIT statements to run (the usual command stores one event).
                    writer.execute(self._insert, params[0])
                    return
                writer.execute("BEGIN IMMEDIATE")
                try:
                    writer.executemany(self._insert, params)
                    writer.execute("COMMIT")
                except BaseException:
                    if writer.in_transaction:
                        writer.execute("ROLLBACK")
                    raise
            except sqlite3.IntegrityError:
                raise _Conflict from None

    def close(self) -> None:
        with self._write_lock, self._read_lock:
            self._writer.close()
            self._reader.close()


class EventCodec:
    """Domain events to stored rows and back, as the library's `Mapper` does, without its
    per-event wrappers: JSON is written and read with the transcoder's own encoder settings and
    object hook (so the same registered transcodings and the same bytes), topics are resolved
    once per class, and the originator id is the one asked for. Anything unusual (a cipher,
    compression, another transcoder, odd bytes, upcasting) goes the library's way."""

    def __init__(self, mapper: Mapper[UUID]) -> None:
        self.mapper = mapper
        transcoder = mapper.transcoder
        self.plain = not (mapper.cipher or mapper.compressor)
        json = isinstance(transcoder, JSONTranscoder) and self.plain
        self._encode = _encoder(transcoder)
        self._scan = transcoder.decoder.scan_once if json else None  # type: ignore[attr-defined]
        self._classes: dict[str, type] = {}

    def rows(self, events: list[Any]) -> list[Row]:
        return [self.row(event) for event in events]

    def row(self, event: Any) -> Row:
        if not self.plain:
            stored = self.mapper.to_stored_event(event)
            return stored.originator_version, stored.topic, stored.state
        fields = event.__dict__.copy()
        del fields["originator_id"]
        version = fields.pop("originator_version")
        class_version = getattr(type(event), "class_version", 1)
        if class_version > 1:
            fields["class_version"] = class_version
        return version, get_topic(type(event)), self._encode(fields)

    def events(self, generator_id: UUID, rows: list[Row]) -> list[Any]:
        scan, classes, events = self._scan, self._classes, []
        for version, topic, state in rows:
            cls = classes.get(topic) or self._class(topic)
            fields = None
            if scan is not None and cls is not _UPCAST:
                text = state.decode("utf8")
                try:  # not contextlib.suppress: its enter/exit calls cost ~10% of a replay
                    fields, end = scan(text, 0)
                except (StopIteration, ValueError):
                    fields = None
                else:
                    if end != len(text) or type(fields) is not dict or "class_version" in fields:
                        fields = None
            if fields is None:
                stored = StoredEvent(generator_id, version, topic, state)
                events.append(self.mapper.to_domain_event(stored))
                continue
            fields["originator_id"] = generator_id
            fields["originator_version"] = version
            event = object.__new__(cls)
            object.__setattr__(event, "__dict__", fields)  # as the library's mapper does
            events.append(event)
        return events

    def _class(self, topic: str) -> type:
        """The event class of a topic, or _UPCAST when its events may need upcasting."""
        cls = resolve_topic(topic)
        self._classes[topic] = _UPCAST if getattr(cls, "class_version", 1) > 1 else cls
        return self._classes[topic]


def _encoder(transcoder: Any) -> Any:
    """`transcoder.encode`, or for the JSON transcoder the same encoding without building a
    new C encoder per call as `JSONEncoder.encode` does (same settings, so the same bytes)."""
    settings = getattr(transcoder, "encoder", None)
    if not isinstance(transcoder, JSONTranscoder) or c_make_encoder is None:
        return transcoder.encode
    if not isinstance(settings, json.JSONEncoder) or settings.indent is not None:
        return transcoder.encode
    encode = c_make_encoder(
        None,  # no circular-reference check: event states are trees of plain values
        settings.default,
        encode_basestring_ascii if settings.ensure_ascii else encode_basestring,
        None,
        settings.key_separator,
        settings.item_separator,
        settings.sort_keys,
        settings.skipkeys,
        settings.allow_nan,
    )
    return lambda fields: "".join(encode(fields, 0)).encode("utf8")


class _UPCAST:
    """Marks an event class with `class_version` > 1: its events are left to the library."""


class EventSourcedStore:
    """GeneratorStore on POPO (memory), SQLite or PostgreSQL, by URL.

    `cache_size` generators are kept in memory (0: none, every get replays the history).
    A generator from `get` is the caller's own to command; its plain values (spec, outputs,
    lists) are shared with the kept state, so change it only through commands.
    """

    def __init__(self, url: str, cache_size: int = 1000) -> None:
        env = persistence_env(url)
        self.url = url
        self.app = _Generators(env=env)  # creates the table; its recorder serves followers
        self.recorder = self.app.recorder
        dbname = env.get("SQLITE_DBNAME", "")
        in_memory = ":memory:" in dbname or "mode=memory" in dbname
        if dbname and not in_memory:
            timeout = float(env["SQLITE_LOCK_TIMEOUT"])
            self._log: _RecorderLog | _SQLiteLog = _SQLiteLog(dbname, timeout)
        else:
            self._log = _RecorderLog(self.app, serialize=in_memory)
        self._codec = EventCodec(self.app.mapper)
        self._cache = _Cache(cache_size)
        self._ids: list[UUID] = []  # every generator's id seen so far, oldest first
        self._ids_next = 1  # the notification to read on from
        self._ids_lock = threading.Lock()

    @property
    def answers_locally(self) -> bool:
        """Whether a read is answered from memory or a local file, never waiting on a server
        across the network (memory and SQLite; not PostgreSQL)."""
        return isinstance(self._log, _SQLiteLog) or self.url.startswith("memory:")

    def get(self, generator_id: UUID, version: int | None = None) -> Generator:
        if version is not None:
            return self._replay(generator_id, lte=version)
        epoch = self._log.epoch()
        state = self._cache.state(generator_id)
        if state is None:
            generator = self._replay(generator_id)
            self._cache.adopt(_copy(generator), epoch)
            return generator
        latest, verified = state
        if verified != epoch:
            # Fast-forward with events stored since by others (another process), so that
            # reads never lag; skipped while the log says nobody else has written since.
            newer = self._log.rows(generator_id, gt=latest)
            if newer:
                self._cache.advance(generator_id, self._codec.events(generator_id, newer))
                latest = newer[-1][0]
        copy = self._cache.copy(generator_id, latest, epoch)
        return self._replay(generator_id) if copy is None else copy

    def update(
        self, generator_id: UUID, command: Callable[[Generator], T]
    ) -> tuple[T, Sequence[Any]]:
        """Run `command` on the latest state and store the events it triggers in one
        transaction; returns its result and those events.

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
            try:
                self._log.append(generator_id, self._codec.rows(events))
            except _Conflict:
                self._cache.distrust(generator_id)
                raise ConcurrentWrite(str(generator_id)) from None
            self._cache.replace(generator)
            return result, events

    def _behind(self, generator_id: UUID, version: int) -> bool:
        """Whether the log holds events after `version` (the kept state then catches up)."""
        return self.get(generator_id).version > version

    def save(self, generator: Generator) -> Sequence[Any]:
        events = list(generator.collect_events())
        if not events:
            return events
        try:
            self._log.append(generator.id, self._codec.rows(events))
        except _Conflict:
            raise ConcurrentWrite(str(generator.id)) from None
        if not self._cache.advance(generator.id, events):
            # A new generator, or one not kept: keep a copy (the caller keeps its object),
            # to be checked against the log at its first get.
            self._cache.adopt(_copy(generator), _UNVERIFIED)
        return events

    def events(self, generator_id: UUID) -> Sequence[Any]:
        events = self._codec.events(generator_id, self._log.rows(generator_id))
        if not events:
            raise UnknownGenerator(f"no generator {generator_id}")
        return events

    def generator_ids(self) -> list[UUID]:
        """Read on from the last Created notification seen: the notification log only grows,
        in order (one writer at a time on SQLite, a table lock on PostgreSQL)."""
        topic = Generator.Created.TOPIC
        with self._ids_lock:
            while True:
                page = self.recorder.select_notifications(self._ids_next, _PAGE, topics=[topic])
                self._ids += [UUID(str(n.originator_id)) for n in page]
                if page:
                    self._ids_next = page[-1].id + 1
                if len(page) < _PAGE:
                    return list(self._ids)

    def sqlite_settings(self) -> tuple[str, int]:
        """Journal mode and `synchronous` of the SQLite writer (for benchmarks and reports)."""
        if not isinstance(self._log, _SQLiteLog):
            raise ValueError(f"{self.url} is not an SQLite file store")
        return self._log.settings()

    def close(self) -> None:
        self._log.close()
        self.app.close()

    def _replay(self, generator_id: UUID, lte: int = _LAST) -> Generator:
        """The state after the first `lte` events: exactly version `lte`, or UnknownGenerator
        (a version after the latest is not silently answered with the latest)."""
        events = self._codec.events(generator_id, self._log.rows(generator_id, lte=lte))
        generator = project_generator(None, events)
        if generator is None or (lte != _LAST and generator.version != lte):
            at = "" if lte == _LAST else f" at version {lte}"
            raise UnknownGenerator(f"no generator {generator_id}{at}")
        return generator
