"""Distances between original and synthetic: total variation and Cramér's V associations."""

from collections import Counter

import numpy as np

from ffwd.adapters.report.columns import Binned


def frequencies(codes: np.ndarray, bins: int) -> np.ndarray:
    counts = np.bincount(codes, minlength=bins).astype(float)
    return counts / counts.sum() if counts.sum() else counts


def total_variation(p: np.ndarray, q: np.ndarray) -> float:
    """Half the L1 distance of two distributions; 1 when either side has no data at all."""
    if not p.sum() or not q.sum():
        return 1.0
    return float(0.5 * np.abs(p - q).sum())


def binned_distance(binned: Binned) -> float:
    bins = len(binned.labels)
    return total_variation(frequencies(binned.original, bins), frequencies(binned.synthetic, bins))


def counted_distance(original: Counter, synthetic: Counter) -> float:
    """Total variation over the union of the keys of two counters."""
    keys = sorted(original.keys() | synthetic.keys())
    p = np.array([original[k] for k in keys], dtype=float)
    q = np.array([synthetic[k] for k in keys], dtype=float)
    if not p.sum() or not q.sum():
        return 1.0
    return total_variation(p / p.sum(), q / q.sum())


def cramers_v(a: np.ndarray, b: np.ndarray, size_a: int, size_b: int) -> float:
    """Bias-corrected Cramér's V (Bergsma 2013), so independent columns score near 0."""
    table = np.bincount(a * size_b + b, minlength=size_a * size_b).reshape(size_a, size_b)
    table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0].astype(float)
    n = table.sum()
    r, k = table.shape
    if n < 2 or min(r, k) < 2:
        return 0.0
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / n
    phi2 = float(((table - expected) ** 2 / expected).sum() / n)
    phi2 = max(0.0, phi2 - (k - 1) * (r - 1) / (n - 1))
    r_corr = r - (r - 1) ** 2 / (n - 1)
    k_corr = k - (k - 1) ** 2 / (n - 1)
    denominator = min(r_corr - 1, k_corr - 1)
    return float(min(1.0, np.sqrt(phi2 / denominator))) if denominator > 0 else 0.0


def associations(columns: list[Binned], side: str) -> np.ndarray:
    """The matrix of Cramér's V between every pair of columns, on one side (original or
    synthetic)."""
    size = len(columns)
    matrix = np.eye(size)
    for i in range(size):
        for j in range(i + 1, size):
            a, b = getattr(columns[i], side), getattr(columns[j], side)
            v = cramers_v(a, b, len(columns[i].labels), len(columns[j].labels))
            matrix[i, j] = matrix[j, i] = v
    return matrix
