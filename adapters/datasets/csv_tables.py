"""CSV tables: read them, and tell free-text columns from categories, numbers and dates."""

import csv
import os
import tempfile
from datetime import date
from pathlib import Path

from ffwd.application.ports import DatasetProblem, TableInfo

MIN_TEXT_WORDS = 3.0
MIN_TEXT_UNIQUE = 0.5
# Or this many distinct values, however often they repeat: no list of categories is that long
# with several words per value (the sample orders' reviews: 629 distinct in 2,500 rows).
MIN_TEXT_DISTINCT = 100


def read_rows(path: str) -> tuple[list[str], list[dict[str, str]]]:
    """Header and rows of a CSV file, or DatasetProblem saying why it cannot be read."""
    file = Path(path)
    if not file.is_file():
        raise DatasetProblem(f"no such file: {path}")
    try:
        with file.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            rows = list(reader)
            columns = list(reader.fieldnames or [])
    except (UnicodeDecodeError, csv.Error) as e:
        raise DatasetProblem(f"cannot read {path} as UTF-8 CSV: {e}") from None
    if not columns:
        raise DatasetProblem(f"{path} has no header row")
    if len(set(columns)) != len(columns):
        raise DatasetProblem(f"{path} has duplicate column names")
    if not rows:
        raise DatasetProblem(f"{path} has no rows")
    return columns, rows


def is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def is_date(value: str) -> bool:
    try:
        date.fromisoformat(value[:10])
    except ValueError:
        return False
    return True


def is_free_text(values: list[str]) -> bool:
    """Free text: not numbers or dates, several words on average, and mostly distinct or too
    many distinct values to be categories."""
    present = [v for v in values if v != ""]
    if not present or all(is_number(v) or is_date(v) for v in present):
        return False
    distinct = len(set(present))
    words = sum(len(v.split()) for v in present) / len(present)
    many = distinct / len(present) >= MIN_TEXT_UNIQUE or distinct >= MIN_TEXT_DISTINCT
    return many and words >= MIN_TEXT_WORDS


class CsvDatasets:
    """The Datasets port over CSV files."""

    def describe(self, path: str) -> TableInfo:
        columns, rows = read_rows(path)
        text = [c for c in columns if is_free_text([r[c] or "" for r in rows])]
        return TableInfo(columns=columns, rows=len(rows), text_columns=text)


def write_csv(path: Path, columns: list[str], cells: dict[str, list[str]]) -> None:
    """Write a table at once: a reader sees the old file or the whole new one."""
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(columns)
            writer.writerows(zip(*(cells[c] for c in columns), strict=True))
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
