"""Column encoders: categories, numbers and dates as tokens, and back to cell values."""

import math
import re
from datetime import date
from typing import Any

import numpy as np

from ffwd.adapters.datasets.csv_tables import is_date, is_number

MAX_BINS = 20
# The most frequent values a category keeps as tokens; the rest share the rare token. Each
# token is a softmax output and a one-hot input of every later column: a foreign key with
# thousands of values would make the model (and each step) a hundred times larger.
MAX_CATEGORIES = 128
MIN_CATEGORY_COUNT = 2
# With differential privacy a value seen in only a few rows would be revealed verbatim.
MIN_CATEGORY_COUNT_PRIVATE = 20
MAX_RARE_POOL = 2000  # the rare values kept (most frequent first) to sample rare tokens from
RARE = "_RARE_"
EMPTY = 0  # token 0 of every encoder is the empty cell
_INTEGER = re.compile(r"^[+-]?\d+$")


class CategoryEncoder:
    """Frequent values as tokens; the rest pooled in one rare token.

    Without differential privacy the rare token decodes to a value drawn from the pooled
    values' empirical distribution (`pool` and its `pool_counts`, plain data in the
    checkpoint's metadata). Under differential privacy the pool is empty and the rare token
    decodes to the RARE marker: the values behind it were seen on too few rows to be
    released, and a made-up value (say, a fresh key-like one) would pass for a real category,
    or a join key, that the data never had. The marker says plainly "some rare value".
    """

    def __init__(
        self,
        values: list[str],
        pool: list[str],
        empty: bool,
        rare: bool,
        pool_counts: list[int] | None = None,
    ) -> None:
        self.values, self.pool, self.has_empty, self.has_rare = values, pool, empty, rare
        self.pool_counts = [1] * len(pool) if pool_counts is None else list(pool_counts)
        self._index = {v: i + 1 for i, v in enumerate(values)}
        self.size = len(values) + 2
        self._rare = self.size - 1
        self.present = np.array([empty, *([True] * len(values)), rare])

    def encode(self, cells: list[str]) -> np.ndarray:
        tokens = [EMPTY if c == "" else self._index.get(c, self._rare) for c in cells]
        return _present(np.array(tokens, dtype=np.int64), self.present)

    def decode(self, tokens: np.ndarray, rng: np.random.Generator) -> list[str]:
        words = np.array(["", *self.values, RARE], dtype=object)
        out = words[tokens]
        rare = np.flatnonzero(tokens == self._rare)
        if len(rare) and self.pool:
            weights = np.asarray(self.pool_counts, dtype=np.float64)
            picked = rng.choice(len(self.pool), size=len(rare), p=weights / weights.sum())
            out[rare] = np.array(self.pool, dtype=object)[picked]
        return out.tolist()

    def to_meta(self) -> dict[str, Any]:
        return {
            "type": "category",
            "values": self.values,
            "pool": self.pool,
            "pool_counts": self.pool_counts,
            "empty": self.has_empty,
            "rare": self.has_rare,
        }


class BinnedEncoder:
    """Numbers or ISO dates in quantile bins; a sampled bin is drawn uniformly between the
    smallest and largest value the data had in it. Bin k holds [starts[k], starts[k+1])."""

    def __init__(self, kind: str, starts, lows, highs, integer: bool, decimals: int, empty: bool):
        self.kind, self.integer, self.decimals, self.has_empty = kind, integer, decimals, empty
        self.starts = np.asarray(starts, dtype=np.float64)
        self.lows = np.asarray(lows, dtype=np.float64)
        self.highs = np.asarray(highs, dtype=np.float64)
        self.size = len(self.lows) + 1  # empty + one token per bin
        self.present = np.array([empty, *([True] * len(self.lows))])

    def bins(self, values: np.ndarray) -> np.ndarray:
        return np.clip(np.searchsorted(self.starts, values, side="right") - 1, 0, self.size - 2)

    def encode(self, cells: list[str]) -> np.ndarray:
        values = np.array([_as_float(self.kind, c) for c in cells], dtype=np.float64)
        tokens = np.where(np.isnan(values), EMPTY, self.bins(values) + 1).astype(np.int64)
        return _present(tokens, self.present)

    def decode(self, tokens: np.ndarray, rng: np.random.Generator) -> list[str]:
        bins = np.maximum(tokens, 1) - 1
        lo, hi = self.lows[bins], self.highs[bins]
        if self.integer:
            values = np.minimum(np.floor(lo + rng.random(len(bins)) * (hi - lo + 1)), hi)
        else:
            values = lo + rng.random(len(bins)) * (hi - lo)
        return [
            "" if t == EMPTY else self._render(v)
            for t, v in zip(tokens.tolist(), values.tolist(), strict=True)
        ]

    def _render(self, value: float) -> str:
        if self.kind == "date":
            return date.fromordinal(int(value)).isoformat()
        if self.integer:
            return str(int(value))
        return f"{value:.{self.decimals}f}"

    def to_meta(self) -> dict[str, Any]:
        return {
            "type": self.kind,
            "starts": self.starts.tolist(),
            "lows": self.lows.tolist(),
            "highs": self.highs.tolist(),
            "integer": self.integer,
            "decimals": self.decimals,
            "empty": self.has_empty,
        }


Encoder = CategoryEncoder | BinnedEncoder


def fit_encoder(cells: list[str], private: bool = False) -> Encoder:
    """The encoder for one column: numbers and dates binned unless they have few values."""
    present = [c for c in cells if c != ""]
    empty = len(present) < len(cells)
    distinct = set(present)
    if len(distinct) > MAX_BINS and all(_finite_number(c) for c in distinct):
        integer = all(_INTEGER.fullmatch(c.strip()) for c in distinct)
        decimals = 0 if integer else min(6, max(_decimals(c) for c in distinct))
        return _binned("number", [float(c) for c in present], integer, decimals, empty)
    if len(distinct) > MAX_BINS and all(len(c) == 10 and is_date(c) for c in distinct):
        return _binned("date", [_as_float("date", c) for c in present], True, 0, empty)
    counts: dict[str, int] = {}
    for c in present:
        counts[c] = counts.get(c, 0) + 1
    minimum = MIN_CATEGORY_COUNT_PRIVATE if private else MIN_CATEGORY_COUNT
    ranked = sorted(counts, key=lambda v: (-counts[v], v))
    kept = [v for v in ranked[:MAX_CATEGORIES] if counts[v] >= minimum]
    rare = ranked[len(kept) :]  # most frequent first
    pool = [] if private else rare[:MAX_RARE_POOL]
    return CategoryEncoder(kept, pool, empty, bool(rare), [counts[v] for v in pool])


def encoder_from_meta(meta: dict[str, Any]) -> Encoder:
    if meta["type"] == "category":
        fields = ("values", "pool", "empty", "rare")
        return CategoryEncoder(*(meta[f] for f in fields), meta.get("pool_counts"))
    fields = ("starts", "lows", "highs", "integer", "decimals", "empty")
    return BinnedEncoder(meta["type"], *(meta[f] for f in fields))


def _binned(
    kind: str, values: list[float], integer: bool, decimals: int, empty: bool
) -> BinnedEncoder:
    data = np.asarray(values, dtype=np.float64)
    # inverted_cdf keeps every start a data value, so no bin is empty.
    quantiles = np.linspace(0, 1, MAX_BINS + 1)[:-1]
    starts = np.unique(np.quantile(data, quantiles, method="inverted_cdf"))
    starts = _split_gaps(starts, data)
    bins = np.clip(np.searchsorted(starts, data, side="right") - 1, 0, len(starts) - 1)
    lows = [data[bins == k].min() for k in range(len(starts))]
    highs = [data[bins == k].max() for k in range(len(starts))]
    return BinnedEncoder(kind, starts, lows, highs, integer, decimals, empty)


def _split_gaps(starts: np.ndarray, data: np.ndarray) -> np.ndarray:
    """Split a bin at its widest gap when that gap is most of the bin: a bin straddling two
    clusters (or a lone outlier) would otherwise sample values the data never came near."""
    bins = np.searchsorted(starts, data, side="right") - 1
    extra = []
    for k in range(len(starts)):
        inside = np.unique(data[bins == k])
        if len(inside) >= 2:
            gaps = np.diff(inside)
            widest = int(np.argmax(gaps))
            if gaps[widest] > 0.5 * (inside[-1] - inside[0]):
                extra.append(inside[widest + 1])
    return np.unique(np.concatenate([starts, extra]))


def _present(tokens: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Tokens the fitted data never had (e.g. new values after a resume) -> the first one
    it had, so that the model, which gives them no probability, can score every row."""
    return np.where(present[tokens], tokens, int(np.argmax(present)))


def _as_float(kind: str, cell: str) -> float:
    if cell == "":
        return math.nan
    try:
        if kind == "date":
            return float(date.fromisoformat(cell[:10]).toordinal())
        return float(cell)
    except ValueError:
        return math.nan


def _finite_number(cell: str) -> bool:
    return is_number(cell) and math.isfinite(float(cell))


def _decimals(cell: str) -> int:
    mantissa = cell.strip().lower().split("e")[0]
    return len(mantissa.split(".")[1]) if "." in mantissa else 0
