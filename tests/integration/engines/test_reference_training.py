"""The reference engine trains for real and obeys the control at every step boundary."""

import math
from dataclasses import replace

import numpy as np
import pytest

from ffwd.adapters.datasets.csv_tables import read_rows
from ffwd.adapters.engines.reference.tabular import TableModel
from ffwd.application.spec import TableSpec
from ffwd.application.training import PhaseInterrupted
from tests.integration.engines.controls import ScriptedControl
from tests.integration.engines.jobs import tabular_job, text_job


def marginal_entropy(model: TableModel, rows: list[dict[str, str]]) -> float:
    """Mean entropy per column (nats) of the columns' token frequencies: what a model of
    independent columns would score."""
    tokens = model.encode(rows)
    entropies = []
    for i in range(tokens.shape[1]):
        p = np.bincount(tokens[:, i]) / len(tokens)
        p = p[p > 0]
        entropies.append(float(-(p * np.log(p)).sum()))
    return float(np.mean(entropies))


def test_the_tabular_model_learns_the_dependencies(engine, store, customers):
    control = ScriptedControl(stop_at_epoch=10)
    outcome = engine.train(tabular_job(customers, learning_rate=0.01, batch_size=32), control)

    losses = control.val_losses()
    assert len(losses) == 10
    assert losses[-1] < losses[0] - 0.1
    arrays, meta = store.load("gen-1", "tabular", outcome.checkpoint["id"])
    model = TableModel.from_meta(meta["groups"][0]["models"][0], arrays)
    assert model.columns == ["tier", "amount", "joined", "city", "age", "active"]
    assert list(model.keys) == ["id"]  # a key: not modelled
    independent = marginal_entropy(model, read_rows(customers.path)[1])
    assert min(losses) < independent - 0.15
    assert outcome.checkpoint["val_loss"] == min(losses)
    assert outcome.reasons == ("max_epochs_reached",)


def test_a_stop_at_step_n_means_exactly_n_steps(engine, customers):
    control = ScriptedControl(stop_at_step=13)
    outcome = engine.train(tabular_job(customers), control)

    assert [step for _, step, _ in control.calls] == list(range(1, 14))
    assert outcome.step == 13
    assert outcome.reasons == ("manually_stopped",)
    # 540 training rows / 64 = 9 steps per epoch: one validation ran, at step 9
    assert outcome.epoch == 1
    assert outcome.checkpoint | {"val_loss": None} == {
        "id": "a1-e1-s9",
        "epoch": 1,
        "step": 9,
        "val_loss": None,
        "epsilon": None,
    }


def test_only_epoch_ends_carry_metrics(engine, customers):
    control = ScriptedControl(stop_at_epoch=2)
    engine.train(tabular_job(customers), control)

    for epoch, step, metrics in control.calls:
        if step % 9:
            assert metrics is None
            assert epoch == step // 9
        else:
            assert set(metrics) == {"val_loss", "train_loss"}
            assert epoch == step // 9
            assert math.isfinite(metrics["val_loss"])


def test_a_prequeued_stop_takes_one_step_and_keeps_a_usable_model(engine, store, customers):
    control = ScriptedControl(stop_at_step=0)
    outcome = engine.train(tabular_job(customers), control)

    assert len(control.calls) == 1
    assert (outcome.epoch, outcome.step) == (0, 1)
    assert outcome.checkpoint["id"] == "a1-e0-s1"
    assert math.isfinite(outcome.checkpoint["val_loss"])
    assert outcome.val_loss == outcome.checkpoint["val_loss"]
    assert store.checkpoint_ids("gen-1", "tabular") == ["a1-e0-s1"]


def test_only_the_best_checkpoint_is_kept(engine, store, customers):
    control = ScriptedControl(stop_at_epoch=6)
    outcome = engine.train(tabular_job(customers, learning_rate=0.2), control)

    assert store.checkpoint_ids("gen-1", "tabular") == [outcome.checkpoint["id"]]
    best = min(control.val_losses())
    assert outcome.checkpoint["val_loss"] == best
    assert outcome.val_loss == control.val_losses()[-1]


def test_each_attempt_of_a_phase_keeps_its_own_files(engine, store, customers):
    """A takeover's attempt 2 and the stale attempt 1 it replaced reach the same step: neither
    writes over nor deletes the other's checkpoint."""
    first = engine.train(tabular_job(customers), ScriptedControl(stop_at_epoch=2))
    written = {p: p.read_bytes() for p in store.root.rglob("*") if p.is_file()}
    second = engine.train(
        replace(tabular_job(customers), attempt=2), ScriptedControl(stop_at_epoch=2)
    )
    assert first.checkpoint["id"].startswith("a1-e")
    assert second.checkpoint["id"] == "a2-" + first.checkpoint["id"].removeprefix("a1-")
    assert sorted(store.checkpoint_ids("gen-1", "tabular")) == [
        first.checkpoint["id"],
        second.checkpoint["id"],
    ]
    assert all(p.read_bytes() == content for p, content in written.items())


def test_a_resumed_phase_starts_from_the_parents_weights(engine, store, customers):
    parent = engine.train(tabular_job(customers, "parent"), ScriptedControl(stop_at_epoch=3))
    kept = parent.checkpoint
    resume = {"generator": "parent", **kept}
    child_job = replace(tabular_job(customers, "child"), resume_from=resume)

    control = ScriptedControl(stop_at_step=0)
    child = engine.train(child_job, control)

    assert control.calls[0][:2] == (kept["epoch"], kept["step"] + 1)
    assert (child.epoch, child.step) == (kept["epoch"], kept["step"] + 1)
    # no epoch ended: the kept model is the resumed one, validated exactly as the parent's
    assert child.checkpoint["val_loss"] == kept["val_loss"]
    parent_arrays, _ = store.load("parent", "tabular", kept["id"])
    child_arrays, _ = store.load("child", "tabular", child.checkpoint["id"])
    assert np.array_equal(parent_arrays["t0.W"], child_arrays["t0.W"])


def test_a_resumed_phase_keeps_improving_from_where_it_was(engine, customers):
    slow = {"learning_rate": 0.01, "batch_size": 32}
    fresh = ScriptedControl(stop_at_epoch=1)
    engine.train(tabular_job(customers, "fresh", **slow), fresh)
    parent_job = tabular_job(customers, "parent", **slow)
    parent = engine.train(parent_job, ScriptedControl(stop_at_epoch=6))
    resume = {"generator": "parent", **parent.checkpoint}
    control = ScriptedControl(stop_at_epoch=parent.checkpoint["epoch"] + 1)
    engine.train(replace(tabular_job(customers, "child", **slow), resume_from=resume), control)

    first_resumed = control.val_losses()[0]
    assert first_resumed < fresh.val_losses()[0] - 0.08
    assert first_resumed < parent.checkpoint["val_loss"] + 0.03


def test_phase_interrupted_propagates_and_discard_removes_the_files(engine, store, customers):
    with pytest.raises(PhaseInterrupted):
        engine.train(tabular_job(customers), ScriptedControl(interrupt_at_step=12))
    assert store.checkpoint_ids("gen-1", "tabular")  # epoch 1's checkpoint was written

    engine.discard("gen-1")
    assert not (store.root / "gen-1").exists()


def test_the_text_model_learns(engine, customers):
    control = ScriptedControl(stop_at_epoch=3)
    outcome = engine.train(text_job(customers), control)

    losses = control.val_losses()
    assert losses[-1] < losses[0]
    assert losses[-1] < 1.0  # nats per character; a uniform guess over ~30 chars is 3.4
    assert outcome.checkpoint["val_loss"] == min(losses)


def test_a_text_phase_needs_text_columns(engine, customers):
    with pytest.raises(ValueError, match="no text columns"):
        engine.train(
            text_job(customers.model_copy(update={"text_columns": []})),
            ScriptedControl(stop_at_step=0),
        )


def test_the_control_alone_ends_the_loop_even_past_ten_thousand_epochs(engine, tmp_path):
    """The loop once stopped itself at 10,000 epochs, whatever the spec asked, with no reason
    (`unknown`): now only the control ends it."""
    path = tmp_path / "tiny.csv"
    path.write_text("a,b\n" + "".join(f"{i % 2},{i % 3}\n" for i in range(12)))
    control = ScriptedControl(stop_at_epoch=10_001)
    tiny = TableSpec(name="tiny", path=str(path), text_columns=[])
    outcome = engine.train(tabular_job(tiny, batch_size=64), control)  # a step an epoch
    assert (outcome.epoch, outcome.reasons) == (10_001, ("max_epochs_reached",))
