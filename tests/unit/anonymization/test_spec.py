"""The anonymization section of a spec: techniques and options checked by pydantic, every
problem listed; tables and columns checked against the tables' headers."""

import pytest

from ffwd.application.spec import AnonymizationSpec, GeneratorSpec, parse_spec
from ffwd.domain.errors import InvalidSpec


def spec(columns: dict, **section) -> dict:
    return {
        "name": "a",
        "kind": "anonymization",
        "tables": [{"name": "people", "path": "people.csv"}],
        "anonymization": {"columns": {"people": columns}, **section},
    }


def problems(columns: dict, **section) -> list[str]:
    with pytest.raises(InvalidSpec) as e:
        parse_spec(spec(columns, **section))
    assert e.value.code == "invalid_spec"
    return e.value.problems


def test_every_technique_is_accepted_with_its_defaults():
    parsed = parse_spec(
        spec(
            {
                "a": {"technique": "mask"},
                "b": {"technique": "hash", "key": "k"},
                "c": {"technique": "perturb_number"},
                "d": {"technique": "perturb_date"},
                "e": {"technique": "perturb_category"},
                "f": {"technique": "bin"},
                "g": {"technique": "swap"},
                "h": {"technique": "top_bottom_code"},
                "i": {"technique": "top_bottom_code_category"},
                "j": {"technique": "mock", "provider": "name"},
                "k": {"technique": "null"},
            }
        )
    )
    columns = parsed.anonymization.columns["people"]
    assert parsed.anonymization.seed == 0
    assert (columns["a"].characters, columns["a"].symbol, columns["a"].direction) == (
        None,
        "*",
        "left",
    )
    assert (columns["c"].alpha, columns["c"].mode, columns["c"].range) == (0.5, "weighted", None)
    assert columns["f"].bins == 10
    assert columns["g"].alpha == 0.5
    assert (columns["h"].q, columns["h"].lower, columns["h"].upper) == (0.1, None, None)
    assert (columns["i"].q, columns["i"].other) == (0.05, "OTHER")
    assert columns["k"].value == ""


def test_a_spec_round_trips_through_its_stored_json():
    parsed = parse_spec(
        spec(
            {
                "d": {
                    "technique": "perturb_date",
                    "mode": "uniform",
                    "range": ["2020-01-01", "2021-01-01"],
                },
                "f": {"technique": "bin", "bins": [0, 18, 65, 120]},
            },
            seed=42,
        )
    )
    assert GeneratorSpec.model_validate(parsed.model_dump(mode="json")) == parsed


def test_an_anonymization_generator_without_a_section_copies_everything():
    raw = spec({})
    del raw["anonymization"]
    assert parse_spec(raw).anonymization == AnonymizationSpec()


def test_an_unknown_technique_is_rejected_naming_the_known_ones():
    [problem] = problems({"age": {"technique": "blur"}})
    assert problem.startswith("anonymization.columns.people.age: ")
    assert "'blur'" in problem and "'perturb_number'" in problem and "'mask'" in problem


def test_a_missing_technique_is_rejected():
    [problem] = problems({"age": {"alpha": 0.3}})
    assert problem.startswith("anonymization.columns.people.age: ")
    assert "technique" in problem


@pytest.mark.parametrize(
    ("options", "where", "words"),
    [
        ({"technique": "mask", "length": 3}, "mask.length", "Extra inputs"),
        ({"technique": "mask", "symbol": "##"}, "mask.symbol", "at most 1"),
        ({"technique": "mask", "characters": 0}, "mask.characters", "greater than or equal"),
        ({"technique": "hash"}, "hash", "exactly one of 'key' and 'key_env'"),
        ({"technique": "hash", "key": "k", "key_env": "K"}, "hash", "exactly one"),
        ({"technique": "hash", "key_env": "NOT A NAME"}, "hash.key_env", "pattern"),
        ({"technique": "perturb_number", "alpha": 1.5}, "perturb_number.alpha", "less than"),
        ({"technique": "perturb_number", "mode": "wild"}, "perturb_number.mode", "weighted"),
        ({"technique": "perturb_number", "range": [0, 1]}, "perturb_number", "only applies"),
        (
            {"technique": "perturb_number", "mode": "uniform", "range": [5, 1]},
            "perturb_number",
            "low below high",
        ),
        (
            {"technique": "perturb_date", "range": ["2020-01-01", "y"]},
            "perturb_date.range.1",
            "date",
        ),
        (
            {"technique": "perturb_category", "frequencies": {}},
            "perturb_category.frequencies",
            "at least 1",
        ),
        ({"technique": "bin", "bins": [3, 2]}, "bin", "increase strictly"),
        ({"technique": "swap", "alpha": -0.1}, "swap.alpha", "greater than or equal"),
        ({"technique": "top_bottom_code", "q": 0.1, "upper": 5}, "top_bottom_code", "not both"),
        ({"technique": "top_bottom_code", "lower": 5, "upper": 1}, "top_bottom_code", "below"),
        ({"technique": "top_bottom_code", "q": 1}, "top_bottom_code.q", "less than 1"),
        (
            {"technique": "top_bottom_code_category", "q": 0.1, "categories": ["a"]},
            "top_bottom_code_category",
            "not both",
        ),
        ({"technique": "mock"}, "mock.provider", "Field required"),
        ({"technique": "mock", "provider": "secret_sauce"}, "mock.provider", "'name'"),
        ({"technique": "mock", "provider": "name", "locale": "german"}, "mock.locale", "pattern"),
        ({"technique": "null", "value": 3}, "null.value", "string"),
    ],
)
def test_a_bad_option_is_rejected_where_it_is(options: dict, where: str, words: str):
    [problem] = problems({"age": options})
    assert problem.startswith(f"anonymization.columns.people.age.{where}: "), problem
    assert words in problem, problem


def test_bins_are_a_positive_count_or_a_list_of_edges():
    found = problems({"age": {"technique": "bin", "bins": 0}})
    assert found[0].startswith("anonymization.columns.people.age.bin.bins")
    assert "greater than or equal to 1" in found[0]
    assert "valid list" in " ".join(found)


def test_every_problem_is_listed_at_once():
    found = problems(
        {
            "a": {"technique": "blur"},
            "b": {"technique": "hash"},
            "c": {"technique": "bin", "bins": [1, 1]},
        },
        seed=-1,
        extra=True,
    )
    assert len(found) == 5, found
    assert any(p.startswith("anonymization.seed: ") for p in found)
    assert any(p.startswith("anonymization.extra: ") for p in found)


def test_a_training_generator_takes_no_anonymization_section():
    raw = spec({"age": {"technique": "null"}})
    raw["kind"] = "training"
    with pytest.raises(InvalidSpec, match="only for kind 'anonymization'"):
        parse_spec(raw)


def test_problems_names_unknown_tables_and_columns_and_skips_unreadable_tables():
    section = AnonymizationSpec.model_validate(
        {
            "columns": {
                "people": {"age": {"technique": "null"}, "nope": {"technique": "null"}},
                "ghosts": {"x": {"technique": "null"}},
                "orders": {"y": {"technique": "null"}},
            }
        }
    )
    found = section.problems({"people": ["id", "age"], "orders": None})
    assert found == [
        "anonymization.columns.people: no such columns ['nope']",
        "anonymization.columns.ghosts: no such table (tables: ['orders', 'people'])",
    ]
    assert AnonymizationSpec().problems({"people": ["id"]}) == []
