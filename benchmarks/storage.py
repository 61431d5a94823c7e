"""Storage benchmarks: commands on SQLite, rebuilding 10,000 events, views on long histories."""

import sqlite3
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any
from uuid import UUID

from eventsourcing.application import Application

from benchmarks.fixtures import EVENTS_BEFORE_PROGRESS, Progress, Training, sqlite_service
from benchmarks.results import Record
from benchmarks.timing import alternating, median, paired_difference, paired_ratio
from ffwd.adapters.storage.event_store import EventCodec, EventSourcedStore
from ffwd.adapters.storage.urls import persistence_env
from ffwd.application.views import view_of
from ffwd.domain.parts import TABULAR


def run(folder: Path, scale: float = 1.0) -> list[Record]:
    def scaled(n: int) -> int:
        return max(3, round(n * scale))

    return [
        commands_on_sqlite(folder / "commands", scaled(1000)),
        rebuild(folder / "rebuild", scaled(7)),
        view_cost(folder / "views", scaled(1000)),
    ]


class _RawSQLite:
    """The physical floor: plain sqlite3 inserting given rows, one durable transaction each."""

    def __init__(self, path: Path, create_table: list[str], synchronous: int) -> None:
        self.connection = sqlite3.connect(path, isolation_level=None)
        self.journal_mode = self.connection.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        self.connection.execute(f"PRAGMA synchronous={int(synchronous)}")
        self.synchronous = self.connection.execute("PRAGMA synchronous").fetchone()[0]
        for statement in create_table:
            self.connection.execute(statement)

    def insert(self, row: tuple[Any, ...]) -> None:
        # Autocommit: a lone INSERT is its own transaction, the cheapest durable write.
        self.connection.execute("INSERT INTO stored_events VALUES (?,?,?,?)", row)

    def close(self) -> None:
        self.connection.close()


def _command_and_encoding(training: Training) -> Callable[[], None]:
    """The part of a command no store can avoid: `record_progress` on a generator held in
    memory, and its event encoded as the stored row (no service, no cache, no SQL)."""
    generator = training.service.store.get(training.id)
    codec = EventCodec(training.service.store.app.mapper)
    progress = Progress(step=10**9)  # its own counters, ahead of the real generator's

    def command() -> None:
        generator.record_progress(TABULAR, training.attempt, **progress())
        codec.rows(list(generator.collect_events()))

    return command


def commands_on_sqlite(folder: Path, calls: int) -> Record:
    """`record_progress` through the service, one command per durable transaction, against
    raw sqlite3 inserting rows those commands stored (same bytes, same table), one each."""
    folder.mkdir(parents=True)
    service = sqlite_service(folder)
    store = service.store
    training = Training(service, folder)
    for _ in range(calls):  # warm-up, and the rows the raw side will insert
        training.report()
    with closing(sqlite3.connect(folder / "store.db")) as stored:
        rows = stored.execute(
            "SELECT * FROM stored_events WHERE originator_version > ? ORDER BY rowid",
            (EVENTS_BEFORE_PROGRESS,),
        ).fetchall()
    journal_mode, synchronous = store.sqlite_settings()
    raw = _RawSQLite(folder / "raw.db", store.recorder.create_table_statements, synchronous)
    assert (journal_mode, synchronous) == (raw.journal_mode, raw.synchronous)
    next_row = iter(rows).__next__

    ffwd_s, raw_s, floor_s = alternating(
        calls, training.report, lambda: raw.insert(next_row()), _command_and_encoding(training)
    )
    raw.close()
    store.close()
    ffwd, insert, floor = median(ffwd_s), median(raw_s), median(floor_s)
    overhead = paired_difference(ffwd_s, raw_s)
    # What any store would reach here keeping this domain and its encoding: the raw insert
    # plus the command and its encoding, nothing else.
    ceiling = paired_ratio(raw_s, [r + f for r, f in zip(raw_s, floor_s, strict=True)])
    level = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}.get(synchronous, synchronous)
    setting = f"journal_mode={journal_mode.upper()}, synchronous={level}"
    return Record(
        name="commands_sqlite",
        line=(
            f"commands/s sqlite ({setting}): ffwd {1 / ffwd:,.0f}/s "
            f"vs raw sqlite3 {1 / insert:,.0f}/s [+{overhead * 1e6:.0f} us per command, of "
            f"which the command and its encoding alone {floor * 1e6:.0f} us: no store "
            f"can pass {ceiling:.2f}x here]"
        ),
        measured=1 / ffwd,
        reference=1 / insert,
        unit="commands/s",
        ratio=paired_ratio(raw_s, ffwd_s),
        op=">=",
        target=0.8,
        details={
            "journal_mode": journal_mode,
            "synchronous": synchronous,
            "calls": calls,
            "method": (
                "calls alternate one by one; rates = 1 / median seconds per call; ratio = "
                "median of call-by-call ratios raw/ffwd; overhead = median of differences"
            ),
            "ffwd_median_us": ffwd * 1e6,
            "raw_median_us": insert * 1e6,
            "overhead_us": overhead * 1e6,
            "command_and_encoding_us": floor * 1e6,
            "ceiling_ratio": ceiling,
            "note": (
                "command_and_encoding = record_progress on a generator in memory and its "
                "event encoded as the stored row, timed between the others' commits as the "
                "real command is; ceiling_ratio = raw / (raw + command_and_encoding), what a "
                "store adding nothing else would reach"
            ),
        },
    )


def rebuild(folder: Path, rounds: int, events: int = 10_000) -> Record:
    """A generator rebuilt from its whole history: the store with no cache against
    eventsourcing's default repository and projector (`project_aggregate`), same stored events."""
    folder.mkdir(parents=True)
    service = sqlite_service(folder)
    training = Training(service, folder)
    training.grow_to(events)
    url = f"sqlite:///{folder / 'store.db'}"
    cold = EventSourcedStore(url, cache_size=0)
    library = Application[UUID](env=persistence_env(url))
    ours, theirs = cold.get(training.id), library.repository.get(training.id)
    assert ours.version == theirs.version == events
    assert view_of(ours) == view_of(theirs)

    ffwd_s, default_s = alternating(
        rounds, lambda: cold.get(training.id), lambda: library.repository.get(training.id)
    )
    cold.close()
    library.close()
    service.store.close()
    ffwd, default = median(ffwd_s), median(default_s)
    return Record(
        name="rebuild_10k",
        line=(
            f"rebuild {events:,} events: ffwd {ffwd * 1e3:.0f} ms "
            f"vs eventsourcing default projector {default * 1e3:.0f} ms"
        ),
        measured=ffwd * 1e3,
        reference=default * 1e3,
        unit="ms",
        ratio=paired_ratio(default_s, ffwd_s),
        op=">=",
        target=3.0,
        details={
            "events": events,
            "rounds": rounds,
            "method": "rebuilds alternate; ratio = median of pairwise default/ffwd (speed-up)",
            "ffwd_s": ffwd_s,
            "default_s": default_s,
        },
    )


def view_cost(folder: Path, calls: int) -> Record:
    """`get_view` through the service on SQLite: a generator with 1,000 events against one
    with 10, each read repeatedly as a panel polling them would."""
    folder.mkdir(parents=True)
    service = sqlite_service(folder)
    small, big = Training(service, folder, "small"), Training(service, folder, "big")
    small.grow_to(10)
    big.grow_to(1000)
    big_s, small_s = alternating(
        calls, lambda: service.get_view(big.id), lambda: service.get_view(small.id)
    )
    service.store.close()
    big_view, small_view = median(big_s), median(small_s)
    return Record(
        name="view_1000_vs_10",
        line=(
            f"get_view sqlite: 1,000 events {big_view * 1e6:.0f} us "
            f"vs 10 events {small_view * 1e6:.0f} us"
        ),
        measured=big_view * 1e6,
        reference=small_view * 1e6,
        unit="us per view",
        ratio=paired_ratio(big_s, small_s),
        op="<=",
        target=1.5,
        details={
            "calls": calls,
            "method": "views alternate one by one; ratio = median of call-by-call ratios",
        },
    )
