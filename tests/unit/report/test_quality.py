import pytest

from ffwd.adapters.report.quality import compare_table, summarize
from tests.unit.report.tables import original, shuffled, uniform

COLUMNS = ["id", "segment", "age", "income", "joined", "bio"]


def compare(theirs, text_columns=("bio",)):
    ours = original()
    return compare_table(COLUMNS, ours, theirs(ours), list(text_columns))


def test_a_copy_of_the_original_is_accurate():
    report = compare(lambda rows: [dict(r) for r in rows])
    assert report["accuracy"] > 0.97
    assert all(part == pytest.approx(1) for part in report["parts"].values())


def test_shuffled_columns_keep_distributions_but_lose_associations():
    good, shuffled_ = compare(lambda rows: rows), compare(shuffled)
    assert shuffled_["parts"]["univariate"] > 0.97
    assert shuffled_["parts"]["bivariate"] < good["parts"]["bivariate"] - 0.1
    assert shuffled_["accuracy"] < good["accuracy"]


def test_uniform_random_data_scores_clearly_lower():
    good, bad = compare(lambda rows: rows), compare(uniform)
    assert bad["accuracy"] < good["accuracy"] - 0.2
    assert bad["parts"]["text"] < 0.6


def test_a_synthetic_table_without_rows_scores_zero():
    report = compare(lambda rows: [])
    assert report["rows"] == {"original": 600, "synthetic": 0}
    assert report["accuracy"] == 0
    assert report["text"]["bio"]["samples"]["synthetic"] == []


def test_identifiers_are_listed_but_not_compared():
    column = compare(lambda rows: rows)["columns"]["id"]
    assert column == {"kind": "key", "distance": None}


def test_a_constant_column_and_empty_cells_are_compared_without_error():
    def flatten(rows):
        return [
            {**r, "segment": "retired", "age": "" if i % 3 else r["age"]}
            for i, r in enumerate(rows)
        ]

    ours = flatten(original())
    report = compare_table(COLUMNS, ours, shuffled(ours), ["bio"])
    assert report["columns"]["segment"]["distance"] == 0
    assert report["columns"]["age"]["distance"] == pytest.approx(0)
    assert 0 <= report["accuracy"] <= 1


def test_missing_columns_in_the_synthetic_table_count_as_empty():
    report = compare(lambda rows: [{"segment": r["segment"]} for r in rows])
    assert report["columns"]["segment"]["distance"] == 0
    assert report["columns"]["age"]["distance"] == 1


def test_summary_has_the_documented_keys():
    tables = {"a": compare(lambda rows: rows), "b": compare(uniform)}
    report = summarize("demo", tables)
    assert {"accuracy", "method", "tables"} <= report.keys()
    assert report["accuracy"] == pytest.approx(
        (tables["a"]["accuracy"] + tables["b"]["accuracy"]) / 2
    )
    table = report["tables"]["a"]
    assert {"accuracy", "rows", "columns", "pairs", "text"} <= table.keys()
    kinds = {c["kind"] for c in table["columns"].values()}
    assert kinds == {"key", "categorical", "numeric", "date", "text"}
    assert all("distance" in c for c in table["columns"].values())


def test_texts_that_do_not_fit_their_rows_lower_the_associations():
    def mismatched(rows):
        bios = [r["bio"] for r in shuffled(rows)]
        return [{**r, "bio": bio} for r, bio in zip(rows, bios, strict=True)]

    good, bad = compare(lambda rows: rows), compare(mismatched)
    assert bad["parts"]["text"] == pytest.approx(1)
    assert bad["parts"]["bivariate"] < good["parts"]["bivariate"] - 0.05
    assert "bio (first word)" in bad["pairs"]["columns"]
