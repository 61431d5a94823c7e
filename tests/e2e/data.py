"""A tiny two-table dataset for the end-to-end tests: customers and their orders.

Each table has numbers, categories, a date and a short free-text column, with structure a
trained model can learn (a tier drives the amount and the age; a product drives the price
and the review's words), so a fully trained model scores clearly above a one-step one.
"""

import csv
from datetime import date, timedelta
from pathlib import Path

import numpy as np

TIERS = {"gold": (900.0, 60), "silver": (400.0, 42), "bronze": (100.0, 25)}
CITIES = ["Vienna", "Graz", "Linz", "Salzburg", "Innsbruck"]
HOBBIES = ["hiking", "chess", "sailing", "baking", "cycling"]
PRODUCTS = {"lamp": 30.0, "chair": 120.0, "desk": 450.0, "rug": 80.0}
WORDS = {"lamp": "bright", "chair": "comfy", "desk": "sturdy", "rug": "soft"}
ENDINGS = ["thanks", "ok", "would buy again"]


def write_customers(path: Path, rows: int = 300, seed: int = 1) -> Path:
    rng = np.random.default_rng(seed)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "tier", "amount", "age", "city", "joined", "bio"])
        for i in range(rows):
            tier = str(rng.choice(list(TIERS)))
            mean, age_mean = TIERS[tier]
            city = CITIES[int(rng.integers(2))] if tier == "gold" else str(rng.choice(CITIES))
            joined = date(2021, 1, 1) + timedelta(days=int(rng.integers(900)))
            bio = f"I like {rng.choice(HOBBIES)} and {rng.choice(HOBBIES)} a lot"
            writer.writerow(
                [
                    i,
                    tier,
                    f"{mean + rng.normal(0, mean / 10):.2f}",
                    int(np.clip(rng.normal(age_mean, 4), 18, 90)),
                    city,
                    joined.isoformat(),
                    bio,
                ]
            )
    return path


def write_orders(path: Path, rows: int = 300, seed: int = 2) -> Path:
    rng = np.random.default_rng(seed)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["order_id", "product", "quantity", "price", "ordered", "review"])
        for i in range(rows):
            product = str(rng.choice(list(PRODUCTS)))
            quantity = int(rng.integers(1, 4)) if product != "desk" else 1
            ordered = date(2023, 1, 1) + timedelta(days=int(rng.integers(365)))
            review = f"The {product} is {WORDS[product]}, {rng.choice(ENDINGS)}"
            writer.writerow(
                [
                    1000 + i,
                    product,
                    quantity,
                    f"{PRODUCTS[product] * quantity * (1 + rng.normal(0, 0.05)):.2f}",
                    ordered.isoformat(),
                    review,
                ]
            )
    return path
