"""The shipped sample data is exactly what its script writes, on every run."""

import csv
import json
import subprocess
import sys
from pathlib import Path

from ffwd.application.spec import parse_spec

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "scripts" / "make_sample_data.py"
SHIPPED = ROOT / "adapters" / "sample_data"
FILES = ("customers.csv", "orders.csv", "demo.json")


def make(out: Path) -> dict[str, bytes]:
    subprocess.run([sys.executable, str(SCRIPT), str(out)], check=True, cwd=out.parent)
    return {name: (out / name).read_bytes() for name in FILES}


def test_the_script_is_deterministic_and_the_shipped_files_are_its_output(tmp_path):
    first, second = make(tmp_path / "a"), make(tmp_path / "b")
    assert first == second
    for name in FILES:
        assert (SHIPPED / name).read_bytes() == first[name], f"{name} was edited by hand"


def test_the_files_are_commit_sized():
    for name in FILES:
        assert (SHIPPED / name).stat().st_size < 400_000


def test_the_demo_spec_is_valid_and_names_both_tables_with_their_text_columns():
    raw = json.loads((SHIPPED / "demo.json").read_text())
    for table in raw["tables"]:
        table["path"] = str(SHIPPED / table["path"])
    spec = parse_spec(raw)
    assert spec.name == "customers-demo"
    assert {t.name: t.text_columns for t in spec.tables} == {
        "customers": ["bio"],
        "orders": ["review"],
    }
    assert spec.training.max_epochs == 30 and spec.training.differential_privacy is None
    assert spec.synthesis.rows == {"customers": 1000, "orders": 1500}


def test_orders_belong_to_known_customers_and_follow_their_signup():
    with (SHIPPED / "customers.csv").open(newline="") as f:
        customers = {r["customer_id"]: r for r in csv.DictReader(f)}
    with (SHIPPED / "orders.csv").open(newline="") as f:
        orders = list(csv.DictReader(f))
    assert 1000 <= len(customers) <= 2000 and 2000 <= len(orders) <= 3000
    for order in orders:
        assert order["order_date"] >= customers[order["customer_id"]]["signup_date"]
