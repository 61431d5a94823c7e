"""A small synthetic customers table: a tier that drives amount, age and city; a date;
and a free-text review built from templates."""

import csv
from datetime import date, timedelta
from pathlib import Path

import numpy as np

TIERS = {"gold": (900.0, 60), "silver": (400.0, 45), "bronze": (100.0, 25)}
CITIES = ["Vienna", "Graz", "Linz", "Salzburg", "Innsbruck"]
ADJECTIVES = ["great", "poor", "fine", "slow", "quick", "lovely"]
NOUNS = ["service", "delivery", "product", "support", "price"]
ENDINGS = ["thanks", "never again", "ok"]
COLUMNS = ["id", "tier", "amount", "joined", "city", "age", "active", "review"]


def write_customers(path: Path, rows: int = 600, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(COLUMNS)
        for i in range(rows):
            tier = str(rng.choice(list(TIERS)))
            mean, age_mean = TIERS[tier]
            city = CITIES[int(rng.integers(2))] if tier == "gold" else str(rng.choice(CITIES))
            age = int(np.clip(rng.normal(age_mean, 4), 18, 90))
            joined = date(2020, 1, 1) + timedelta(days=int(rng.integers(700)))
            review = f"The {rng.choice(NOUNS)} was {rng.choice(ADJECTIVES)}, {rng.choice(ENDINGS)}."
            writer.writerow(
                [
                    i,
                    tier,
                    f"{mean + rng.normal(0, mean / 10):.2f}",
                    joined.isoformat(),
                    city,
                    "" if rng.random() < 0.05 else age,
                    "yes" if age < 50 else str(rng.choice(["yes", "no"])),
                    review,
                ]
            )
    return path


def read_csv(path: str) -> tuple[list[str], list[dict[str, str]]]:
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or []), list(reader)
