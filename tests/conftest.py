"""Shared fixtures: a real PostgreSQL server (started once per session, on demand) and a
small sample table with its generator spec."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.postgres_server import PostgresServer, PostgresUnavailable


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server for the whole session; FAILS (never skips) if none can start."""
    try:
        server = PostgresServer().start()
    except PostgresUnavailable as e:
        problem = str(e)
    else:
        problem = ""
    if problem:
        pytest.fail(f"cannot start PostgreSQL for the tests: {problem}", pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres_url(postgres_server: PostgresServer) -> str:
    """`postgresql://postgres@127.0.0.1:PORT/ffwd`: one database shared by the session."""
    return postgres_server.create_database("ffwd")


@pytest.fixture
def fresh_postgres_url(postgres_server: PostgresServer) -> str:
    """A new empty database (`t_<uuid>`) for a test that needs isolation."""
    return postgres_server.create_database()


SAMPLE_CSV = """id,age,city,bio
1,34,Vienna,Likes long walks by the river
2,51,Graz,Collects old maps of central Europe
3,27,Linz,Plays the violin in a small band
4,45,Salzburg,Writes short stories about mountain towns
5,38,Vienna,Builds wooden boats every single summer
6,62,Innsbruck,Teaches chemistry to curious teenagers
"""


@pytest.fixture
def sample_spec(tmp_path: Path) -> dict[str, Any]:
    """A training spec over one table with a free-text column: phases `tabular` and
    `text:customers`, steps `synthesis` and `report`."""
    (tmp_path / "customers.csv").write_text(SAMPLE_CSV, encoding="utf-8")
    return {
        "name": "customers-demo",
        "tables": [{"name": "customers", "path": str(tmp_path / "customers.csv")}],
        "training": {"max_epochs": 5},
    }
