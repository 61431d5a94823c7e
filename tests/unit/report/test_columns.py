import numpy as np

from ffwd.adapters.report.columns import EMPTY, INVALID, OTHER, bin_column, kind_of
from ffwd.adapters.report.measures import binned_distance


def test_kinds_are_told_apart():
    assert kind_of(["1", "2.5", ""], None) == "numeric"
    assert kind_of(["2024-01-01", "2023-12-31"], None) == "date"
    assert kind_of(["red", "blue", "red"], None) == "categorical"
    assert kind_of(["red", "blue", "red"], True) == "text"
    assert kind_of([f"C{i}" for i in range(50)], None) == "key"
    assert kind_of([f"C{i}" for i in range(5)], None) == "categorical"


def test_free_text_is_detected_only_when_no_text_columns_are_declared():
    bios = [f"Someone number {i} who likes long walks." for i in range(30)]
    assert kind_of(bios, None) == "text"
    assert kind_of(bios, False) == "key"


def test_an_empty_column_is_categorical():
    assert kind_of(["", "", ""], None) == "categorical"


def test_a_category_only_the_synthetic_side_has_goes_to_other():
    binned = bin_column("categorical", ["a", "b", "a"], ["a", "zebra"])
    assert OTHER in binned.labels
    assert binned.labels[binned.synthetic[1]] == OTHER
    assert binned_distance(binned) > 0


def test_empty_cells_have_their_own_bin():
    binned = bin_column("numeric", ["1", "", "3"], ["", "", ""])
    assert binned.labels[binned.original[1]] == EMPTY
    assert binned_distance(binned) > 0.5


def test_values_that_do_not_parse_are_invalid():
    binned = bin_column("date", ["2024-01-01", "2024-02-01"], ["2024-01-15", "soon"])
    assert binned.labels[binned.synthetic[1]] == INVALID


def test_a_constant_column_compares_equal_to_itself_and_differs_from_anything_else():
    same = bin_column("numeric", ["5"] * 10, ["5"] * 4)
    assert binned_distance(same) == 0
    assert binned_distance(bin_column("numeric", ["5"] * 10, ["7"] * 4)) == 1
    assert binned_distance(bin_column("numeric", ["5"] * 10, ["3"] * 4)) == 1


def test_numbers_fall_in_ten_quantile_bins_of_the_original():
    values = [str(i) for i in range(1000)]
    binned = bin_column("numeric", values, values)
    shares = np.bincount(binned.original) / 1000
    assert np.count_nonzero(shares) == 10
    assert shares.max() < 0.11


def test_values_out_of_the_original_range_land_below_or_above_it():
    binned = bin_column("numeric", ["1", "2", "3"], ["-10", "99"])
    assert binned.labels[binned.synthetic[0]].startswith("below")
    assert binned.labels[binned.synthetic[1]].startswith("above")
