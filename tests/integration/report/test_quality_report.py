"""The quality report over the shipped sample data, written to files as the pipeline does."""

import csv
import json
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from ffwd.adapters.datasets.csv_tables import is_date, is_number
from ffwd.adapters.report import QualityReport
from ffwd.application.spec import parse_spec
from ffwd.application.training import ReportWriter

SAMPLE = Path(__file__).resolve().parents[3] / "adapters" / "sample_data"


@pytest.fixture(scope="module")
def spec():
    raw = json.loads((SAMPLE / "demo.json").read_text())
    for table in raw["tables"]:
        table["path"] = str(SAMPLE / table["path"])
    return parse_spec(raw)


def read(path):
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames), list(reader)


def write(path, columns, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return str(path)


def synthetic(spec, tmp_path, change):
    """Each table of the spec, changed by `change(columns, rows, rng)`, as a CSV file."""
    rng = np.random.default_rng(7)
    tmp_path.mkdir(parents=True, exist_ok=True)
    paths = {}
    for table in spec.tables:
        columns, rows = read(table.path)
        paths[table.name] = write(
            tmp_path / f"{table.name}.csv", columns, change(columns, rows, rng)
        )
    return paths


def same(columns, rows, rng):
    return rows


def shuffle(columns, rows, rng):
    values = {c: rng.permutation([r[c] for r in rows]) for c in columns}
    return [{c: values[c][i] for c in columns} for i in range(len(rows))]


def uniform(columns, rows, rng):
    """Each column drawn uniformly at random: numbers and dates over the original's range,
    categories over its categories, text as random letters of random length."""
    letters = list("abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ.,")
    draws = {}
    for column in columns:
        values = [r[column] for r in rows if r[column]]
        if column in ("bio", "review"):
            draws[column] = lambda: "".join(rng.choice(letters, size=rng.integers(90)))
        elif all(is_number(v) for v in values):
            low, high = min(map(float, values)), max(map(float, values))
            draws[column] = lambda low=low, high=high: f"{rng.uniform(low, high):.2f}"
        elif all(is_date(v) for v in values):
            days = [date.fromisoformat(v).toordinal() for v in values]
            span = (min(days), max(days) + 1)
            draws[column] = lambda span=span: date.fromordinal(rng.integers(*span)).isoformat()
        else:
            options = sorted(set(values))
            draws[column] = lambda options=options: options[rng.integers(len(options))]
    return [{c: draws[c]() for c in columns} for _ in rows]


def report(spec, tmp_path, change):
    paths = QualityReport().write(spec, synthetic(spec, tmp_path, change), str(tmp_path / "out"))
    return json.loads(Path(paths["report"]).read_text()), Path(paths["report_html"]).read_text()


def test_quality_report_is_a_report_writer():
    assert isinstance(QualityReport(), ReportWriter)


def test_writes_json_and_html_into_the_output_directory(spec, tmp_path):
    paths = QualityReport().write(spec, synthetic(spec, tmp_path, same), str(tmp_path / "out"))
    assert paths == {
        "report": str(tmp_path / "out" / "report.json"),
        "report_html": str(tmp_path / "out" / "report.html"),
    }
    assert all(Path(p).stat().st_size > 0 for p in paths.values())


def test_identical_tables_score_above_97_percent(spec, tmp_path):
    result, html = report(spec, tmp_path, same)
    assert result["accuracy"] > 0.97
    assert f"{result['accuracy']:.1%}" in html


def test_shuffled_columns_score_lower_on_associations(spec, tmp_path):
    good, _ = report(spec, tmp_path / "good", same)
    bad, _ = report(spec, tmp_path / "bad", shuffle)
    assert bad["parts"]["univariate"] > 0.99
    assert bad["parts"]["bivariate"] < good["parts"]["bivariate"] - 0.05
    customers = bad["tables"]["customers"]["pairs"]
    assert ["age", "segment"] in [p["columns"] for p in customers["worst"]]


def test_uniform_random_tables_score_clearly_lower(spec, tmp_path):
    good, _ = report(spec, tmp_path / "good", same)
    bad, _ = report(spec, tmp_path / "bad", uniform)
    assert bad["accuracy"] < good["accuracy"] - 0.2


def test_the_json_has_the_documented_keys(spec, tmp_path):
    result, _ = report(spec, tmp_path, same)
    assert {"accuracy", "method", "tables"} <= result.keys()
    assert set(result["tables"]) == {"customers", "orders"}
    for table in result["tables"].values():
        assert {"accuracy", "rows", "columns", "pairs", "text"} <= table.keys()
        assert {"original", "synthetic"} == table["rows"].keys()
        for column in table["columns"].values():
            assert column["kind"] in {"categorical", "numeric", "date", "text", "key"}
            assert "distance" in column
    assert result["tables"]["customers"]["columns"]["bio"]["kind"] == "text"
    assert result["tables"]["orders"]["text"]["review"]["samples"]["synthetic"]


def test_a_script_tag_in_a_text_value_is_escaped(spec, tmp_path):
    def hostile(columns, rows, rng):
        return [{**r, "bio": "<script>alert('x')</script>"} if "bio" in r else r for r in rows]

    _, html = report(spec, tmp_path, hostile)
    assert "<script" not in html
    assert "&lt;script&gt;" in html


def test_a_synthetic_table_with_no_rows(spec, tmp_path):
    result, html = report(spec, tmp_path, lambda columns, rows, rng: [])
    assert result["accuracy"] == 0
    assert result["tables"]["orders"]["rows"]["synthetic"] == 0
    assert "0 synthetic rows" in html


def test_a_report_covers_a_few_thousand_rows(spec, tmp_path):
    """Was: also timed against 1.5 s, which a loaded machine need not meet (issue 13)."""
    result, _ = report(spec, tmp_path, shuffle)
    for table in spec.tables:
        rows = len(read(table.path)[1])
        assert result["tables"][table.name]["rows"] == {"original": rows, "synthetic": rows}
