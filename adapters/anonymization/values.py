"""Cells as text, read as numbers or dates and written back in the original's format."""

from datetime import date
from math import isfinite

from ffwd.adapters.datasets.csv_tables import is_date, is_number

NUMBERS = ("perturb_number", "bin", "top_bottom_code")
DATES = ("perturb_date",)
FIRST_DAY, LAST_DAY = date.min.toordinal(), date.max.toordinal()


def type_problem(technique: str, values: list[str]) -> str | None:
    """Why a number or date technique cannot take these cells, or None when it can; it names
    the row, never the value (an error text does not quote a table's contents)."""
    if technique in NUMBERS:
        row = next((i for i, v in enumerate(values, 1) if v != "" and not _finite_number(v)), 0)
        return f"{technique} needs numbers; row {row}'s value is not one" if row else None
    if technique in DATES:
        row = next((i for i, v in enumerate(values, 1) if v != "" and not is_date(v)), 0)
        return f"{technique} needs ISO dates; row {row}'s value is not one" if row else None
    return None


def decimals(values: list[str]) -> int | None:
    """The most decimals any cell shows; None when a cell is in exponent notation."""
    most = 0
    for v in values:
        text = v.strip().lower()
        if "e" in text:
            return None
        if "." in text:
            most = max(most, len(text.split(".", 1)[1]))
    return most


def format_number(x: float, places: int | None) -> str:
    if places is None:
        return repr(float(x))
    return f"{round(float(x), places) + 0.0:.{places}f}"


def day(value: str) -> tuple[int, str]:
    """The day of an ISO date as an ordinal, and whatever follows the date (a time, kept)."""
    return date.fromisoformat(value[:10]).toordinal(), value[10:]


def format_day(ordinal: float, rest: str) -> str:
    clamped = min(max(round(ordinal), FIRST_DAY), LAST_DAY)
    return date.fromordinal(clamped).isoformat() + rest


def _finite_number(value: str) -> bool:
    return is_number(value) and isfinite(float(value))
