"""The eventsourcing library's own recorder test cases, run against ffwd's storage: its event
logs (the SQLite writer, and the log over the library's recorders) through a thin adapter to
the library's `AggregateRecorder` interface, and its recorder subclasses (memory, PostgreSQL)
as they are. A log accepts any originator version, 0 included."""

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent
from eventsourcing.tests.persistence import (
    AggregateRecorderTestCase,
    ApplicationRecorderTestCase,
)

from ffwd.adapters.storage.event_store import EventSourcedStore
from ffwd.adapters.storage.sqlite_log import Conflict
from ffwd.application.summaries import Summary
from tests.integration.storage.conftest import url_for


class LogAsRecorder:
    """One of ffwd's event logs as the library's `AggregateRecorder`: events of one
    originator per insert (as the store writes them), each with a placeholder summary."""

    def __init__(self, log: Any) -> None:
        self.log = log

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> None:
        if not stored_events:
            return None
        originator_id = stored_events[0].originator_id
        assert all(e.originator_id == originator_id for e in stored_events)
        rows = [(e.originator_version, e.topic, e.state) for e in stored_events]
        try:
            self.log.append(originator_id, rows, _summary(originator_id, rows[-1][0]))
        except Conflict:
            raise IntegrityError from None
        return None

    def select_events(
        self,
        originator_id: UUID,
        *,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> list[StoredEvent]:
        bounds = {k: v for k, v in (("gt", gt), ("lte", lte)) if v is not None}
        rows = self.log.rows(originator_id, **bounds)
        events = [StoredEvent(originator_id, v, topic, bytes(state)) for v, topic, state in rows]
        if desc:
            events.reverse()
        return events[:limit] if limit is not None else events


def _summary(generator_id: UUID, version: int) -> Summary:
    now = datetime.now(UTC)
    return Summary(generator_id, "recorder test", "training", "queued", None, now, now,
                   version, (), (), False, None)  # fmt: skip


class OnStores:
    """Each case gets a new store of `kind` (a new SQLite file, a new PostgreSQL database)."""

    __test__ = False  # the concrete classes below run, each on its store
    kind = "memory"

    @pytest.fixture(autouse=True)
    def _stores(self, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[None]:
        self.opened: list[EventSourcedStore] = []
        self.request, self.folder = request, tmp_path
        yield
        for store in self.opened:
            store.close()

    def new_store(self) -> EventSourcedStore:
        folder = self.folder / str(len(self.opened))
        folder.mkdir()
        self.opened.append(EventSourcedStore(url_for(self.kind, self.request, folder)))
        return self.opened[-1]


class LogCases(OnStores, AggregateRecorderTestCase):
    def create_recorder(self) -> Any:
        return LogAsRecorder(self.new_store()._log)


class TestTheMemoryLog(LogCases):
    __test__ = True
    kind = "memory"


class TestTheSQLiteLog(LogCases):
    __test__ = True
    kind = "sqlite"


@pytest.mark.postgres
class TestThePostgreSQLLog(LogCases):
    __test__ = True
    kind = "postgres"


class RecorderCases(OnStores, ApplicationRecorderTestCase):
    """ffwd's subclasses of the library's application recorders (they keep the summaries);
    SQLite's is the library's own."""

    def create_recorder(self) -> Any:
        return self.new_store().recorder


class TestTheMemoryRecorder(RecorderCases):
    __test__ = True
    kind = "memory"


@pytest.mark.postgres
class TestThePostgreSQLRecorder(RecorderCases):
    __test__ = True
    kind = "postgres"
