from collections import Counter

import numpy as np

from ffwd.adapters.report.columns import Binned
from ffwd.adapters.report.measures import (
    associations,
    binned_distance,
    counted_distance,
    cramers_v,
    total_variation,
)


def test_total_variation_is_zero_for_equal_and_one_for_disjoint_distributions():
    p = np.array([0.5, 0.5, 0.0])
    assert total_variation(p, p) == 0
    assert total_variation(p, np.array([0.0, 0.0, 1.0])) == 1


def test_a_side_without_data_is_as_far_as_can_be():
    assert total_variation(np.array([1.0]), np.array([0.0])) == 1
    assert counted_distance(Counter("abc"), Counter()) == 1


def test_counted_distance_sees_keys_only_one_side_has():
    assert counted_distance(Counter("aabb"), Counter("aabb")) == 0
    assert counted_distance(Counter("aabb"), Counter("aabz")) == 0.25


def test_cramers_v_is_near_one_for_dependent_and_near_zero_for_independent_columns():
    rng = np.random.default_rng(0)
    a = rng.integers(4, size=3000)
    assert cramers_v(a, a, 4, 4) > 0.99
    assert cramers_v(a, rng.integers(4, size=3000), 4, 4) < 0.05


def test_cramers_v_of_a_constant_column_is_zero():
    a = np.arange(100) % 3
    assert cramers_v(a, np.zeros(100, dtype=np.int64), 3, 1) == 0


def test_associations_are_symmetric_with_ones_on_the_diagonal():
    rng = np.random.default_rng(1)
    x = rng.integers(3, size=500)
    columns = [Binned(["a", "b", "c"], x, x), Binned(["a", "b", "c"], (x + 1) % 3, x)]
    ours, theirs = associations(columns, "original"), associations(columns, "synthetic")
    assert np.allclose(ours, ours.T) and np.allclose(np.diag(ours), 1)
    assert ours[0, 1] > 0.99 and theirs[0, 1] > 0.99


def test_binned_distance_compares_shares_not_counts():
    ours = np.array([0, 0, 1, 1])
    theirs = np.array([0, 1] * 50)
    assert binned_distance(Binned(["x", "y"], ours, theirs)) == 0
