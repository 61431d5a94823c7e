"""The columns of a table, sorted into kinds and cut into bins that original and synthetic share."""

from collections import Counter
from dataclasses import dataclass
from datetime import date
from math import isfinite

import numpy as np

from ffwd.adapters.datasets.csv_tables import is_date, is_free_text, is_number

CATEGORY_BINS = 10
QUANTILE_BINS = 10
MIN_KEY_ROWS = 20
EMPTY, OTHER, INVALID = "(empty)", "(other)", "(invalid)"


@dataclass(frozen=True)
class Binned:
    """Each row's bin, for the original and the synthetic values of one column."""

    labels: list[str]
    original: np.ndarray
    synthetic: np.ndarray

    def shares(self) -> list[dict]:
        """The bins holding any value, with the share of each side's rows in them."""
        size = len(self.labels)
        ours = np.bincount(self.original, minlength=size) / max(len(self.original), 1)
        theirs = np.bincount(self.synthetic, minlength=size) / max(len(self.synthetic), 1)
        return [
            {"label": label, "original": float(ours[i]), "synthetic": float(theirs[i])}
            for i, label in enumerate(self.labels)
            if ours[i] or theirs[i]
        ]


def kind_of(values: list[str], declared_text: bool | None) -> str:
    """categorical, numeric, date, text, or key (an identifier: unique per row, not compared)."""
    present = [v for v in values if v != ""]
    if declared_text or (declared_text is None and is_free_text(values)):
        return "text"
    if present and all(is_number(v) and isfinite(float(v)) for v in present):
        return "numeric"
    if present and all(is_date(v) for v in present):
        return "date"
    if len(values) >= MIN_KEY_ROWS and len(set(values)) == len(values) == len(present):
        return "key"
    return "categorical"


def bin_column(kind: str, original: list[str], synthetic: list[str]) -> Binned:
    if kind in ("numeric", "date"):
        parse = _number if kind == "numeric" else _day
        label = _label_number if kind == "numeric" else _label_day
        return bin_ranges(_parsed(original, parse), _parsed(synthetic, parse), label)
    return _bin_categories(original, synthetic)


def day_numbers(values: list[str]) -> np.ndarray:
    return _parsed(values, _day)


def numbers(values: list[str]) -> np.ndarray:
    return _parsed(values, _number)


def bin_ranges(original: np.ndarray, synthetic: np.ndarray, label=None) -> Binned:
    """Quantile ranges of the original; `nan` is an empty cell, `inf` an invalid one."""
    label = label or _label_number
    finite = original[np.isfinite(original)]
    if finite.size == 0:
        finite = np.zeros(1)
    # "lower" keeps every edge a value the original holds, so labels read like the data.
    quantiles = np.quantile(finite, np.linspace(0, 1, QUANTILE_BINS + 1), method="lower")
    edges = np.unique(quantiles)
    inner = max(len(edges) - 1, 1)
    labels = [f"below {label(edges[0])}"]
    if len(edges) == 1:
        labels.append(label(edges[0]))
    for i in range(len(edges) - 1):
        labels.append(f"{label(edges[i])} \u2013 {label(edges[i + 1])}")
    labels += [f"above {label(edges[-1])}", EMPTY, INVALID]

    def codes(x: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore"):
            c = np.searchsorted(edges[1:-1], x, side="right") + 1
            c = np.where(x < edges[0], 0, np.where(x > edges[-1], inner + 1, c))
        c[np.isnan(x)] = inner + 2
        c[np.isinf(x)] = inner + 3
        return c.astype(np.int64)

    return Binned(labels, codes(original), codes(synthetic))


def _bin_categories(original: list[str], synthetic: list[str]) -> Binned:
    counts = Counter(v for v in original if v != "")
    top = sorted(counts, key=lambda v: (-counts[v], v))[:CATEGORY_BINS]
    index = {v: i for i, v in enumerate(top)}
    index[""] = len(top) + 1

    def codes(values: list[str]) -> np.ndarray:
        return np.array([index.get(v, len(top)) for v in values], dtype=np.int64)

    return Binned([*top, OTHER, EMPTY], codes(original), codes(synthetic))


def _parsed(values: list[str], parse) -> np.ndarray:
    return np.array([parse(v) for v in values], dtype=float)


def _number(value: str) -> float:
    if value == "":
        return np.nan
    if not is_number(value):
        return np.inf
    x = float(value)
    return x if isfinite(x) else np.inf


def _day(value: str) -> float:
    if value == "":
        return np.nan
    return float(date.fromisoformat(value[:10]).toordinal()) if is_date(value) else np.inf


def _label_number(x: float) -> str:
    if float(x).is_integer():
        return f"{int(x):,}"
    return f"{x:,.2f}" if abs(x) >= 1 else f"{x:.3g}"


def _label_day(x: float) -> str:
    return date.fromordinal(round(float(x))).isoformat()
