"""The report of an anonymization generator: what changed per column, and the utility left."""

import csv
import json
from pathlib import Path

import pytest

from ffwd.adapters.anonymization import AindoAnonymizer
from ffwd.adapters.report import QualityReport
from ffwd.adapters.report.anonymized import compare_anonymized, describe_change
from ffwd.application.spec import parse_spec
from tests.unit.report.tables import original


def test_the_summary_says_what_each_technique_did():
    def summary(technique, ours, theirs):
        entry, _ = describe_change(technique, ours, theirs)
        return entry["summary"]

    assert summary("mask", ["ab", "cd"], ["**", "**"]) == "masked 100%"
    assert summary("hash", ["a", "b"], ["x", "y"]) == "hashed 100%"
    assert summary("mock", ["a", "b"], ["x", "b"]) == "mocked 50%"
    assert summary("null", ["a", "", "c", "d"], ["", "", "", ""]) == "nulled 100% (empty)"
    assert summary("perturb_number", ["1", "2", "3", "4"], ["1", "4", "3", "8"]) == (
        "perturbed 50%: mean abs change 1.5"
    )
    assert summary("perturb_date", ["2020-01-01", "2020-01-03"], ["2020-01-02", "2020-01-03"]) == (
        "perturbed 50%: mean abs change 0.5 days"
    )
    assert summary("perturb_category", list("aabb"), list("abbb")) == (
        "perturbed: 25% of cells changed category"
    )
    assert summary("bin", ["1", "7", "12"], ["(0, 10]", "(0, 10]", "(10, 20]"]) == (
        "binned into 2 bins (100% of cells changed)"
    )
    assert summary("swap", list("abcd"), list("bacd")) == (
        "swapped: 50% of cells changed, the same values"
    )
    assert summary("top_bottom_code", ["1", "5", "9", "5"], ["2", "5", "8", "5"]) == (
        "top/bottom coded: 50% of cells clipped to 2 \u2013 8"
    )
    assert summary("top_bottom_code_category", list("aaab"), list("aaaZ")) == (
        "rare categories grouped into Z: b (25% of cells)"
    )
    assert summary(None, list("ab"), list("ab")) == "unchanged"


def test_a_column_relabeled_one_to_one_keeps_its_utility_and_bins_count_at_their_midpoints():
    rows = original(300)
    hashed = [dict(r, segment=f"h-{r['segment']}", age="(0, 200]") for r in rows]
    table = compare_anonymized(list(rows[0]), rows, hashed, {"segment": "hash", "age": "bin"})
    assert table["changes"]["segment"]["compared_as"] == "original labels (relabeled one to one)"
    assert table["columns"]["segment"]["distance"] == 0
    assert table["changes"]["age"]["compared_as"] == "bin midpoints"
    assert table["columns"]["age"]["kind"] == "numeric"
    assert table["columns"]["age"]["mean"]["synthetic"] == 100
    masked = [dict(r, segment="***") for r in rows]
    table = compare_anonymized(list(rows[0]), rows, masked, {"segment": "mask"})
    assert table["changes"]["segment"]["compared_as"] == "values"
    assert table["columns"]["segment"]["distance"] > 0.5


@pytest.fixture
def people(tmp_path: Path) -> str:
    rows = original(300)
    path = tmp_path / "people.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return str(path)


def test_the_report_files_hold_the_changes_and_the_utility(people: str, tmp_path: Path):
    spec = parse_spec(
        {
            "name": "anon <people>",
            "kind": "anonymization",
            "tables": [{"name": "people", "path": people}],
            "anonymization": {
                "columns": {
                    "people": {
                        "id": {"technique": "mask", "characters": 2},
                        "income": {"technique": "perturb_number", "alpha": 0.2},
                        "age": {"technique": "bin", "bins": [0, 30, 60, 120]},
                        "bio": {"technique": "null"},
                    }
                }
            },
        }
    )
    out = AindoAnonymizer().anonymize(spec, str(tmp_path / "out"))
    files = QualityReport().write(spec, out, str(tmp_path / "out"))
    report = json.loads(Path(files["report"]).read_text(encoding="utf-8"))
    assert list(report) == [
        "generator", "kind", "accuracy", "parts", "changed", "method", "tables",
    ]  # fmt: skip
    assert report["kind"] == "anonymization"
    table = report["tables"]["people"]
    changes = table["changes"]
    assert list(changes) == ["id", "segment", "age", "income", "joined", "bio"]
    assert changes["segment"] == {
        "technique": None,
        "changed": 0.0,
        "summary": "unchanged",
        "compared_as": "values",
    }
    assert changes["id"]["summary"] == "masked 100%"
    assert changes["id"]["distinct"] == {"original": 300, "anonymized": 300}
    assert changes["bio"]["summary"] == "nulled 100% (empty)"
    assert changes["age"]["bins"] == 3
    assert changes["income"]["changed"] > 0.9
    assert changes["income"]["summary"].startswith("perturbed ")
    assert changes["income"]["mean_abs_change"] > 0
    assert 0 < report["changed"] < 1
    assert 0 < report["accuracy"] < 1
    assert table["columns"]["segment"]["distance"] == 0
    assert table["columns"]["bio"]["distance"] == 1  # a suppressed column keeps no utility
    page = Path(files["report_html"]).read_text(encoding="utf-8")
    assert "Anonymization report · anon &lt;people&gt;" in page
    assert "<h3>What changed</h3>" in page and "perturbed " in page
    assert "300 anonymized rows" in page and "Cells changed" in page
    assert "synthetic" not in page.split("<footer>")[0]  # the method text names both


def test_a_training_report_keeps_its_own_page(people: str, tmp_path: Path):
    spec = parse_spec({"name": "t", "tables": [{"name": "people", "path": people}]})
    files = QualityReport().write(spec, {"people": people}, str(tmp_path / "out"))
    report = json.loads(Path(files["report"]).read_text(encoding="utf-8"))
    assert "kind" not in report and "changes" not in report["tables"]["people"]
    page = Path(files["report_html"]).read_text(encoding="utf-8")
    assert "ffwd · synthetic data quality report" in page and "300 synthetic rows" in page
    assert "What changed" not in page and "anonymized" not in page
