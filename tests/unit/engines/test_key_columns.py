"""Key columns: found by their distinct values, synthesized fresh in the data's format."""

import re

import numpy as np
import pytest

from ffwd.adapters.engines.reference.keys import KeyFormat, fit_key

RNG = np.random.default_rng(5)


@pytest.fixture(autouse=True)
def same_draws_whatever_ran_before() -> None:
    """A test draws the same values alone, in the suite, or run again in one process (as
    mutmut runs it): the module's generator starts afresh for each."""
    global RNG
    RNG = np.random.default_rng(5)


def shuffled(values: list[str]) -> list[str]:
    return [values[i] for i in RNG.permutation(len(values))]


def synthesize(key: KeyFormat, n: int) -> list[str]:
    return KeyFormat.from_meta(key.to_meta()).generate(n, np.random.default_rng(0))


def test_prefixed_zero_padded_ids_are_keys_and_continue_past_the_largest():
    real = shuffled([f"C{i:05d}" for i in range(1, 1501)])
    key = fit_key("customer_id", real)
    assert key == KeyFormat(prefix="C", width=5, start=1501)

    fresh = synthesize(key, 2000)
    assert all(re.fullmatch(r"C\d{5}", v) for v in fresh)
    assert len(set(fresh)) == len(fresh)
    assert not set(fresh) & set(real)
    assert fresh[:2] == ["C01501", "C01502"]


def test_a_suffix_and_unpadded_numbers_keep_their_format():
    real = [f"INV-{i}/A" for i in RNG.choice(10_000, 300, replace=False)]
    key = fit_key("invoice", real)
    assert (key.prefix, key.suffix, key.width) == ("INV-", "/A", 0)
    fresh = synthesize(key, 500)
    assert all(re.fullmatch(r"INV-\d+/A", v) for v in fresh)
    assert len(set(fresh)) == 500 and not set(fresh) & set(real)


@pytest.mark.parametrize(
    ("name", "cells"),
    [
        ("id", [str(i) for i in range(100)]),  # dense integers
        ("row", [str(i) for i in range(1000, 1100)]),  # dense, whatever the name
        ("order_id", [str(v) for v in RNG.choice(10**9, 100, replace=False)]),  # sparse, named
        ("customerId", [str(v) for v in RNG.choice(10**9, 100, replace=False)]),
        ("account", [f"{v:08d}" for v in RNG.choice(10**6, 100, replace=False)]),  # padded
    ],
)
def test_distinct_integers_are_keys_and_synthesize_past_the_largest(name, cells):
    key = fit_key(name, shuffled(cells))
    assert key is not None and key.style == "sequence"
    fresh = synthesize(key, 300)
    assert len(set(fresh)) == 300 and not set(fresh) & set(cells)
    assert min(int(v) for v in fresh) > max(int(v) for v in cells)
    assert all(v.isdigit() for v in fresh)
    if name == "account":
        assert all(len(v) == 8 for v in fresh)


def test_almost_distinct_is_enough():
    cells = [f"K{i}" for i in range(500)]
    cells[:5] = ["", "", "K10", "K11", "K12"]  # 1% empty or repeated
    assert fit_key("k", cells) is not None


def test_ids_without_a_pattern_become_uuids():
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    real = ["".join(RNG.choice(letters, 12)) for _ in range(200)]
    key = fit_key("token", real)
    assert key == KeyFormat(style="uuid")
    fresh = synthesize(key, 200)
    assert all(
        re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", v)
        for v in fresh
    )
    assert len(set(fresh)) == 200
    assert fresh == synthesize(key, 200)  # seeded


@pytest.mark.parametrize(
    ("name", "cells"),
    [
        ("income", [str(v) for v in RNG.choice(10**6, 100, replace=False)]),  # sparse measure
        ("price", [f"{v:.2f}" for v in RNG.normal(100, 30, 100)]),  # decimals
        ("day", [f"2024-{1 + i // 28:02d}-{1 + i % 28:02d}" for i in range(100)]),  # dates
        ("bio", [f"likes item {i}" for i in range(100)]),  # text: whitespace
        ("id", [str(i % 50) for i in range(100)]),  # repeated
        ("id", [f"C{i}" for i in range(10)]),  # too few rows to tell
        ("customer_id", [f"C{i % 800}" for i in range(1400)]),  # a foreign key
    ],
)
def test_other_columns_are_not_keys(name, cells):
    assert fit_key(name, cells) is None
