"""The anonymizer over CSV files: same shape out, unnamed columns untouched, repeatable, and
nothing written when a column cannot take its technique."""

import csv
from pathlib import Path

import pytest

from ffwd.adapters.anonymization import AindoAnonymizer
from ffwd.adapters.anonymization.anonymizer import column_seed
from ffwd.application.spec import parse_spec
from ffwd.domain.errors import InvalidSpec

PEOPLE = [
    ["id", "name", "age", "city", "joined", "note"],
    *[
        [f"P{i:03d}", f"Person {i}", str(20 + i % 50), ["Rome", "Oslo", "Lima"][i % 3],
         f"2021-{1 + i % 12:02d}-{1 + i % 28:02d}", "" if i % 4 else "likes tea, a lot"]
        for i in range(60)
    ],
]  # fmt: skip
VISITS = [["id", "person", "minutes"], *[[f"V{i}", f"P{i % 7:03d}", str(i)] for i in range(30)]]


def write(path: Path, rows: list[list[str]]) -> str:
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
    return str(path)


def read(path: str) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


@pytest.fixture
def tables(tmp_path: Path) -> dict[str, str]:
    return {
        "people": write(tmp_path / "people.csv", PEOPLE),
        "visits": write(tmp_path / "visits.csv", VISITS),
    }


def make(tables: dict[str, str], columns: dict, seed: int = 0):
    return parse_spec(
        {
            "name": "t",
            "kind": "anonymization",
            "tables": [{"name": n, "path": p} for n, p in tables.items()],
            "anonymization": {"seed": seed, "columns": columns},
        }
    )


COLUMNS = {
    "people": {
        "id": {"technique": "hash", "key": "k"},
        "name": {"technique": "mock", "provider": "name"},
        "age": {"technique": "perturb_number", "alpha": 0.4},
        "joined": {"technique": "perturb_date", "alpha": 0.4},
        "note": {"technique": "null"},
    },
    "visits": {"person": {"technique": "hash", "key": "k"}},
}


def test_each_table_comes_out_with_the_same_columns_rows_and_untouched_columns(tables, tmp_path):
    out = AindoAnonymizer().anonymize(make(tables, COLUMNS), str(tmp_path / "out"))
    assert out == {n: str(tmp_path / "out" / f"{n}.csv") for n in ("people", "visits")}
    people, visits = read(out["people"]), read(out["visits"])
    assert people[0] == PEOPLE[0] and len(people) == len(PEOPLE)
    assert visits[0] == VISITS[0] and len(visits) == len(VISITS)
    assert [r[3] for r in people] == [r[3] for r in PEOPLE]  # city: not named, copied
    assert [r[0] for r in visits] == [r[0] for r in VISITS]
    assert [r[2] for r in visits] == [r[2] for r in VISITS]
    assert all(r[5] == "" for r in people[1:])
    assert all(a != b for a, b in zip(people[1:], PEOPLE[1:], strict=True))
    # The same key in two tables keeps them joinable.
    assert {r[1] for r in visits[1:]} <= {r[0] for r in people[1:]}


def test_the_same_spec_writes_the_same_files_and_another_seed_other_ones(tables, tmp_path):
    anonymizer = AindoAnonymizer()
    a = anonymizer.anonymize(make(tables, COLUMNS), str(tmp_path / "a"))
    b = anonymizer.anonymize(make(tables, COLUMNS), str(tmp_path / "b"))
    c = anonymizer.anonymize(make(tables, COLUMNS, seed=1), str(tmp_path / "c"))
    assert Path(a["people"]).read_bytes() == Path(b["people"]).read_bytes()
    assert Path(a["people"]).read_bytes() != Path(c["people"]).read_bytes()


def test_naming_another_column_changes_no_other_column(tables, tmp_path):
    fewer = {"people": {"age": {"technique": "perturb_number"}}}
    more = {"people": {"age": {"technique": "perturb_number"}, "city": {"technique": "swap"}}}
    a = read(AindoAnonymizer().anonymize(make(tables, fewer), str(tmp_path / "a"))["people"])
    b = read(AindoAnonymizer().anonymize(make(tables, more), str(tmp_path / "b"))["people"])
    assert [r[2] for r in a] == [r[2] for r in b]
    assert column_seed(0, "people", "age") != column_seed(0, "people", "city")


def test_no_technique_copies_every_table_as_it_is(tables, tmp_path):
    out = AindoAnonymizer().anonymize(make(tables, {}), str(tmp_path / "out"))
    assert read(out["people"]) == PEOPLE and read(out["visits"]) == VISITS


def test_every_problem_with_the_data_is_listed_and_nothing_is_written(tables, tmp_path):
    columns = {
        "people": {
            "name": {"technique": "perturb_number"},
            "city": {"technique": "perturb_date"},
            "joined": {"technique": "bin"},
            "id": {"technique": "hash", "key_env": "FFWD_TEST_UNSET_KEY"},
            "note": {"technique": "mock", "provider": "name", "locale": "xx_XX"},
            "ghost": {"technique": "null"},
        },
        "nowhere": {"x": {"technique": "null"}},
    }
    spec = make(tables, columns)
    anonymizer = AindoAnonymizer(environ={})
    expected = [
        "anonymization.columns.people: no such columns ['ghost']",
        "anonymization.columns.nowhere: no such table (tables: ['people', 'visits'])",
        "anonymization.columns.people.name: perturb_number needs numbers; row 1's value is not one",
        "anonymization.columns.people.city: perturb_date needs ISO dates; row 1's value is not one",
        "anonymization.columns.people.joined: bin needs numbers; row 1's value is not one",
        "anonymization.columns.people.id: hash: the environment variable FFWD_TEST_UNSET_KEY "
        "is not set",
        "anonymization.columns.people.note: mock: Faker has no locale 'xx_XX'",
    ]
    out = tmp_path / "out"
    with pytest.raises(InvalidSpec) as e:
        anonymizer.anonymize(spec, str(out))
    assert e.value.problems == expected
    assert not out.exists()
    # Where a generator is created, the key's variable may be unset: it is read where it runs.
    assert anonymizer.check(spec) == [p for p in expected if "FFWD_TEST_UNSET_KEY" not in p]


def test_check_reports_an_unreadable_table(tables, tmp_path):
    spec = make(tables | {"gone": str(tmp_path / "gone.csv")}, {})
    assert AindoAnonymizer().check(spec) == [f"tables.gone.path: no such file: {tmp_path}/gone.csv"]


def test_a_key_from_the_environment_is_used_when_set(tables, tmp_path):
    columns = {"visits": {"person": {"technique": "hash", "key_env": "SHOP_KEY"}}}
    literal = {"visits": {"person": {"technique": "hash", "key": "s3cret"}}}
    env = AindoAnonymizer(environ={"SHOP_KEY": "s3cret"})
    assert env.check(make(tables, columns)) == []
    a = env.anonymize(make(tables, columns), str(tmp_path / "a"))["visits"]
    b = AindoAnonymizer().anonymize(make(tables, literal), str(tmp_path / "b"))["visits"]
    assert read(a) == read(b) != VISITS
