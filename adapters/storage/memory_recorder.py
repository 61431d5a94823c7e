"""The library's in-memory recorder, extended to keep the summaries (ADR 0020): a generator's
summary changes under the lock that stores its events. Chosen through eventsourcing's
`APPLICATION_RECORDER_TOPIC`; `insert_events(events, summary=...)` passes the summary on."""

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder, StoredEvent
from eventsourcing.popo import POPOApplicationRecorder, POPOFactory

from ffwd.adapters.storage import read_model
from ffwd.adapters.storage.codec import Row
from ffwd.adapters.storage.read_model import Replay, merged
from ffwd.application.summaries import UNREADABLE, Summary, SummaryQuery


class MemoryRecorder(POPOApplicationRecorder):
    """Summaries in a dict, changed under the lock that stores events."""

    def __init__(self) -> None:
        super().__init__()
        self._summaries: dict[UUID, Summary] = {}
        self._version: str | None = None

    def _insert_events(
        self, stored_events: Sequence[StoredEvent], *, summary: Summary | None = None, **kw: Any
    ) -> Sequence[int] | None:
        with self._database_lock:
            ids = super()._insert_events(stored_events, **kw)
            if summary is not None:
                self._keep(summary)
            return ids

    def _keep(self, summary: Summary) -> None:
        kept = self._summaries.get(summary.id)
        position = kept.position if kept else len(self._summaries) + 1
        self._summaries[summary.id] = _at(summary, position)

    def summaries(self, query: SummaryQuery) -> list[Summary]:
        name = (query.name or "").casefold()
        with self._database_lock:
            found = []
            for s in reversed(self._summaries.values()):
                if query.before is not None and s.position >= query.before:
                    continue
                if query.state is not None and s.state != query.state:
                    continue
                if name and name not in s.name.casefold():
                    continue
                if query.parent is not None and s.parent != query.parent:
                    continue
                found.append(s)
                if len(found) == query.limit:
                    break
            return found

    def summary(self, generator_id: UUID) -> Summary | None:
        with self._database_lock:
            return self._summaries.get(generator_id)

    def prefixed(self, prefix: str, limit: int) -> list[UUID]:
        with self._database_lock:
            return sorted(i for i in self._summaries if str(i).startswith(prefix))[:limit]

    def claimable(self, now: datetime, limit: int) -> list[UUID]:
        with self._database_lock:
            summaries = list(self._summaries.values())
        ready = [s.id for s in summaries if s.ready][:limit]
        expired = sorted(
            (s for s in summaries if s.lease_expires_at and s.lease_expires_at <= now),
            key=lambda s: s.lease_expires_at or now,
        )[:limit]
        return merged([str(i) for i in ready], [str(s.id) for s in expired])

    def cancelled_since(self, since: datetime, limit: int) -> list[UUID]:
        with self._database_lock:
            found = [s for s in self._summaries.values() if s.state == "cancelled"]
        return [s.id for s in sorted(found, key=lambda s: s.updated_at) if s.updated_at >= since][
            :limit
        ]

    def summary_ids(self) -> list[UUID]:
        with self._database_lock:
            return list(self._summaries)

    def mark_unreadable(self, generator_id: UUID) -> None:
        with self._database_lock:
            kept = self._summaries.get(generator_id)
            if kept is not None:
                marked = replace(kept, state=UNREADABLE, ready=False, lease_expires_at=None)
                self._summaries[generator_id] = marked

    def read_model_version(self) -> str | None:
        return self._version

    def rebuild(self, replay: Replay, force: bool) -> int:
        with self._database_lock:
            if not force and self._version == read_model.VERSION:
                return 0
            histories: dict[str, list[Row]] = {}
            for s in self._stored_events:  # in the order they were stored
                histories.setdefault(str(s.originator_id), []).append(
                    (s.originator_version, s.topic, s.state)
                )
            self._summaries = {}
            for summary in replay(iter(histories.items())):
                self._keep(summary)
            self._version = read_model.VERSION
            return len(self._stored_events)


def _at(summary: Summary, position: int) -> Summary:
    return summary if summary.position == position else replace(summary, position=position)


class MemoryFactory(POPOFactory):
    """The library's in-memory persistence with the recorder above (`PERSISTENCE_MODULE`)."""

    def application_recorder(self) -> ApplicationRecorder:
        return MemoryRecorder()
