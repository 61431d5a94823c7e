"""Small correlated tables built in memory, and their shuffled and random counterparts."""

from datetime import date, timedelta

import numpy as np

SEGMENTS = ["student", "professional", "retired"]
HOBBIES = {"student": "gaming", "professional": "cycling", "retired": "gardening"}


def original(rows: int = 600, seed: int = 0) -> list[dict[str, str]]:
    rng = np.random.default_rng(seed)
    table = []
    for i in range(rows):
        segment = SEGMENTS[int(rng.integers(3))]
        age = {"student": 21, "professional": 42, "retired": 71}[segment] + rng.normal(0, 3)
        income = {"student": 9_000, "professional": 55_000, "retired": 28_000}[segment]
        joined = date(2020, 1, 1) + timedelta(days=int(age * 10 + rng.integers(60)))
        table.append(
            {
                "id": f"C{i:05d}",
                "segment": segment,
                "age": str(round(age)),
                "income": f"{income * rng.lognormal(0, 0.2):.2f}",
                "joined": joined.isoformat(),
                "bio": f"{segment.title()} from Lyon who likes {HOBBIES[segment]} a lot.",
            }
        )
    return table


def shuffled(rows: list[dict[str, str]], seed: int = 1) -> list[dict[str, str]]:
    """Every column shuffled on its own: the same distributions, no associations."""
    rng = np.random.default_rng(seed)
    columns = {c: [r[c] for r in rows] for c in rows[0]}
    for values in columns.values():
        rng.shuffle(values)
    return [{c: columns[c][i] for c in columns} for i in range(len(rows))]


def uniform(rows: list[dict[str, str]], seed: int = 2) -> list[dict[str, str]]:
    """Every column drawn uniformly at random over the original's range or categories."""
    rng = np.random.default_rng(seed)
    n = len(rows)
    ages = [int(r["age"]) for r in rows]
    incomes = [float(r["income"]) for r in rows]
    letters = list("abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    return [
        {
            "id": f"R{i:05d}",
            "segment": SEGMENTS[int(rng.integers(3))],
            "age": str(int(rng.integers(min(ages), max(ages) + 1))),
            "income": f"{rng.uniform(min(incomes), max(incomes)):.2f}",
            "joined": (date(2020, 1, 1) + timedelta(days=int(rng.integers(2000)))).isoformat(),
            "bio": "".join(rng.choice(letters, size=int(rng.integers(5, 90)))),
        }
        for i in range(n)
    ]
