"""Text columns compared: length, characters and words, plus a few samples of each side."""

import re
from collections import Counter

import numpy as np

from ffwd.adapters.report.columns import bin_ranges
from ffwd.adapters.report.measures import binned_distance, counted_distance

TOP_WORDS = 100
TOP_CHARACTERS = 30
SAMPLES = 5
SAMPLE_CHARS = 300
WORD = re.compile(r"\w+")


def compare_texts(original: list[str], synthetic: list[str]) -> dict:
    lengths = bin_ranges(_lengths(original), _lengths(synthetic))
    length = binned_distance(lengths)
    characters = counted_distance(Counter("".join(original)), Counter("".join(synthetic)))
    words = counted_distance(*_word_counts(original, synthetic))
    return {
        "kind": "text",
        "distance": float(np.mean([length, characters, words])),
        "length": {
            "distance": length,
            "mean": {"original": _mean(original), "synthetic": _mean(synthetic)},
            "bins": lengths.shares(),
        },
        "characters": {"distance": characters, "top": _top_characters(original, synthetic)},
        "words": {"distance": words},
        "samples": {"original": _samples(original), "synthetic": _samples(synthetic)},
    }


def first_words(values: list[str]) -> list[str]:
    """Each text's first word: a category that shows whether texts fit their rows."""
    return [next(iter(WORD.findall(v.lower())), "") for v in values]


def _lengths(values: list[str]) -> np.ndarray:
    return np.array([len(v) for v in values], dtype=float)


def _mean(values: list[str]) -> float | None:
    return float(np.mean(_lengths(values))) if values else None


def _word_counts(original: list[str], synthetic: list[str]) -> tuple[Counter, Counter]:
    """Words of the original's vocabulary (its most frequent ones), the rest as one "other"."""
    counts = Counter(WORD.findall(" ".join(original).lower()))
    vocabulary = {w for w, _ in counts.most_common(TOP_WORDS)}

    def grouped(words: list[str]) -> Counter:
        return Counter(w if w in vocabulary else "" for w in words)

    theirs = WORD.findall(" ".join(synthetic).lower())
    return grouped(list(counts.elements())), grouped(theirs)


def _top_characters(original: list[str], synthetic: list[str]) -> list[dict]:
    ours, theirs = Counter("".join(original)), Counter("".join(synthetic))
    total_ours, total_theirs = max(ours.total(), 1), max(theirs.total(), 1)
    return [
        {"label": c, "original": n / total_ours, "synthetic": theirs[c] / total_theirs}
        for c, n in ours.most_common(TOP_CHARACTERS)
    ]


def _samples(values: list[str]) -> list[str]:
    """Evenly spaced non-empty values: the same ones on every run, from all over the table."""
    present = [v for v in values if v.strip()]
    step = max(len(present) // SAMPLES, 1)
    return [v[:SAMPLE_CHARS] for v in present[::step][:SAMPLES]]
