"""Column encoders: tokens for categories, numbers and dates, and plausible values back."""

from datetime import date

import numpy as np
import pytest

from ffwd.adapters.engines.reference.encoding import (
    MAX_CATEGORIES,
    RARE,
    BinnedEncoder,
    CategoryEncoder,
    encoder_from_meta,
    fit_encoder,
)

RNG = np.random.default_rng(0)


@pytest.fixture(autouse=True)
def same_draws_whatever_ran_before() -> None:
    """A test draws the same values alone, in the suite, or run again in one process (as
    mutmut runs it): the module's generator starts afresh for each."""
    global RNG
    RNG = np.random.default_rng(0)


def roundtrip(encoder, cells):
    meta_copy = encoder_from_meta(encoder.to_meta())
    tokens = encoder.encode(cells)
    assert np.array_equal(meta_copy.encode(cells), tokens)
    return tokens, encoder.decode(tokens, np.random.default_rng(1))


def test_integers_are_binned_and_come_back_as_integers_within_their_bin():
    cells = [str(v) for v in RNG.integers(18, 90, 500)] + [""] * 20
    encoder = fit_encoder(cells)
    assert isinstance(encoder, BinnedEncoder)
    assert encoder.size <= 21 + 1
    tokens, values = roundtrip(encoder, cells)
    assert all(v == "" for v, c in zip(values, cells, strict=True) if c == "")
    numbers = [int(v) for v in values if v]
    assert min(numbers) >= 18 and max(numbers) <= 89
    back = encoder.encode(values)
    assert np.array_equal(back, tokens)  # a sampled value falls in the bin it came from


def test_decimals_keep_their_precision():
    cells = [f"{v:.2f}" for v in RNG.normal(100, 10, 300)]
    _, values = roundtrip(fit_encoder(cells), cells)
    assert all(len(v.split(".")[1]) == 2 for v in values)


def test_a_bin_never_spans_a_gap_in_the_data():
    cells = [f"{v:.1f}" for v in np.concatenate([RNG.normal(100, 5, 200), RNG.normal(900, 5, 200)])]
    _, values = roundtrip(fit_encoder(cells), cells)
    assert not any(150 < float(v) < 850 for v in values)


def test_dates_are_iso_and_within_the_range():
    days = RNG.integers(0, 800, 400)
    cells = [date.fromordinal(date(2021, 1, 1).toordinal() + int(d)).isoformat() for d in days]
    encoder = fit_encoder(cells)
    assert encoder.kind == "date"
    _, values = roundtrip(encoder, cells)
    assert min(cells) <= min(values) and max(values) <= max(cells)
    assert all(date.fromisoformat(v) for v in values)


def test_few_distinct_numbers_are_categories():
    cells = [str(v) for v in RNG.integers(1, 6, 200)]
    encoder = fit_encoder(cells)
    assert isinstance(encoder, CategoryEncoder)
    _, values = roundtrip(encoder, cells)
    assert values == cells


def test_rare_values_are_pooled_and_hidden_under_privacy():
    cells = ["a"] * 50 + ["b"] * 30 + ["once", "twice"] + [""] * 3
    plain = fit_encoder(cells)
    assert plain.values == ["a", "b"]
    _, values = roundtrip(plain, cells)
    assert set(values) <= {"a", "b", "once", "twice", ""}
    private = fit_encoder(cells, private=True)
    _, values = roundtrip(private, cells)
    assert set(values) <= {"a", "b", RARE, ""}
    assert RARE in values


def test_tokens_the_data_never_had_are_absent_and_unseen_values_map_to_present_ones():
    encoder = fit_encoder(["x"] * 10 + ["y"] * 10)  # no empty cell, no rare value
    assert list(encoder.present) == [False, True, True, False]
    tokens = encoder.encode(["", "z", "y"])
    assert all(encoder.present[tokens])


def test_a_high_cardinality_category_keeps_its_most_frequent_values_and_pools_the_rest():
    frequent = [f"f{i}" for i in range(150) for _ in range(5)]  # 22 over the cap
    cells = frequent + [f"s{i}" for i in range(100)] + ["f0"] * 10  # singletons: below k=2
    encoder = fit_encoder(cells)
    assert isinstance(encoder, CategoryEncoder)
    assert len(encoder.values) == MAX_CATEGORIES and encoder.size == MAX_CATEGORIES + 2
    assert encoder.values[0] == "f0"
    assert sorted(encoder.pool) == sorted({*cells} - {*encoder.values})
    assert sum(encoder.pool_counts) == len(cells) - sum(v in encoder.values for v in cells)


def test_pooled_values_come_back_in_their_empirical_proportions_without_privacy():
    cells = [f"f{i}" for i in range(150) for _ in range(5)] + [f"s{i}" for i in range(100)]
    encoder = encoder_from_meta(fit_encoder(cells).to_meta())  # the pool is plain metadata
    rare = np.full(5000, encoder.size - 1)
    values = encoder.decode(rare, np.random.default_rng(0))
    assert set(values) <= set(encoder.pool)
    # 22 pooled values seen 5 times against 100 seen once: 110 / 210 of the draws
    share = sum(v.startswith("f") for v in values) / len(values)
    assert 0.47 < share < 0.58


def test_under_privacy_a_capped_category_keeps_no_rare_value():
    cells = [f"f{i}" for i in range(300) for _ in range(25)] + ["once"]
    private = fit_encoder(cells, private=True)
    assert len(private.values) == MAX_CATEGORIES and private.pool == []
    values = private.decode(np.full(10, private.size - 1), np.random.default_rng(0))
    assert values == [RARE] * 10
