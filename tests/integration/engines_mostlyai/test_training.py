"""mostlyai-engine under our control: stop, pre-queued stop, early stop, privacy budget, cancel,
continue training; every kept checkpoint synthesizes."""

import csv
import json
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from ffwd.adapters.engines.mostlyai import MostlyAIEngine
from ffwd.application.spec import GeneratorSpec, TableSpec, TrainingSpec
from ffwd.application.training import PhaseInterrupted, PhaseJob, PhaseOutcome
from tests.integration.engines_mostlyai.recording import RecordingControl

STEPS_PER_EPOCH = 3


def training(**overrides) -> TrainingSpec:
    values = {
        "max_epochs": 2,
        "batch_size": 16,
        "early_stopping_patience": None,
        "max_training_time_s": None,
    }
    return TrainingSpec(**(values | overrides))


def job(gid: str, table: TableSpec, spec: TrainingSpec, kind="tabular", resume=None) -> PhaseJob:
    phase = "tabular" if kind == "tabular" else f"text:{table.name}"
    return PhaseJob(gid, phase, kind, [table], spec, resume_from=resume, seed=7)


def synthesize(engine, gid: str, table: TableSpec, outcomes: dict, out: Path) -> list[dict]:
    spec = GeneratorSpec(name="t", engine="mostlyai", tables=[table])
    checkpoints = {phase: o.checkpoint for phase, o in outcomes.items()}
    paths = engine.synthesize(gid, spec, checkpoints, str(out))
    with open(paths[table.name], newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_a_stop_lands_at_the_next_step_and_its_checkpoint_synthesizes(
    engine: MostlyAIEngine, customers: TableSpec, generator_id: str, tmp_path: Path
) -> None:
    outcomes: dict[str, PhaseOutcome] = {}
    for kind, phase in (("tabular", "tabular"), ("text", "text:customers")):
        control = RecordingControl(training(max_epochs=20), stop_after_step=4)
        outcomes[phase] = engine.train(job(generator_id, customers, control_spec(), kind), control)
        assert control.steps == [1, 2, 3, 4, 5]
        assert outcomes[phase].step == 5 and outcomes[phase].epoch == 1
        assert outcomes[phase].reasons == ("manually_stopped",)
        assert outcomes[phase].checkpoint["step"] == STEPS_PER_EPOCH  # the best: epoch 1
    rows = synthesize(engine, generator_id, customers, outcomes, tmp_path / "out")
    assert len(rows) == 60 and list(rows[0]) == ["age", "city", "bio"]
    assert sum(1 for r in rows if r["bio"]) > 0


def control_spec() -> TrainingSpec:
    return training(max_epochs=20)


def test_a_pre_queued_stop_costs_exactly_one_step(
    engine: MostlyAIEngine, plain: TableSpec, generator_id: str, tmp_path: Path
) -> None:
    control = RecordingControl(training(), stop_requested=True)
    outcome = engine.train(job(generator_id, plain, training()), control)
    assert control.steps == [1]
    assert (outcome.step, outcome.epoch, outcome.reasons) == (1, 0, ("manually_stopped",))
    assert outcome.checkpoint["step"] == 1  # the engine saved the one-step model
    rows = synthesize(engine, generator_id, plain, {"tabular": outcome}, tmp_path / "out")
    assert len(rows) == 60 and list(rows[0]) == ["age", "city"]


def test_early_stopping_from_the_engines_validation_loss(
    engine: MostlyAIEngine, customers: TableSpec, generator_id: str
) -> None:
    # min_delta far above any change: the second validation does not improve
    spec = training(max_epochs=20, early_stopping_patience=1, early_stopping_min_delta=100.0)
    control = RecordingControl(spec)
    outcome = engine.train(job(generator_id, customers, spec), control)
    validations = [m["val_loss"] for _, _, m in control.calls if m and "val_loss" in m]
    assert len(validations) == 2
    assert (outcome.epoch, outcome.step, outcome.reasons) == (2, 6, ("early_stopped",))
    assert outcome.val_loss == validations[-1]


def assert_engine_reported_our_epsilon(engine, generator_id: str, control) -> None:
    """Our per-step epsilon agrees with every epsilon the engine reported (rounded to 0.01)."""
    ours = {step: m["epsilon"] for _, step, m in control.calls}
    log = pd.read_csv(
        engine.attempt_folder(generator_id, "tabular", 1)
        / "customers/ModelStore/model-data"
        / "progress-messages.csv"
    )
    reported = log.dropna(subset=["dp_eps"])
    assert len(reported) >= 2
    for step, eps in zip(reported["steps"], reported["dp_eps"], strict=True):
        assert ours[int(step)] == pytest.approx(eps, abs=0.006)


def test_the_privacy_budget_stops_before_it_is_exceeded(
    engine: MostlyAIEngine, customers: TableSpec, generator_id: str
) -> None:
    dp = {"max_epsilon": 6.0, "noise_multiplier": 1.0}
    spec = training(max_epochs=20, differential_privacy=dp)
    control = RecordingControl(spec)
    outcome = engine.train(job(generator_id, customers, spec), control)
    assert outcome.reasons == ("privacy_budget_exhausted",)
    assert outcome.epsilon <= 6.0 and outcome.checkpoint["epsilon"] <= 6.0
    last = control.calls[-1][2]
    assert last["next_epsilon"] > 6.0 >= last["epsilon"]
    assert_engine_reported_our_epsilon(engine, generator_id, control)


def test_the_noise_is_chosen_for_the_budget_and_the_engine_trains_with_it(
    engine: MostlyAIEngine, customers: TableSpec, generator_id: str
) -> None:
    spec = training(max_epochs=4, differential_privacy={"max_epsilon": 6.0})
    control = RecordingControl(spec)
    outcome = engine.train(job(generator_id, customers, spec), control)

    plan = control.plan
    assert plan.calibrated and plan.steps_per_epoch == STEPS_PER_EPOCH
    assert plan.last_step >= 4 * STEPS_PER_EPOCH  # the budget pays for every planned epoch
    assert "max_epochs_reached" in outcome.reasons
    assert outcome.epsilon <= 6.0 and outcome.checkpoint["epsilon"] <= 6.0
    # the engine spent what our accounting at the chosen noise says: it trained with it
    assert_engine_reported_our_epsilon(engine, generator_id, control)


def test_a_budget_spent_before_the_first_checkpoint_fails_the_phase(
    engine: MostlyAIEngine, customers: TableSpec, generator_id: str
) -> None:
    spec = training(differential_privacy={"max_epsilon": 2.0, "noise_multiplier": 1.0})
    with pytest.raises(ValueError, match=r"max_epsilon=2\.0 ran out before mostlyai-engine kept"):
        engine.train(job(generator_id, customers, spec), RecordingControl(spec))
    model_data = (
        engine.attempt_folder(generator_id, "tabular", 1) / "customers/ModelStore/model-data"
    )
    assert not model_data.exists()


def test_cancel_raises_out_of_the_engine_and_deletes_its_workspace(
    engine: MostlyAIEngine, customers: TableSpec, generator_id: str
) -> None:
    import datasets

    default_cache = Path(datasets.config.HF_DATASETS_CACHE)
    before = set(default_cache.rglob("*")) if default_cache.exists() else set()
    control = RecordingControl(training(), cancel_at_step=2)
    with pytest.raises(PhaseInterrupted):
        engine.train(job(generator_id, customers, training(), kind="text"), control)
    assert control.steps == [1, 2]
    assert not engine.attempt_folder(generator_id, "text:customers", 1).exists()
    after = set(default_cache.rglob("*")) if default_cache.exists() else set()
    assert after == before, "the engine left rows in the shared datasets cache"
    engine.discard(generator_id)
    assert not (engine.root / generator_id).exists()


def test_an_interrupted_attempt_leaves_the_workspace_of_the_next_alone(
    engine: MostlyAIEngine, plain: TableSpec, generator_id: str, tmp_path: Path
) -> None:
    """A takeover's attempt 2 trains; then the stale attempt 1 it replaced is interrupted at
    its next boundary (its lease is lost) and cleans up: only its own workspace."""
    later = engine.train(replace(job(generator_id, plain, training()), attempt=2), _ctl(1))
    assert (later.checkpoint["id"], later.checkpoint["attempt"]) == ("a2-e1-s3", 2)
    stale = RecordingControl(training(), cancel_at_step=1)
    with pytest.raises(PhaseInterrupted):
        engine.train(job(generator_id, plain, training()), stale)
    assert not engine.attempt_folder(generator_id, "tabular", 1).exists()
    rows = synthesize(engine, generator_id, plain, {"tabular": later}, tmp_path / "out")
    assert len(rows) == 60


@pytest.mark.parametrize("kind", ["tabular", "text"])
def test_continue_training_resumes_weights_counters_and_optimizer(
    kind: str,
    engine: MostlyAIEngine,
    customers: TableSpec,
    plain: TableSpec,
    generator_id: str,
    tmp_path: Path,
) -> None:
    if kind == "tabular":
        customers = plain
    first = engine.train(job(generator_id, customers, training(max_epochs=1), kind), _ctl(1))
    assert (first.epoch, first.step) == (1, STEPS_PER_EPOCH)
    resume = {**first.checkpoint, "generator": generator_id}
    child = "00000000-0000-4000-8000-000000000001"
    control = RecordingControl(training(max_epochs=2))
    second = engine.train(job(child, customers, training(max_epochs=2), kind, resume), control)
    assert control.steps == [4, 5, 6]
    assert (second.epoch, second.step, second.reasons) == (2, 6, ("max_epochs_reached",))
    phase = "tabular" if kind == "tabular" else "text:customers"
    store = engine.attempt_folder(child, phase, 1) / customers.name / "ModelStore/model-data"
    assert (store / "optimizer.pt").is_file()
    if kind == "tabular":
        rows = synthesize(engine, child, customers, {phase: second}, tmp_path / "out")
        assert len(rows) == 60


def test_continue_training_keeps_spending_the_same_privacy_budget(
    engine: MostlyAIEngine, customers: TableSpec, generator_id: str
) -> None:
    dp = {"max_epsilon": 20.0, "noise_multiplier": 1.0}
    spec = training(max_epochs=1, differential_privacy=dp)
    first = engine.train(job(generator_id, customers, spec), RecordingControl(spec))
    resume = {**first.checkpoint, "generator": generator_id}
    child = "00000000-0000-4000-8000-000000000002"
    more = training(max_epochs=2, differential_privacy=dp)
    control = RecordingControl(more)
    engine.train(job(child, customers, more, resume=resume), control)
    assert control.calls[0][2]["epsilon"] > first.checkpoint["epsilon"]
    no_dp = training(max_epochs=1)
    plain = engine.train(job(child, customers, no_dp), RecordingControl(no_dp))
    with pytest.raises(ValueError, match="without differential privacy cannot continue"):
        engine.train(
            job(
                "00000000-0000-4000-8000-000000000003",
                customers,
                more,
                resume={**plain.checkpoint, "generator": child},
            ),
            RecordingControl(more),
        )


def test_a_tabular_phase_over_two_tables_trains_one_model_each(
    engine: MostlyAIEngine, customers: TableSpec, generator_id: str, tmp_path: Path
) -> None:
    second = TableSpec(name="clients", path=customers.path, text_columns=["bio"])
    spec = training(max_epochs=1)
    control = RecordingControl(spec)
    phase = PhaseJob(generator_id, "tabular", "tabular", [customers, second], spec, seed=1)
    outcome = engine.train(phase, control)
    assert control.steps == [1, 2, 3, 4, 5, 6]  # cumulative over the tables
    assert (outcome.epoch, outcome.step, outcome.reasons) == (2, 6, ("max_epochs_reached",))
    assert set(outcome.checkpoint["tables"]) == {"customers", "clients"}
    meta = json.loads(
        (engine.attempt_folder(generator_id, "tabular", 1) / "clients/ffwd.json").read_text()
    )
    assert meta["model_columns"] == ["age", "city"]


def _ctl(max_epochs: int) -> RecordingControl:
    return RecordingControl(training(max_epochs=max_epochs))
