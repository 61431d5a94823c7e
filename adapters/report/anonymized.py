"""The report of an anonymization generator: what each column's technique changed, and how
much of the tables' utility remains (the quality report's measures, anonymized vs original)."""

import re
from collections import Counter
from collections.abc import Mapping
from datetime import date

import numpy as np

from ffwd.adapters.report.columns import day_numbers, numbers
from ffwd.adapters.report.quality import METHOD, compare_table, summarize

CHANGES = (
    "changes: per column, the technique applied (null: copied unchanged), the share of cells "
    "whose text changed, and a summary. Utility: the measures above, with the anonymized table "
    "in the place of the synthetic one. A binned column is compared at its bins' midpoints; a "
    "hashed or masked column whose values were relabeled one to one (each original value to "
    "its own anonymized value) is compared as the original, since relabeling loses nothing "
    "the measures see; text columns are detected as in a training report."
)
_INTERVAL = re.compile(r"^[(\[]\s*([^,\s]+)\s*,\s*([^\])\s]+)\s*[)\]]$")


def compare_anonymized(
    columns: list[str],
    original: list[dict[str, str]],
    anonymized: list[dict[str, str]],
    techniques: Mapping[str, str],
) -> dict:
    """The quality report of one table plus `changes`: column -> what its technique did."""
    changes, comparable = {}, [dict(row) for row in anonymized]
    for column in columns:
        ours = [row.get(column) or "" for row in original]
        theirs = [row.get(column) or "" for row in anonymized]
        technique = techniques.get(column)
        entry, compared = describe_change(technique, ours, theirs)
        changes[column] = entry
        if compared is not theirs:
            for row, value in zip(comparable, compared, strict=True):
                row[column] = value
    table = compare_table(columns, original, comparable, None)
    table["changes"] = changes
    return table


def summarize_anonymized(name: str, tables: dict[str, dict]) -> dict:
    summary = summarize(name, tables)
    return {
        "generator": summary["generator"],
        "kind": "anonymization",
        "accuracy": summary["accuracy"],
        "parts": summary["parts"],
        "changed": _mean([_table_changed(t) for t in tables.values()]),
        "method": f"{METHOD} {CHANGES}",
        "tables": summary["tables"],
    }


def describe_change(
    technique: str | None, ours: list[str], theirs: list[str]
) -> tuple[dict, list[str]]:
    """The change entry of one column, and its anonymized values as the utility compares them."""
    size = max(len(ours), len(theirs), 1)
    differs = sum(a != b for a, b in zip(ours, theirs, strict=False)) + abs(len(ours) - len(theirs))
    changed = differs / size
    entry: dict = {"technique": technique, "changed": changed}
    compared, compared_as = theirs, "values"
    if technique in ("perturb_number", "top_bottom_code"):
        entry |= _moved(numbers(ours), numbers(theirs))
    elif technique == "perturb_date":
        entry |= _moved(day_numbers(ours), day_numbers(theirs))
        for side, (low, high) in (entry["range"] or {}).items():
            entry["range"][side] = [_iso(low), _iso(high)]
    elif technique == "bin":
        entry["bins"] = len({v for v in theirs if v != ""})
        compared, compared_as = [_midpoint(v) for v in theirs], "bin midpoints"
    elif technique in ("hash", "mask", "mock"):
        entry["distinct"] = {"original": len(set(ours)), "anonymized": len(set(theirs))}
        if technique != "mock" and _one_to_one(ours, theirs):
            compared, compared_as = ours, "original labels (relabeled one to one)"
    elif technique == "swap":
        entry["same_values"] = Counter(ours) == Counter(theirs)
    elif technique == "top_bottom_code_category":
        grouped = sorted({a for a, b in zip(ours, theirs, strict=False) if a != b and a != ""})
        others = {b for a, b in zip(ours, theirs, strict=False) if a != b and a != ""}
        entry["grouped"] = grouped
        entry["into"] = sorted(others)
    elif technique == "null":
        entry["value"] = Counter(theirs).most_common(1)[0][0] if theirs else ""
        entry["share"] = sum(v == entry["value"] for v in theirs) / size
    entry["summary"] = _summary(entry)
    entry["compared_as"] = compared_as
    return entry, compared


def _moved(before: np.ndarray, after: np.ndarray) -> dict:
    both = np.isfinite(before) & np.isfinite(after) if len(before) == len(after) else None
    if both is None or not both.any():
        return {"mean_abs_change": None, "range": None}
    b, a = before[both], after[both]
    return {
        "mean_abs_change": float(np.abs(a - b).mean()),
        "range": {
            "original": [float(b.min()), float(b.max())],
            "anonymized": [float(a.min()), float(a.max())],
        },
    }


def _summary(entry: dict) -> str:
    technique, share = entry["technique"], _share(entry["changed"])
    if technique is None:
        return "unchanged" if not entry["changed"] else f"changed {share} (not anonymized)"
    if technique == "perturb_number":
        return f"perturbed {share}: mean abs change {_number(entry['mean_abs_change'])}"
    if technique == "perturb_date":
        return f"perturbed {share}: mean abs change {_number(entry['mean_abs_change'])} days"
    if technique == "top_bottom_code":
        limits = (entry["range"] or {}).get("anonymized") or [None, None]
        return (
            f"top/bottom coded: {share} of cells clipped to "
            f"{_number(limits[0])} \u2013 {_number(limits[1])}"
        )
    if technique == "perturb_category":
        return f"perturbed: {share} of cells changed category"
    if technique == "bin":
        return f"binned into {entry['bins']} bins ({share} of cells changed)"
    if technique == "swap":
        kept = "the same values" if entry["same_values"] else "values NOT kept"
        return f"swapped: {share} of cells changed, {kept}"
    if technique == "top_bottom_code_category":
        into = ", ".join(entry["into"]) or "-"
        grouped = ", ".join(entry["grouped"]) or "none"
        return f"rare categories grouped into {into}: {grouped} ({share} of cells)"
    if technique == "null":
        what = "empty" if entry["value"] == "" else repr(entry["value"])
        return f"nulled {_share(entry['share'])} ({what})"
    verb = {"mask": "masked", "hash": "hashed", "mock": "mocked"}.get(technique, technique)
    return f"{verb} {share}"


def _iso(day: float) -> str:
    return date.fromordinal(round(day)).isoformat()


def _midpoint(label: str) -> str:
    match = _INTERVAL.match(label)
    if not match:
        return label
    try:
        low, high = float(match.group(1)), float(match.group(2))
    except ValueError:
        return label
    middle = (low + high) / 2
    return repr(middle) if np.isfinite(middle) else label


def _one_to_one(ours: list[str], theirs: list[str]) -> bool:
    if len(ours) != len(theirs):
        return False
    pairs = set(zip(ours, theirs, strict=True))
    return len(pairs) == len(set(ours)) == len(set(theirs))


def _table_changed(table: dict) -> float | None:
    rows = table["rows"]["original"]
    changes = table["changes"].values()
    return _mean([c["changed"] for c in changes]) if rows and changes else None


def _mean(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return float(np.mean(present)) if present else None


def _share(value: float) -> str:
    if 0 < value < 0.001:
        return "<0.1%"
    return f"{value:.1%}".replace(".0%", "%")


def _number(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:,.2f}".rstrip("0").rstrip(".")
