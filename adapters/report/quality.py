"""The quality of synthetic tables: per column, per pair of columns and per text column."""

from datetime import date

import numpy as np

from ffwd.adapters.report.columns import Binned, bin_column, day_numbers, kind_of, numbers
from ffwd.adapters.report.measures import associations, binned_distance
from ffwd.adapters.report.texts import compare_texts, first_words

WORST_PAIRS = 5
METHOD = (
    "accuracy = 1 - distance. A table's distance is the mean of its parts' distances; the "
    "overall accuracy is the mean of the tables' accuracies. Univariate: the mean total "
    "variation distance (TVD) over non-text columns, with categories binned as the original's "
    "10 most frequent plus other and empty, and numbers and dates binned in the original's "
    "10 quantile ranges plus below, above, empty and invalid. Bivariate: the mean absolute "
    "difference between original and synthetic bias-corrected Cramer's V of the binned "
    "columns, over every pair; each text column joins the pairs as its first word (a "
    "category), so texts that do not fit their rows count. Text: per text column, the mean "
    "of the TVDs of lengths (quantile bins), character frequencies and word frequencies (the "
    "original's 100 most frequent words plus other), averaged over text columns. A synthetic "
    "table with no rows has distance 1. Identifier columns (a distinct value on every row) "
    "are not compared."
)


def compare_table(
    columns: list[str],
    original: list[dict[str, str]],
    synthetic: list[dict[str, str]],
    text_columns: list[str] | None,
) -> dict:
    """The report of one table: its columns, pairs, text columns and their accuracy."""
    report_columns, texts, binned, openings = {}, {}, {}, {}
    for column in columns:
        ours, theirs = _values(original, column), _values(synthetic, column)
        declared = None if text_columns is None else column in text_columns
        kind = kind_of(ours, declared)
        if kind == "text":
            texts[column] = compare_texts(ours, theirs)
            openings[f"{column} (first word)"] = bin_column(
                "categorical", first_words(ours), first_words(theirs)
            )
            report_columns[column] = {"kind": kind, "distance": texts[column]["distance"]}
        elif kind == "key":
            report_columns[column] = {"kind": kind, "distance": None}
        else:
            binned[column] = bin_column(kind, ours, theirs)
            report_columns[column] = _column(kind, binned[column], ours, theirs)
    pairs = _pairs(binned | openings, bool(synthetic))
    parts = {
        "univariate": _mean(
            [
                c["distance"]
                for c in report_columns.values()
                if c["kind"] in ("categorical", "numeric", "date")
            ]
        ),
        "bivariate": pairs["distance"],
        "text": _mean([t["distance"] for t in texts.values()]),
    }
    return {
        "accuracy": _accuracy(parts.values()),
        "parts": {part: _accuracy([d]) for part, d in parts.items()},
        "rows": {"original": len(original), "synthetic": len(synthetic)},
        "columns": report_columns,
        "pairs": pairs,
        "text": texts,
    }


def summarize(name: str, tables: dict[str, dict]) -> dict:
    accuracies = [t["accuracy"] for t in tables.values() if t["accuracy"] is not None]
    parts = {
        part: _mean([t["parts"][part] for t in tables.values()])
        for part in ("univariate", "bivariate", "text")
    }
    return {
        "generator": name,
        "accuracy": _mean(accuracies),
        "parts": parts,
        "method": METHOD,
        "tables": tables,
    }


def _values(rows: list[dict[str, str]], column: str) -> list[str]:
    return [row.get(column) or "" for row in rows]


def _column(kind: str, binned: Binned, ours: list[str], theirs: list[str]) -> dict:
    entry = {"kind": kind, "distance": binned_distance(binned), "bins": binned.shares()}
    if kind == "categorical":
        entry["categories"] = {"original": len(set(ours)), "synthetic": len(set(theirs))}
        return entry
    parse = numbers if kind == "numeric" else day_numbers
    for side, values in (("original", ours), ("synthetic", theirs)):
        x = parse(values)
        x = x[np.isfinite(x)]
        mean, std = (float(x.mean()), float(x.std())) if x.size else (None, None)
        if kind == "date" and mean is not None:
            mean = date.fromordinal(round(mean)).isoformat()
        entry.setdefault("mean", {})[side] = mean
        entry.setdefault("std", {})[side] = std
    return entry


def _pairs(binned: dict[str, Binned], any_synthetic: bool) -> dict:
    names = list(binned)
    if len(names) < 2:
        return {"distance": None, "columns": names, "original": [], "synthetic": [], "worst": []}
    ours = associations(list(binned.values()), "original")
    theirs = associations(list(binned.values()), "synthetic")
    upper = np.triu_indices(len(names), k=1)
    differences = np.abs(ours - theirs)[upper] if any_synthetic else np.ones(len(upper[0]))
    worst = sorted(zip(*upper, differences, strict=True), key=lambda p: -p[2])[:WORST_PAIRS]
    return {
        "distance": float(differences.mean()),
        "columns": names,
        "original": ours.tolist(),
        "synthetic": theirs.tolist(),
        "worst": [
            {
                "columns": [names[i], names[j]],
                "original": float(ours[i, j]),
                "synthetic": float(theirs[i, j]),
                "distance": float(d),
            }
            for i, j, d in worst
        ],
    }


def _mean(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return float(np.mean(present)) if present else None


def _accuracy(distances) -> float | None:
    distance = _mean(list(distances))
    return None if distance is None else 1.0 - distance
