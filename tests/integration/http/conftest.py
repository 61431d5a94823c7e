"""Fixtures of the HTTP API tests: a memory-store service over tiny CSVs, the app, and a
`TestClient` on it (the ASGI app in process, no network)."""

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ffwd.adapters.container import build_service
from ffwd.adapters.http import create_app
from ffwd.application.service import GeneratorService
from tests.integration.http.helpers import TestClient

CUSTOMERS = """id,age,city,bio
1,34,Vienna,Likes long walks by the river
2,51,Graz,Collects old maps of central Europe
3,27,Linz,Plays the violin in a small band
4,45,Salzburg,Writes short stories about mountain towns
5,38,Vienna,Builds wooden boats every single summer
6,62,Innsbruck,Teaches chemistry to curious teenagers
7,29,Graz,Runs along the river every morning
8,55,Linz,Grows tomatoes on a tiny balcony
"""


@pytest.fixture
def tables(tmp_path: Path) -> Path:
    folder = tmp_path / "tables"
    folder.mkdir()
    (folder / "customers.csv").write_text(CUSTOMERS, encoding="utf-8")
    return folder


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def spec(tables: Path) -> dict[str, Any]:
    """Phases `tabular` and `text:customers`; steps `synthesis` and `report`."""
    return {
        "name": "customers-demo",
        "tables": [{"name": "customers", "path": str(tables / "customers.csv")}],
        "training": {"max_epochs": 1},
    }


@pytest.fixture
def svc(data_dir: Path) -> Iterator[GeneratorService]:
    service = build_service(store="memory://", data=str(data_dir))
    try:
        yield service
    finally:
        service.store.close()


@pytest.fixture
def make_client(svc: GeneratorService, tables: Path) -> Iterator[Callable[..., TestClient]]:
    """`make_client(**create_app_options)`: a TestClient on a new app over `svc`, whose input
    folder is `tables`, asking for `http://localhost`."""
    clients: list[TestClient] = []

    def make(**options: Any) -> TestClient:
        options.setdefault("api_token", "")
        options.setdefault("inputs", [tables])
        client = TestClient(create_app(svc, **options))
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client()


@pytest.fixture
def create(client: TestClient, spec: dict[str, Any]) -> Callable[..., str]:
    """`create(**spec_changes)`: a generator created through the API; its id."""

    def create_generator(**changes: Any) -> str:
        response = client.post("/api/generators", json={**spec, **changes})
        assert response.status_code == 201, response.text
        return response.json()["id"]

    return create_generator
