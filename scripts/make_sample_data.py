"""Write the shipped sample dataset (customers, orders, demo spec): seeded, so reruns match."""

import csv
import json
import sys
from datetime import date, timedelta
from pathlib import Path

import numpy as np
from sample_vocabulary import (
    BIOS,
    CHANNELS,
    COUNTRIES,
    HOBBIES,
    ITEMS,
    REVIEWS,
    SEGMENTS,
    STATUSES,
    WORDS,
)

SEED = 20240611
CUSTOMERS = 1500
ORDERS = 2500
FIRST_SIGNUP = date(2019, 1, 1)
LAST_DAY = date(2025, 6, 30)
DEFAULT_OUT = Path(__file__).resolve().parent.parent / "adapters" / "sample_data"


def pick(rng: np.random.Generator, options: list[str]) -> str:
    return options[int(rng.integers(len(options)))]


def customers(rng: np.random.Generator) -> list[dict[str, str]]:
    names = list(SEGMENTS)
    shares = np.array([SEGMENTS[s][0] for s in names])
    countries = list(COUNTRIES)
    country_shares = np.array([COUNTRIES[c][0] for c in countries])
    span = (LAST_DAY - FIRST_SIGNUP).days - 180
    rows = []
    for i in range(CUSTOMERS):
        segment = names[rng.choice(len(names), p=shares / shares.sum())]
        _, mean_age, spread, youngest, oldest, median = SEGMENTS[segment]
        age = int(np.clip(round(rng.normal(mean_age, spread)), youngest, oldest))
        country = countries[rng.choice(len(countries), p=country_shares / country_shares.sum())]
        _, level, cities = COUNTRIES[country]
        # Signups grow over time, and students arrived mostly in recent years.
        recency = rng.random() ** (0.45 if segment == "student" else 0.75)
        signup = FIRST_SIGNUP + timedelta(days=int(recency * span))
        career = 1 + 0.02 * (age - 40) if segment in ("professional", "self-employed") else 1
        income = median * level * career * rng.lognormal(0, 0.35)
        rows.append(
            {
                "customer_id": f"C{i + 1:05d}",
                "age": str(age),
                "segment": segment,
                "country": country,
                "signup_date": signup.isoformat(),
                "income": str(int(round(income, -1))),
                "bio": bio(rng, segment, age, pick(rng, cities)),
            }
        )
    return rows


def bio(rng: np.random.Generator, segment: str, age: int, city: str) -> str:
    group = "young" if age < 30 else "adult" if age < 60 else "older"
    hobby, hobby2 = rng.choice(HOBBIES[group], size=2, replace=False)
    job = pick(rng, WORDS["job"])
    return pick(rng, BIOS[segment]).format(
        city=city,
        hobby=hobby,
        hobby2=hobby2,
        field=pick(rng, WORDS["field"]),
        job=job,
        job_lower=job.lower(),
        business=pick(rng, WORDS["business"]),
        former=pick(rng, WORDS["former"]),
    )


def orders(rng: np.random.Generator, people: list[dict[str, str]]) -> list[dict[str, str]]:
    appetite = {"student": 0.7, "professional": 1.6, "self-employed": 1.3, "part-time": 0.9}
    weights = np.array([appetite.get(p["segment"], 1.0) for p in people])
    buyers = rng.choice(len(people), size=ORDERS, p=weights / weights.sum())
    rows = []
    for i, who in enumerate(buyers):
        person = people[who]
        age = int(person["age"])
        signup = date.fromisoformat(person["signup_date"])
        ordered = signup + timedelta(days=int(rng.random() * (LAST_DAY - signup).days))
        young = float(np.clip((60 - age) / 40, 0, 1))
        channel_p = np.array([0.1 + 0.5 * young, 0.35, 0.35 - 0.25 * young, 0.2 - 0.1 * young])
        channel = CHANNELS[rng.choice(4, p=channel_p / channel_p.sum())]
        amount = 18 * (int(person["income"]) / 10_000) ** 0.5 * rng.lognormal(0.8, 0.6)
        amount *= 1.4 if channel == "store" else 1.0
        # Big orders come back more often; store purchases rarely go wrong.
        returned = 0.05 + min(amount / 2_000, 0.15)
        status_p = np.array([0.78, 0.12 if channel != "store" else 0.02, returned, 0.05])
        status = STATUSES[rng.choice(4, p=status_p / status_p.sum())]
        review = ""
        if rng.random() > 0.08:
            review = review_text(rng, status)
        rows.append(
            {
                "order_id": f"O{i + 1:05d}",
                "customer_id": person["customer_id"],
                "order_date": ordered.isoformat(),
                "amount": f"{amount:.2f}",
                "channel": channel,
                "status": status,
                "review": review,
            }
        )
    rows.sort(key=lambda r: (r["order_date"], r["order_id"]))
    for i, row in enumerate(rows):
        row["order_id"] = f"O{i + 1:05d}"
    return rows


def review_text(rng: np.random.Generator, status: str) -> str:
    happened, remark = REVIEWS[status]
    text = f"{pick(rng, happened)} {pick(rng, remark)}"
    return text.format(item=pick(rng, ITEMS), days=int(rng.integers(2, 9)))


def demo_spec() -> dict:
    return {
        "name": "customers-demo",
        "kind": "training",
        "tables": [
            {"name": "customers", "path": "customers.csv", "text_columns": ["bio"]},
            {"name": "orders", "path": "orders.csv", "text_columns": ["review"]},
        ],
        "training": {
            "max_epochs": 30,
            "max_training_time_s": 120,
            "early_stopping_patience": 4,
            "differential_privacy": None,
            "batch_size": 128,
        },
        "synthesis": {"rows": {"customers": 1000, "orders": 1500}},
    }


def write_csv(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def main(out: Path = DEFAULT_OUT) -> None:
    rng = np.random.default_rng(SEED)
    out.mkdir(parents=True, exist_ok=True)
    people = customers(rng)
    write_csv(out / "customers.csv", people)
    write_csv(out / "orders.csv", orders(rng, people))
    (out / "demo.json").write_text(json.dumps(demo_spec(), indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_OUT)
