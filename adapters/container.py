"""The composition root: which adapters serve which ports, chosen from configuration."""

import os
import random
import socket
import time

from dependency_injector import containers, providers
from eventsourcing.persistence import PersistenceError

from ffwd.adapters.anonymization import AindoAnonymizer
from ffwd.adapters.checkpoints import FileCheckpointStore
from ffwd.adapters.datasets.csv_tables import CsvDatasets
from ffwd.adapters.engines import mostlyai
from ffwd.adapters.engines.reference.engine import ReferenceEngine
from ffwd.adapters.report.writer import QualityReport
from ffwd.adapters.storage.event_store import EventSourcedStore
from ffwd.adapters.storage.follower import PollingFollower
from ffwd.adapters.storage.urls import DEFAULT_STORE
from ffwd.adapters.workspace import FileWorkspace
from ffwd.application.ports import EventFeed
from ffwd.application.service import GeneratorService
from ffwd.application.spec_check import SpecCheck

DEFAULT_DATA = ".ffwd/data"


def _real_engines(data) -> dict[str, providers.Provider]:
    """Engines of installed extras, registered without importing them (ADR 0015): the
    mostlyai adapter loads torch and the engine only when a phase trains."""
    found = {}
    if mostlyai.installed():
        found["mostlyai"] = providers.Singleton(mostlyai.MostlyAIEngine, root=data)
    return found


def open_store(url: str, attempts: int = 5) -> EventSourcedStore:
    """The store for `url`. Processes starting at once on one PostgreSQL (N `ffwd worker`s)
    race on eventsourcing's table and function creation (`tuple concurrently updated`): the
    loser waits a moment and opens it again."""
    for attempt in range(attempts):
        try:
            return EventSourcedStore(url)
        except PersistenceError:
            if attempt == attempts - 1 or not url.startswith(("postgresql:", "postgres:")):
                raise
            time.sleep(random.uniform(0.05, 0.2) * (attempt + 1))
    raise AssertionError("unreachable")


def event_feed(store: EventSourcedStore) -> EventFeed:
    """How other processes' events reach this one: LISTEN/NOTIFY on PostgreSQL, polling on
    SQLite and memory (ADR 0007, ADR 0016). psycopg is only imported for a PostgreSQL store."""
    if store.url.startswith(("postgresql:", "postgres:")):
        from ffwd.adapters.storage.postgres_follower import PostgresFollower

        return PostgresFollower(store)
    return PollingFollower(store)


class Container(containers.DeclarativeContainer):
    config = providers.Configuration()
    store = providers.Singleton(open_store, url=config.store)
    datasets = providers.Singleton(CsvDatasets)
    checkpoints = providers.Singleton(FileCheckpointStore, root=config.data)
    engines = providers.Dict(
        reference=providers.Singleton(ReferenceEngine, checkpoints), **_real_engines(config.data)
    )
    reports = providers.Singleton(QualityReport)
    anonymizer = providers.Singleton(AindoAnonymizer)
    workspace = providers.Singleton(FileWorkspace, root=config.data)
    feed = providers.Singleton(event_feed, store=store)
    spec_check = providers.Singleton(
        SpecCheck, datasets=datasets, engines=engines, anonymizer=anonymizer
    )
    service = providers.Singleton(
        GeneratorService,
        store=store,
        datasets=datasets,
        engines=engines,
        reports=reports,
        workspace=workspace,
        feed=feed,
        anonymizer=anonymizer,
        worker=config.worker,
    )


def build_container(store: str | None = None, data: str | None = None) -> Container:
    container = Container()
    container.config.from_dict(
        {
            "store": store or DEFAULT_STORE,
            "data": data or DEFAULT_DATA,
            "worker": f"{socket.gethostname()}:{os.getpid()}",  # one name per process
        }
    )
    return container


def build_service(store: str | None = None, data: str | None = None) -> GeneratorService:
    """The service for embedded use, e.g. `build_service("sqlite:///ffwd.db", "ffwd-data")`."""
    return build_container(store, data).service()
