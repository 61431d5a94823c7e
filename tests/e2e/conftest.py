"""End-to-end fixtures: a service per store (memory and an SQLite file) over a fresh data
directory, and a tiny two-table dataset with its specs."""

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from ffwd.adapters.container import build_service
from ffwd.application.service import GeneratorService
from tests.e2e.data import write_customers, write_orders
from tests.e2e.helpers import make_spec


@pytest.fixture(params=["memory", "sqlite"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "memory":
        return "memory://"
    return f"sqlite:///{tmp_path / 'store' / 'ffwd.db'}"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """The `--data` directory: checkpoints, synthetic tables and reports, nothing else."""
    return tmp_path / "data"


@pytest.fixture(scope="session")
def tables_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """customers.csv and orders.csv, 300 rows each (only ever read by the tests)."""
    folder = tmp_path_factory.mktemp("tables")
    write_customers(folder / "customers.csv")
    write_orders(folder / "orders.csv")
    return folder


@pytest.fixture
def svc(store_url: str, data_dir: Path) -> Iterator[GeneratorService]:
    service = build_service(store=store_url, data=str(data_dir))
    try:
        yield service
    finally:
        service.store.close()


@pytest.fixture
def create(svc: GeneratorService, tables_dir: Path) -> Callable[..., UUID]:
    """`create(max_epochs=5, ...)`: a queued generator over the two tables."""

    def create_generator(**options: Any) -> UUID:
        return svc.create_generator(make_spec(**options), base_dir=tables_dir)

    return create_generator
