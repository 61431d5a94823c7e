"""CSV tables: read them, and tell free-text columns from categories, numbers and dates."""

import csv
import itertools
import os
import stat
import tempfile
from collections.abc import Iterator
from datetime import date
from pathlib import Path

from ffwd.application.ports import DatasetProblem, TableInfo

MIN_TEXT_WORDS = 3.0
MIN_TEXT_UNIQUE = 0.5
# Or this many distinct values, however often they repeat: no list of categories is that long
# with several words per value (the sample orders' reviews: 629 distinct in 2,500 rows).
MIN_TEXT_DISTINCT = 100
SAMPLE_ROWS = 10_000  # rows that decide which columns are free text


def read_rows(path: str, limit: int | None = None) -> tuple[list[str], list[dict[str, str]]]:
    """Header and rows (the first `limit` of them) of a CSV file, or DatasetProblem saying
    why it cannot be read."""
    file = Path(path)
    if not file.is_file():
        raise DatasetProblem(f"no such file: {path}")
    try:
        with file.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            rows = list(itertools.islice(reader, limit))
            columns = list(reader.fieldnames or [])
    except (UnicodeDecodeError, csv.Error) as e:
        raise DatasetProblem(f"cannot read {path} as UTF-8 CSV: {unreadable(e)}") from None
    _check_header(columns, path)
    if not rows:
        raise DatasetProblem(f"{path} has no rows")
    return columns, rows


def unreadable(e: UnicodeDecodeError | csv.Error) -> str:
    """Why a file is not UTF-8 CSV, without quoting what is in it."""
    if isinstance(e, UnicodeDecodeError):
        return "it is not UTF-8 text"
    return str(e)  # the csv module's messages name the problem, never the data


def _check_header(columns: list[str], file: str) -> None:
    if not columns:
        raise DatasetProblem(f"{file} has no header row")
    if len(set(columns)) != len(columns):
        raise DatasetProblem(f"{file} has duplicate column names")


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
    """The Datasets port over CSV files: read as a stream, so memory does not grow with the
    file; text columns are told from the first `SAMPLE_ROWS` rows."""

    def describe(self, path: str, max_bytes: int | None = None) -> TableInfo:
        file = Path(path)
        try:
            found = file.stat()
        except (OSError, ValueError):  # missing, a name too long, a NUL byte in it
            raise DatasetProblem("no such file") from None
        if not stat.S_ISREG(found.st_mode):
            raise DatasetProblem("no such file")
        if max_bytes is not None and found.st_size > max_bytes:
            raise DatasetProblem(f"it is larger than this server's limit of {max_bytes:,} bytes")
        try:
            with file.open(newline="", encoding="utf-8") as f:
                reader = csv.reader(f)
                columns = next(reader, [])
                _check_header(columns, "it")
                sample = list(itertools.islice(_rows(reader), SAMPLE_ROWS))
                count = len(sample) + sum(1 for _ in _rows(reader))
        except (UnicodeDecodeError, csv.Error) as e:
            raise DatasetProblem(f"cannot read it as UTF-8 CSV: {unreadable(e)}") from None
        except OSError:
            raise DatasetProblem("it cannot be read") from None
        if not count:
            raise DatasetProblem("it has no rows")
        text = [
            c
            for i, c in enumerate(columns)
            if is_free_text([row[i] if i < len(row) else "" for row in sample])
        ]
        return TableInfo(columns=columns, rows=count, text_columns=text)


def _rows(reader: Iterator[list[str]]) -> Iterator[list[str]]:
    """The rows `csv.DictReader` would give: blank lines skipped."""
    return (row for row in reader if row)


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
