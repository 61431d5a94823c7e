"""Fixtures for the reference engine: a customers CSV, a checkpoint store, an engine."""

from pathlib import Path

import pytest

from ffwd.adapters.checkpoints import FileCheckpointStore
from ffwd.adapters.engines.reference import ReferenceEngine
from ffwd.application.spec import TableSpec
from tests.integration.engines.customers import write_customers


@pytest.fixture(scope="session")
def customers_csv(tmp_path_factory) -> Path:
    return write_customers(tmp_path_factory.mktemp("data") / "customers.csv")


@pytest.fixture
def customers(customers_csv: Path) -> TableSpec:
    return TableSpec(name="customers", path=str(customers_csv), text_columns=["review"])


@pytest.fixture
def store(tmp_path: Path) -> FileCheckpointStore:
    return FileCheckpointStore(str(tmp_path / "files"))


@pytest.fixture
def engine(store: FileCheckpointStore) -> ReferenceEngine:
    return ReferenceEngine(store)
