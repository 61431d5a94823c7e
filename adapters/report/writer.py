"""The ReportWriter port: read original and synthetic tables, write report.json and report.html.

The measures (numpy) load with the first report: a process that only deletes a cancelled
generator's files (`ffwd cancel`) builds this writer and never needs them.
"""

import csv
import json
from collections.abc import Mapping
from pathlib import Path

from ffwd.adapters.datasets.csv_tables import read_rows
from ffwd.adapters.report.page import render
from ffwd.application.ports import DatasetProblem
from ffwd.application.spec import GeneratorSpec

DIGITS = 4


class QualityReport:
    """Compares each synthetic table with its original and writes the quality report; for an
    anonymization generator, each anonymized table, with what anonymization changed."""

    def write(
        self, spec: GeneratorSpec, synthetic: Mapping[str, str], out_dir: str
    ) -> dict[str, str]:
        from ffwd.adapters.report.quality import compare_table, summarize

        if spec.kind == "anonymization":
            report = _rounded(anonymization_report(spec, synthetic))
        else:
            tables = {}
            for table in spec.tables:
                columns, original = read_rows(table.path)
                theirs = read_synthetic(synthetic[table.name]) if table.name in synthetic else []
                tables[table.name] = compare_table(columns, original, theirs, table.text_columns)
            report = _rounded(summarize(spec.name, tables))
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        json_path, html_path = out / "report.json", out / "report.html"
        json_path.write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
        html_path.write_text(render(report), encoding="utf-8")
        return {"report": str(json_path), "report_html": str(html_path)}


def anonymization_report(spec: GeneratorSpec, anonymized: Mapping[str, str]) -> dict:
    """Each anonymized table against its original: the changes per column and the utility."""
    from ffwd.adapters.report.anonymized import compare_anonymized, summarize_anonymized

    settings = spec.anonymization.columns if spec.anonymization else {}
    tables = {}
    for table in spec.tables:
        columns, original = read_rows(table.path)
        theirs = read_synthetic(anonymized[table.name]) if table.name in anonymized else []
        techniques = {c: t.technique for c, t in settings.get(table.name, {}).items()}
        tables[table.name] = compare_anonymized(columns, original, theirs, techniques)
    return summarize_anonymized(spec.name, tables)


def read_synthetic(path: str) -> list[dict[str, str]]:
    """The rows of a synthetic table; unlike an original, it may have none at all."""
    file = Path(path)
    if not file.is_file():
        raise DatasetProblem(f"no such file: {path}")
    try:
        with file.open(newline="", encoding="utf-8") as f:
            return list(csv.DictReader(f))
    except (UnicodeDecodeError, csv.Error) as e:
        raise DatasetProblem(f"cannot read {path} as UTF-8 CSV: {e}") from None


def _rounded(value):
    if isinstance(value, float):
        return round(value, DIGITS)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value
