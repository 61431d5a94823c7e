"""The composition root: which adapters serve which ports, chosen from configuration.

dependency-injector's providers in a plain class: `dependency_injector.containers` imports
its wiring module, which imports FastAPI where it is installed (~0.2 s on every command), and
nothing here is wired. Adapters that load heavy libraries (numpy, torch, pandas) are imported
by their providers when first built, so `ffwd stop` loads none of them (ADR 0019).
"""

import os
import random
import socket
import time
from functools import partial
from typing import TYPE_CHECKING

from dependency_injector import providers
from eventsourcing.persistence import PersistenceError

from ffwd.adapters.datasets.csv_tables import CsvDatasets
from ffwd.adapters.engines.registry import Engines, Factory
from ffwd.adapters.storage.event_store import EventSourcedStore
from ffwd.adapters.storage.follower import PollingFollower
from ffwd.adapters.storage.urls import DEFAULT_LOCK_TIMEOUT_S, DEFAULT_STORE
from ffwd.adapters.workspace import FileWorkspace
from ffwd.application.orchestrator import Orchestrator
from ffwd.application.ports import EventFeed
from ffwd.application.service import GeneratorService
from ffwd.application.spec_check import SpecCheck
from ffwd.application.training import Anonymizer, ReportWriter, TrainingEngine
from ffwd.domain.errors import StoreUnavailable

if TYPE_CHECKING:
    from ffwd.adapters.privacy.rdp import RdpAccountant

DEFAULT_DATA = ".ffwd/data"


def privacy_accountant() -> "RdpAccountant":
    from ffwd.adapters.privacy.rdp import RdpAccountant

    return RdpAccountant()


def reference_engine(data: str, accountant: "RdpAccountant") -> TrainingEngine:
    from ffwd.adapters.checkpoints import FileCheckpointStore
    from ffwd.adapters.engines.reference.engine import ReferenceEngine

    return ReferenceEngine(FileCheckpointStore(data), accountant)


def extra_engines(data: str) -> dict[str, Factory]:
    """The engines of installed extras (ADR 0015), found without importing them."""
    from ffwd.adapters.engines import mostlyai

    if not mostlyai.installed():
        return {}
    return {"mostlyai": partial(mostlyai.MostlyAIEngine, root=data)}


def engines(data: str, accountant: "RdpAccountant") -> Engines:
    return Engines(
        {"reference": partial(reference_engine, data, accountant)}, partial(extra_engines, data)
    )


def quality_report() -> ReportWriter:
    from ffwd.adapters.report.writer import QualityReport

    return QualityReport()


def anonymizer() -> Anonymizer:
    from ffwd.adapters.anonymization import AindoAnonymizer

    return AindoAnonymizer()


def open_store(
    url: str, lock_timeout_s: float = DEFAULT_LOCK_TIMEOUT_S, attempts: int = 5
) -> EventSourcedStore:
    """The store for `url`. Processes starting at once on one PostgreSQL (N `ffwd worker`s)
    race on eventsourcing's table and function creation (`tuple concurrently updated`): the
    loser waits a moment and opens it again."""
    for attempt in range(attempts):
        try:
            return EventSourcedStore(url, lock_timeout_s=lock_timeout_s)
        except StoreUnavailable as e:
            if not isinstance(e.__cause__, PersistenceError):
                raise
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


class Container:
    """One provider per port; override one (`container.anonymizer.override(...)`) before the
    first `container.service()` to swap an adapter."""

    def __init__(self, store: str, data: str, worker: str, lock_timeout_s: float) -> None:
        self.store = providers.Singleton(open_store, url=store, lock_timeout_s=lock_timeout_s)
        self.datasets = providers.Singleton(CsvDatasets)
        self.accountant = providers.Singleton(privacy_accountant)
        self.engines = providers.Singleton(engines, data, self.accountant)
        self.reports = providers.Singleton(quality_report)
        self.anonymizer = providers.Singleton(anonymizer)
        self.workspace = providers.Singleton(FileWorkspace, root=data)
        self.feed = providers.Singleton(event_feed, store=self.store)
        self.spec_check = providers.Singleton(
            SpecCheck,
            datasets=self.datasets,
            engines=self.engines,
            anonymizer=self.anonymizer,
            accountant=self.accountant,
        )
        # Called by the service as pipelines(service, **options): an Orchestrator each time.
        self.pipelines = providers.Factory(
            Orchestrator,
            engines=self.engines,
            reports=self.reports,
            workspace=self.workspace,
            anonymizer=self.anonymizer,
        )
        self.service = providers.Singleton(
            GeneratorService,
            store=self.store,
            check_spec=self.spec_check,
            engines=self.engines,
            pipelines=self.pipelines.provider,
            workspace=self.workspace,
            feed=self.feed,
            worker=worker,
        )


def build_container(
    store: str | None = None,
    data: str | None = None,
    *,
    lock_timeout_s: float = DEFAULT_LOCK_TIMEOUT_S,
) -> Container:
    worker = f"{socket.gethostname()}:{os.getpid()}"  # one name per process
    return Container(store or DEFAULT_STORE, data or DEFAULT_DATA, worker, lock_timeout_s)


def build_service(
    store: str | None = None,
    data: str | None = None,
    *,
    lock_timeout_s: float = DEFAULT_LOCK_TIMEOUT_S,
) -> GeneratorService:
    """The service for embedded use, e.g. `build_service("sqlite:///ffwd.db", "ffwd-data")`.
    `lock_timeout_s`: how long a write waits for another process's lock on an SQLite file
    before `store_unavailable`."""
    return build_container(store, data, lock_timeout_s=lock_timeout_s).service()
