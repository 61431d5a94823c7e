"""The reference engine on the shipped sample data: keys not modelled, foreign keys capped,
a small model (a structural guard on the step's cost, not a timing), fresh keys synthesized."""

import re
from pathlib import Path

import pytest

import ffwd.adapters.sample_data
from ffwd.adapters.engines.reference.builders import load_tables, tabular_groups
from ffwd.adapters.engines.reference.encoding import MAX_CATEGORIES, CategoryEncoder
from ffwd.application.spec import GeneratorSpec, TableSpec, TrainingSpec
from ffwd.application.training import PhaseJob
from tests.integration.engines.controls import ScriptedControl
from tests.integration.engines.customers import read_csv

SAMPLE = Path(ffwd.adapters.sample_data.__file__).parent
# Was ~0.5M parameters (1.1M with the text columns as categories), ~25 ms per Adam update,
# when ids and foreign keys were up to 255 tokens each and every column padded to the widest.
MAX_PARAMETERS = 200_000


def sample_tables(text: bool) -> list[TableSpec]:
    return [
        TableSpec(
            name=name, path=str(SAMPLE / f"{name}.csv"), text_columns=[column] if text else []
        )
        for name, column in (("customers", "bio"), ("orders", "review"))
    ]


@pytest.mark.parametrize("text", [True, False])
@pytest.mark.parametrize("private", [False, True])
def test_ids_are_keys_foreign_keys_are_capped_and_the_model_is_small(text, private):
    tables = sample_tables(text)
    groups = tabular_groups(tables, load_tables(tables), 0.1, 0, private)
    customers, orders = (g.models[0] for g in groups)

    assert list(customers.keys) == ["customer_id"] and "customer_id" not in customers.columns
    assert list(orders.keys) == ["order_id"]
    foreign = orders.encoders[orders.columns.index("customer_id")]
    assert isinstance(foreign, CategoryEncoder) and foreign.size <= MAX_CATEGORIES + 2
    assert max(e.size for g in groups for e in g.models[0].encoders) <= MAX_CATEGORIES + 2
    assert sum(p.size for g in groups for p in g.params().values()) < MAX_PARAMETERS


def test_sample_data_synthesizes_fresh_keys_and_real_foreign_keys(engine, tmp_path):
    tables = sample_tables(text=False)
    job = PhaseJob("gen-s", "tabular", "tabular", tables, TrainingSpec(batch_size=128), seed=3)
    outcome = engine.train(job, ScriptedControl(stop_at_epoch=2))
    spec = GeneratorSpec(name="sample", tables=tables)
    paths = engine.synthesize("gen-s", spec, {"tabular": outcome.checkpoint}, str(tmp_path))

    _, real_customers = read_csv(str(SAMPLE / "customers.csv"))
    _, real_orders = read_csv(str(SAMPLE / "orders.csv"))
    _, customers = read_csv(paths["customers"])
    _, orders = read_csv(paths["orders"])
    for rows, real, column, prefix in (
        (customers, real_customers, "customer_id", "C"),
        (orders, real_orders, "order_id", "O"),
    ):
        keys = [r[column] for r in rows]
        assert all(re.fullmatch(prefix + r"\d{5}", k) for k in keys)
        assert len(set(keys)) == len(rows) == len(real)
        assert not set(keys) & {r[column] for r in real}  # no real key copied

    # the foreign key, without privacy: real values, rare ones drawn from the pool too
    group = engine.checkpoints.load("gen-s", "tabular", outcome.checkpoint["id"])[1]["groups"][1]
    model = group["models"][0]
    vocabulary = set(model["encoders"][model["columns"].index("customer_id")]["values"])
    synthetic = [r["customer_id"] for r in orders]
    assert set(synthetic) <= {r["customer_id"] for r in real_orders}
    pooled = sum(v not in vocabulary for v in synthetic) / len(synthetic)
    real_pooled = sum(r["customer_id"] not in vocabulary for r in real_orders) / len(real_orders)
    assert abs(pooled - real_pooled) < 0.1
