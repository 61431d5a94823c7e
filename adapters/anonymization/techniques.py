"""Each technique of the spec applied to one column's cells with aindo-anonymize.

Importing this module imports pandas, scikit-learn and Faker (a couple of seconds): the
anonymizer imports it only when it runs. Empty cells stay empty, except under `null`, and
`swap` moves them like any other value.
"""

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd
from aindo.anonymize.techniques import (
    Binning,
    CharacterMasking,
    DataNulling,
    KeyHashing,
    Mocking,
    PerturbationCategorical,
    PerturbationNumerical,
    Swapping,
    TopBottomCodingCategorical,
    TopBottomCodingNumerical,
)

from ffwd.adapters.anonymization.values import day, decimals, format_day, format_number
from ffwd.application import spec as s


def anonymize_column(
    technique: s.Technique, values: list[str], seed: int, environ: Mapping[str, str]
) -> list[str]:
    """The column's cells after the technique; same length, text again."""
    apply = _TECHNIQUES[type(technique)]
    return apply(technique, values, seed, environ)


def _mask(t: s.Mask, values: list[str], seed: int, environ: Mapping[str, str]) -> list[str]:
    length = -1 if t.characters is None else t.characters
    mask = CharacterMasking(mask_length=length, symbol=t.symbol, starting_direction=t.direction)
    return _present(values, lambda col: mask.anonymize_column(col))


def _hash(t: s.Hash, values: list[str], seed: int, environ: Mapping[str, str]) -> list[str]:
    key = t.key if t.key is not None else environ[t.key_env or ""]
    hashing = KeyHashing(key=key, salt=t.salt)
    return _present(values, lambda col: hashing.anonymize_column(col))


def _perturb_number(
    t: s.PerturbNumber, values: list[str], seed: int, environ: Mapping[str, str]
) -> list[str]:
    perturb = PerturbationNumerical(
        alpha=t.alpha, sampling_mode=t.mode, perturbation_range=t.range, seed=seed
    )
    places = t.decimals if t.decimals is not None else decimals(values)
    return _numbers(values, perturb.anonymize_column, places)


def _perturb_date(
    t: s.PerturbDate, values: list[str], seed: int, environ: Mapping[str, str]
) -> list[str]:
    limits = None if t.range is None else (t.range[0].toordinal(), t.range[1].toordinal())
    perturb = PerturbationNumerical(
        alpha=t.alpha, sampling_mode=t.mode, perturbation_range=limits, seed=seed
    )
    rows = [i for i, v in enumerate(values) if v != ""]
    if not rows:
        return list(values)
    days, rests = zip(*(day(values[i]) for i in rows), strict=True)
    moved = perturb.anonymize_column(pd.Series(days, dtype=float)).to_numpy()
    out = list(values)
    for i, before, after, rest in zip(rows, days, moved, rests, strict=True):
        if round(after) != before:
            out[i] = format_day(after, rest)
    return out


def _perturb_category(
    t: s.PerturbCategory, values: list[str], seed: int, environ: Mapping[str, str]
) -> list[str]:
    frequencies = None
    if t.frequencies is not None:
        total = sum(t.frequencies.values())
        frequencies = {k: v / total for k, v in t.frequencies.items()}
    perturb = PerturbationCategorical(
        alpha=t.alpha, sampling_mode=t.mode, frequencies=frequencies, seed=seed
    )
    return _present(values, lambda col: perturb.anonymize_column(col))


def _bin(t: s.Bin, values: list[str], seed: int, environ: Mapping[str, str]) -> list[str]:
    bins = t.bins
    if isinstance(bins, list):  # whole-number edges read as such: "(18, 25]", not "(18.0, 25.0]"
        bins = [int(b) if float(b).is_integer() else b for b in bins]
    binning = Binning(bins=bins)

    def labelled(col: pd.Series) -> pd.Series:
        # The categories' own labels ("(18, 25]"): a cell's Interval may hold floats instead.
        binned = binning.anonymize_column(col.astype(float))
        labels = binned.cat.categories.astype(str)
        return pd.Series([labels[c] if c >= 0 else "" for c in binned.cat.codes], dtype=object)

    return _present(values, labelled)


def _swap(t: s.Swap, values: list[str], seed: int, environ: Mapping[str, str]) -> list[str]:
    col = pd.Series(values, dtype=object)
    return [str(v) for v in LinearSwapping(alpha=t.alpha, seed=seed).anonymize_column(col)]


class LinearSwapping(Swapping):
    """The library's swapping in linear time: each row takes part with probability `alpha`,
    and the rows taking part trade values by a random permutation.

    The library's own loop builds a list of the chosen rows for every chosen row (20,000 rows
    took a minute) and raises when row 0 is the only one chosen (ADR 0012).
    """

    def _apply_to_col(self, col: pd.Series) -> pd.Series:
        chosen = np.flatnonzero(self.generator.random(col.size) < self.alpha)
        out = col.to_numpy(copy=True)
        out[chosen] = out[self.generator.permutation(chosen)]
        return pd.Series(out, index=col.index, dtype=col.dtype)


def _top_bottom_code(
    t: s.TopBottomCode, values: list[str], seed: int, environ: Mapping[str, str]
) -> list[str]:
    if t.q is not None:
        coding = TopBottomCodingNumerical(q=t.q)
    else:
        lower = -np.inf if t.lower is None else t.lower
        upper = np.inf if t.upper is None else t.upper
        coding = TopBottomCodingNumerical(lower_value=lower, upper_value=upper)
    return _numbers(values, coding.anonymize_column, decimals(values))


def _top_bottom_code_category(
    t: s.TopBottomCodeCategory, values: list[str], seed: int, environ: Mapping[str, str]
) -> list[str]:
    if t.categories is not None:
        rare = sorted(set(t.categories) & set(values) - {""})
        if not rare:  # the library fails on categories the column does not hold
            return list(values)
        coding = TopBottomCodingCategorical(rare_categories=rare, other_label=t.other)
    else:
        coding = TopBottomCodingCategorical(q=t.q, other_label=t.other)
    return _present(values, lambda col: coding.anonymize_column(col))


def _mock(t: s.Mock, values: list[str], seed: int, environ: Mapping[str, str]) -> list[str]:
    options = {"locale": t.locale} if t.locale else None
    mocking = Mocking(data_generator=t.provider, seed=seed, faker_kwargs=options)
    return _present(values, lambda col: mocking.anonymize_column(col))


def _null(t: s.Null, values: list[str], seed: int, environ: Mapping[str, str]) -> list[str]:
    nulled = DataNulling(constant_value=t.value).anonymize_column(pd.Series(values, dtype=object))
    return [_text(v) for v in nulled.to_numpy()]


# Cells in and out.


def _present(values: list[str], apply: Callable[[pd.Series], pd.Series]) -> list[str]:
    """Apply to the non-empty cells only (their positions renumbered from 0); empties stay."""
    rows = [i for i, v in enumerate(values) if v != ""]
    if not rows:
        return list(values)
    result = apply(pd.Series([values[i] for i in rows], dtype=object))
    out = list(values)
    for i, v in zip(rows, result.to_numpy(), strict=True):
        out[i] = _text(v)
    return out


def _numbers(
    values: list[str], apply: Callable[[pd.Series], pd.Series], places: int | None
) -> list[str]:
    """Apply to the numbers; a cell whose number did not change keeps its original text."""
    rows = [i for i, v in enumerate(values) if v != ""]
    if not rows:
        return list(values)
    before = np.array([float(values[i]) for i in rows])
    after = apply(pd.Series(before, dtype=float)).to_numpy(dtype=float)
    out = list(values)
    for i, old, new in zip(rows, before, after, strict=True):
        text = format_number(new, places)
        if new != old and float(text) != old:
            out[i] = text
    return out


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return ""
    return str(value)


_TECHNIQUES: dict[type, Callable[..., list[str]]] = {
    s.Mask: _mask,
    s.Hash: _hash,
    s.PerturbNumber: _perturb_number,
    s.PerturbDate: _perturb_date,
    s.PerturbCategory: _perturb_category,
    s.Bin: _bin,
    s.Swap: _swap,
    s.TopBottomCode: _top_bottom_code,
    s.TopBottomCodeCategory: _top_bottom_code_category,
    s.Mock: _mock,
    s.Null: _null,
}
