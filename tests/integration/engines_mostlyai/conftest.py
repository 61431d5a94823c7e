"""A tiny customers table and a mostlyai-engine adapter under a temp folder.

48 training rows in batches of 16: an epoch is 3 optimizer steps, so every test takes seconds.
"""

import uuid
from pathlib import Path

import pytest

from ffwd.adapters.engines.mostlyai import MostlyAIEngine
from ffwd.application.spec import TableSpec

WORDS = ["river", "maps", "violin", "boats", "stories", "chemistry", "mountain", "summer"]
CITIES = ["Vienna", "Graz", "Linz"]


def write_customers(path: Path, rows: int = 60) -> Path:
    lines = ["age,city,bio"]
    for i in range(rows):
        words = " ".join(WORDS[(i * k + 3) % len(WORDS)] for k in (1, 3, 5))
        lines.append(f"{20 + (i * 7) % 50},{CITIES[i % 3]},{words}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def customers_csv(tmp_path_factory) -> Path:
    return write_customers(tmp_path_factory.mktemp("mostlyai-data") / "customers.csv")


@pytest.fixture
def customers(customers_csv: Path) -> TableSpec:
    return TableSpec(name="customers", path=str(customers_csv), text_columns=["bio"])


@pytest.fixture(scope="session")
def plain_csv(tmp_path_factory) -> Path:
    """The same rows without the text column: a table with a tabular phase only."""
    source = write_customers(tmp_path_factory.mktemp("mostlyai-plain") / "full.csv")
    lines = [line.rsplit(",", 1)[0] for line in source.read_text().splitlines()]
    path = source.with_name("plain.csv")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def plain(plain_csv: Path) -> TableSpec:
    return TableSpec(name="plain", path=str(plain_csv), text_columns=[])


@pytest.fixture
def engine(tmp_path: Path) -> MostlyAIEngine:
    return MostlyAIEngine(str(tmp_path / "data"))


@pytest.fixture
def generator_id() -> str:
    return str(uuid.uuid4())
