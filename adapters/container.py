"""The composition root: which adapters serve which ports, chosen from configuration."""

import socket

from dependency_injector import containers, providers

from adapters.anonymization import AindoAnonymizer
from adapters.checkpoints import FileCheckpointStore
from adapters.datasets.csv_tables import CsvDatasets
from adapters.engines.reference.engine import ReferenceEngine
from adapters.report.writer import QualityReport
from adapters.storage.event_store import EventSourcedStore
from adapters.storage.follower import PollingFollower
from adapters.storage.urls import DEFAULT_STORE
from adapters.workspace import FileWorkspace
from application.service import GeneratorService

DEFAULT_DATA = ".ffwd/data"


class Container(containers.DeclarativeContainer):
    config = providers.Configuration()
    store = providers.Singleton(EventSourcedStore, url=config.store)
    datasets = providers.Singleton(CsvDatasets)
    checkpoints = providers.Singleton(FileCheckpointStore, root=config.data)
    engines = providers.Dict(reference=providers.Singleton(ReferenceEngine, checkpoints))
    reports = providers.Singleton(QualityReport)
    anonymizer = providers.Singleton(AindoAnonymizer)
    workspace = providers.Singleton(FileWorkspace, root=config.data)
    feed = providers.Singleton(PollingFollower, store=store)
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
            "worker": socket.gethostname(),
        }
    )
    return container


def build_service(store: str | None = None, data: str | None = None) -> GeneratorService:
    """The service for embedded use, e.g. `build_service("sqlite:///ffwd.db", "ffwd-data")`."""
    return build_container(store, data).service()
