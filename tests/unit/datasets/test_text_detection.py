"""Which CSV columns are free text when a spec does not say: the phases a generator gets."""

from pathlib import Path

from ffwd.adapters.datasets.csv_tables import CsvDatasets, is_free_text

SAMPLE = Path(__file__).parents[3] / "adapters" / "sample_data"
LABELS = ["very happy customer", "not happy at all", "would buy again soon"]


def test_the_sample_tables_free_text_is_found_and_nothing_else() -> None:
    customers = CsvDatasets().describe(str(SAMPLE / "customers.csv"))
    orders = CsvDatasets().describe(str(SAMPLE / "orders.csv"))
    assert (customers.text_columns, orders.text_columns) == (["bio"], ["review"])


def test_reviews_that_repeat_are_still_text() -> None:
    reviews = [f"the parcel number {i % 150} came late but fine" for i in range(2500)]
    assert is_free_text(reviews)  # 6% distinct, yet 150 distinct sentences


def test_multi_word_categories_are_not_text() -> None:
    assert not is_free_text([LABELS[i % 3] for i in range(2500)])


def test_short_values_numbers_and_dates_are_not_text() -> None:
    assert not is_free_text([f"id{i}" for i in range(500)])  # distinct, but one word
    assert not is_free_text([str(i * 1.5) for i in range(500)])
    assert not is_free_text([f"2026-01-{1 + i % 28:02d}" for i in range(500)])
    assert not is_free_text(["", ""])
