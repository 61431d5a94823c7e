"""Key columns: a distinct value on (almost) every row. Not modelled; synthesis writes fresh
keys in the data's format, none of them a real key."""

import re
import uuid
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ffwd.adapters.datasets.csv_tables import is_date, is_number

MIN_KEY_ROWS = 20  # fewer rows are distinct too often by chance
KEY_SHARE = 0.98  # distinct values per row (empty cells count as rows) for a key
MAX_KEY_LENGTH = 64
# A column named like this (its last word, snake or camel case) holding distinct integers
# is a key even when its integers are sparse.
KEY_NAMES = {"id", "key", "uid", "uuid", "guid", "no", "nr", "num", "number", "code", "ref"}
_INTEGER = re.compile(r"^[+-]?\d+$")
_PATTERN = re.compile(r"^(.*?)(\d+)(\D*)$")  # prefix, the last run of digits, suffix
_WHITESPACE = re.compile(r"\s")


@dataclass(frozen=True)
class KeyFormat:
    """How synthetic keys are written: `prefix + number + suffix`, the number zero-padded to
    `width` digits (0: no padding) and counting up from `start`, one past the largest number
    the data had, so that no synthetic key is a real one. `style` "uuid" (no pattern found):
    random UUIDs instead.

    The format (prefix, suffix, width, largest number) is read from the data, as the numeric
    columns' bin edges are, also under differential privacy: a key's values are taken to
    describe the table (its row count, its naming), not a person.
    """

    style: str = "sequence"
    prefix: str = ""
    suffix: str = ""
    width: int = 0
    start: int = 1

    def generate(self, n: int, rng: np.random.Generator) -> list[str]:
        if self.style == "uuid":
            return [str(uuid.UUID(bytes=rng.bytes(16), version=4)) for _ in range(n)]
        return [
            f"{self.prefix}{number:0{self.width}d}{self.suffix}"
            for number in range(self.start, self.start + n)
        ]

    def to_meta(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_meta(cls, meta: dict[str, Any]) -> "KeyFormat":
        return cls(**meta)


def fit_key(name: str, cells: list[str]) -> KeyFormat | None:
    """The column's key format, or None if it is not a key.

    A key has a distinct value on at least KEY_SHARE of its (at least MIN_KEY_ROWS) rows and
    is either integers (dense ones, zero-padded ones, or any under a key-like name: distinct
    sparse integers elsewhere are measurements, binned like any number) or short strings
    without whitespace that are not all numbers or dates (free text and names have spaces).
    """
    present = [c for c in cells if c != ""]
    distinct = set(present)
    if len(cells) < MIN_KEY_ROWS or len(distinct) < KEY_SHARE * len(cells):
        return None
    if all(_INTEGER.fullmatch(c) for c in distinct):
        return _integer_key(name, distinct)
    if any(len(c) > MAX_KEY_LENGTH or _WHITESPACE.search(c) for c in distinct):
        return None
    if all(is_number(c) for c in distinct) or all(is_date(c) for c in distinct):
        return None
    return _pattern(distinct) or KeyFormat(style="uuid")


def _integer_key(name: str, distinct: set[str]) -> KeyFormat | None:
    numbers = [int(c) for c in distinct]
    padded = any(c.startswith("0") and len(c) > 1 for c in distinct)
    dense = max(numbers) - min(numbers) + 1 <= 2 * len(numbers)
    if not (padded or dense or _key_like(name)):
        return None
    unsigned = not any(c[0] in "+-" for c in distinct)
    return KeyFormat(width=_width(distinct) if unsigned else 0, start=max(numbers) + 1)


def _width(digits: set[str]) -> int:
    """The digits' one common length (zero-padded numbers, or all of a size), else 0."""
    widths = {len(d) for d in digits}
    return widths.pop() if len(widths) == 1 else 0


def _pattern(distinct: set[str]) -> KeyFormat | None:
    """Prefix + digits + suffix shared by every value, e.g. C00001, INV-17/A."""
    parts = [_PATTERN.fullmatch(c) for c in distinct]
    if not all(parts):
        return None
    prefixes = {m.group(1) for m in parts}
    suffixes = {m.group(3) for m in parts}
    if len(prefixes) != 1 or len(suffixes) != 1:
        return None
    digits = {m.group(2) for m in parts}
    start = max(int(d) for d in digits) + 1
    return KeyFormat(
        prefix=prefixes.pop(), suffix=suffixes.pop(), width=_width(digits), start=start
    )


def _key_like(name: str) -> bool:
    snake = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()
    words = [w for w in re.split(r"[^a-z0-9]+", snake) if w]
    return bool(words) and words[-1] in KEY_NAMES
