"""The generator store on eventsourcing: one Application per store URL."""

from collections.abc import Iterable, Sequence
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError

from adapters.storage.urls import persistence_env
from application.ports import ConcurrentWrite
from domain.errors import UnknownGenerator
from domain.generator import Generator

_PAGE = 500


def project_generator(generator: Generator | None, events: Iterable[Any]) -> Generator | None:
    """Replay events; the library's default projector spends most of its time in a runtime
    Protocol check on every event (ARCHITECTURE.md, ADR 0005)."""
    for event in events:
        generator = event.mutate(generator)
    return generator


class _Generators(Application[UUID]):
    name = "ffwd"


class EventSourcedStore:
    """GeneratorStore on POPO (memory), SQLite or PostgreSQL, by URL."""

    def __init__(self, url: str, cache_size: int = 1000) -> None:
        env = persistence_env(url)
        env["AGGREGATE_CACHE_MAXSIZE"] = str(cache_size)
        self.url = url
        self.app = _Generators(env=env)
        self.recorder = self.app.recorder

    def get(self, generator_id: UUID, version: int | None = None) -> Generator:
        try:
            return self.app.repository.get(
                generator_id, version=version, projector_func=project_generator
            )
        except AggregateNotFoundError:
            at = "" if version is None else f" at version {version}"
            raise UnknownGenerator(f"no generator {generator_id}{at}") from None

    def save(self, generator: Generator) -> Sequence[Any]:
        events = list(generator.collect_events())
        if not events:
            return events
        try:
            self.app.save(*events)
        except IntegrityError:
            raise ConcurrentWrite(str(generator.id)) from None
        return events

    def events(self, generator_id: UUID) -> Sequence[Any]:
        events = list(self.app.events.get(generator_id))
        if not events:
            raise UnknownGenerator(f"no generator {generator_id}")
        return events

    def generator_ids(self) -> list[UUID]:
        ids, start = [], 1
        topic = Generator.Created.TOPIC
        while True:
            page = self.recorder.select_notifications(start, _PAGE, topics=[topic])
            ids += [UUID(str(n.originator_id)) for n in page]
            if len(page) < _PAGE:
                return ids
            start = page[-1].id + 1

    def close(self) -> None:
        self.app.close()
