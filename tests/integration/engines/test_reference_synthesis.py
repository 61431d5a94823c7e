"""Synthesis from the reference engine's checkpoints: right shape, plausible values."""

import statistics
from datetime import date
from pathlib import Path

import pytest

from ffwd.application.spec import GeneratorSpec, TableSpec, TrainingSpec
from ffwd.application.training import PhaseJob
from tests.integration.engines.controls import ScriptedControl
from tests.integration.engines.customers import COLUMNS, read_csv
from tests.integration.engines.jobs import tabular_job, text_job


@pytest.fixture
def trained(engine, customers) -> dict[str, dict]:
    tabular = engine.train(tabular_job(customers), ScriptedControl(stop_at_epoch=6))
    text = engine.train(text_job(customers), ScriptedControl(stop_at_epoch=3))
    return {"tabular": tabular.checkpoint, "text:customers": text.checkpoint}


def spec_for(*tables: TableSpec, rows: dict[str, int] | None = None) -> GeneratorSpec:
    return GeneratorSpec(name="test", tables=list(tables), synthesis={"rows": rows or {}})


def test_synthesis_writes_each_table_with_its_columns_and_rows(
    engine, customers, trained, tmp_path
):
    paths = engine.synthesize("gen-1", spec_for(customers), trained, str(tmp_path / "out"))

    assert paths == {"customers": str(tmp_path / "out" / "customers.csv")}
    columns, rows = read_csv(paths["customers"])
    assert columns == COLUMNS
    assert len(rows) == 600

    custom = spec_for(customers, rows={"customers": 123})
    again = engine.synthesize("gen-1", custom, trained, str(tmp_path / "small"))
    assert len(read_csv(again["customers"])[1]) == 123


def test_synthetic_values_keep_types_ranges_and_dependencies(engine, customers, trained, tmp_path):
    _, original = read_csv(customers.path)
    _, rows = read_csv(
        engine.synthesize("gen-1", spec_for(customers), trained, str(tmp_path))["customers"]
    )

    assert {r["tier"] for r in rows} <= {r["tier"] for r in original}
    ages = [r["age"] for r in rows if r["age"]]
    assert all(a.isdigit() for a in ages)
    assert 0 < len(ages) < len(rows)  # some empty, like the original
    days = [date.fromisoformat(r["joined"]) for r in rows]
    assert min(r["joined"] for r in original) <= min(days).isoformat()
    assert max(days).isoformat() <= max(r["joined"] for r in original)
    assert all(len(r["amount"].split(".")[1]) == 2 for r in rows)
    ids = [int(r["id"]) for r in rows]  # a key: fresh, distinct, past the largest real one
    assert len(set(ids)) == len(ids) and min(ids) > max(int(r["id"]) for r in original)
    gold = [float(r["amount"]) for r in rows if r["tier"] == "gold"]
    bronze = [float(r["amount"]) for r in rows if r["tier"] == "bronze"]
    assert sum(a > 600 for a in gold) / len(gold) > 0.7
    assert sum(a < 250 for a in bronze) / len(bronze) > 0.7


def test_synthetic_text_resembles_the_original(engine, customers, trained, tmp_path):
    _, original = read_csv(customers.path)
    _, rows = read_csv(
        engine.synthesize("gen-1", spec_for(customers), trained, str(tmp_path))["customers"]
    )

    real, fake = [r["review"] for r in original], [r["review"] for r in rows]
    assert set("".join(fake)) <= set("".join(real))
    real_mean, fake_mean = statistics.mean(map(len, real)), statistics.mean(map(len, fake))
    assert abs(fake_mean - real_mean) < 0.5 * real_mean
    assert sum(t.startswith("The ") for t in fake) / len(fake) > 0.8
    assert sum(t.endswith(".") for t in fake) / len(fake) > 0.6


def test_synthesis_is_deterministic(engine, customers, trained, tmp_path):
    first = engine.synthesize("gen-1", spec_for(customers), trained, str(tmp_path / "a"))
    second = engine.synthesize("gen-1", spec_for(customers), trained, str(tmp_path / "b"))
    assert Path(first["customers"]).read_text() == Path(second["customers"]).read_text()


def test_a_one_step_model_from_a_prequeued_stop_synthesizes(engine, customers, tmp_path):
    checkpoints = {
        "tabular": engine.train(tabular_job(customers), ScriptedControl(stop_at_step=0)),
        "text:customers": engine.train(text_job(customers), ScriptedControl(stop_at_step=0)),
    }
    kept = {phase: outcome.checkpoint for phase, outcome in checkpoints.items()}
    paths = engine.synthesize("gen-1", spec_for(customers), kept, str(tmp_path))
    columns, rows = read_csv(paths["customers"])
    assert columns == COLUMNS
    assert len(rows) == 600


def test_one_tabular_phase_covers_every_table(engine, customers, tmp_path):
    orders_csv = tmp_path / "orders.csv"
    orders_csv.write_text(
        "order,customer,total\n" + "".join(f"{i},{i % 50},{i % 7 * 10}\n" for i in range(200))
    )
    orders = TableSpec(name="orders", path=str(orders_csv))
    job = PhaseJob("gen-2", "tabular", "tabular", [customers, orders], TrainingSpec(), seed=1)
    control = ScriptedControl(stop_at_epoch=2)
    outcome = engine.train(job, control)
    text = engine.train(text_job(customers, "gen-2"), ScriptedControl(stop_at_step=0))

    kept = {"tabular": outcome.checkpoint, "text:customers": text.checkpoint}
    paths = engine.synthesize("gen-2", spec_for(customers, orders), kept, str(tmp_path / "out"))
    columns, rows = read_csv(paths["orders"])
    assert columns == ["order", "customer", "total"]
    assert len(rows) == 200
    assert {r["total"] for r in rows} <= {str(v * 10) for v in range(7)}


def test_synthesis_without_a_text_checkpoint_is_refused(engine, customers, trained, tmp_path):
    only_tabular = {"tabular": trained["tabular"]}
    with pytest.raises(ValueError, match="review"):
        engine.synthesize("gen-1", spec_for(customers), only_tabular, str(tmp_path))
