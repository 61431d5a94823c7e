"""Every store test runs against each adapter: a fresh store per test (a new SQLite file, a new
PostgreSQL database), so every assertion can be exact."""

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ffwd.adapters.container import build_service
from ffwd.adapters.storage.event_store import EventSourcedStore
from ffwd.application.service import GeneratorService

STORES = [
    pytest.param("memory", id="memory"),
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]
PERSISTENT_STORES = STORES[1:]


def url_for(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if kind == "memory":
        return "memory://"
    if kind == "sqlite":
        return f"sqlite:///{tmp_path}/store.db"
    return request.getfixturevalue("fresh_postgres_url")  # starts the server on demand


@pytest.fixture(params=STORES)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return url_for(request.param, request, tmp_path)


@pytest.fixture(params=PERSISTENT_STORES)
def shared_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A store URL that two store objects (two processes, in real life) can share."""
    return url_for(request.param, request, tmp_path)


@pytest.fixture
def open_store() -> Iterator[Callable[[str], EventSourcedStore]]:
    opened: list[EventSourcedStore] = []

    def open_(url: str) -> EventSourcedStore:
        opened.append(EventSourcedStore(url))
        return opened[-1]

    yield open_
    for store in opened:
        store.close()


@pytest.fixture
def store(store_url: str, open_store: Callable[[str], EventSourcedStore]) -> EventSourcedStore:
    return open_store(store_url)


@pytest.fixture
def open_service(tmp_path: Path) -> Iterator[Callable[[str], GeneratorService]]:
    opened: list[GeneratorService] = []

    def open_(url: str) -> GeneratorService:
        opened.append(build_service(store=url, data=str(tmp_path / "data")))
        return opened[-1]

    yield open_
    for svc in opened:
        svc.store.close()
