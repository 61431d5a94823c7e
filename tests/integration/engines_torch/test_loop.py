"""A plain PyTorch loop as a runner: stop, pre-queued stop, early stop, privacy budget
(Opacus), cancel, continue training."""

from pathlib import Path

import pytest
import torch
from opacus.accountants.utils import get_noise_multiplier

from ffwd.adapters.engines.torch import TorchCheckpoints
from ffwd.application.training import PhaseInterrupted
from tests.integration.engines_mostlyai.recording import RecordingControl
from tests.integration.engines_torch.tasks import (
    STEPS_PER_EPOCH,
    data,
    job,
    predict,
    train,
    training,
)


@pytest.fixture
def store(tmp_path: Path) -> TorchCheckpoints:
    return TorchCheckpoints(str(tmp_path / "data"), "task")


def test_a_stop_lands_at_the_next_step_and_the_checkpoint_predicts(store) -> None:
    control = RecordingControl(training(), stop_after_step=6)
    phase = job(training())
    outcome = train(phase, control, store)
    assert control.steps[-1] == 7 and (outcome.step, outcome.epoch) == (7, 1)
    assert outcome.reasons == ("manually_stopped",)
    assert outcome.checkpoint["step"] == STEPS_PER_EPOCH  # the best: the only validation
    predictions = predict(store, phase.generator_id, outcome.checkpoint["id"])
    assert predictions.shape == (32,) and torch.isfinite(predictions).all()


def test_a_pre_queued_stop_costs_exactly_one_step(store) -> None:
    control = RecordingControl(training(), stop_requested=True)
    phase = job(training())
    outcome = train(phase, control, store)
    assert control.steps == [1]
    assert (outcome.step, outcome.epoch, outcome.reasons) == (1, 0, ("manually_stopped",))
    assert outcome.checkpoint["id"] == "a1-e0-s1"
    predict(store, phase.generator_id, "a1-e0-s1")


def test_early_stopping_keeps_the_best_checkpoint(store) -> None:
    spec = training(early_stopping_patience=1, early_stopping_min_delta=100.0)
    outcome = train(job(spec), RecordingControl(spec), store)
    assert (outcome.epoch, outcome.step, outcome.reasons) == (2, 8, ("early_stopped",))
    assert outcome.checkpoint["epoch"] in (1, 2)
    assert outcome.checkpoint["val_loss"] <= outcome.val_loss


def test_opacus_epsilon_stops_the_loop_before_the_budget_is_exceeded(store) -> None:
    spec = training(differential_privacy={"max_epsilon": 4.0, "noise_multiplier": 1.0})
    control = RecordingControl(spec)
    outcome = train(job(spec), control, store)
    assert outcome.reasons == ("privacy_budget_exhausted",)
    last = control.calls[-1][2]
    assert last["epsilon"] <= 4.0 < last["next_epsilon"]
    assert outcome.epsilon == last["epsilon"] and outcome.checkpoint["epsilon"] <= 4.0
    epsilons = [m["epsilon"] for _, _, m in control.calls]
    assert epsilons == sorted(epsilons) and epsilons[0] > 0


def test_the_noise_is_calibrated_to_the_budget_through_opacus(store) -> None:
    spec = training(max_epochs=10, differential_privacy={"max_epsilon": 2.0})
    control = RecordingControl(spec)
    outcome = train(job(spec), control, store)

    plan = control.plan
    assert plan.calibrated and plan.steps_per_epoch == STEPS_PER_EPOCH
    # Opacus' own calibration for the same budget, within its tolerance (0.01 in epsilon)
    opacus = get_noise_multiplier(
        target_epsilon=2.0, target_delta=1e-5, sample_rate=1 / STEPS_PER_EPOCH, steps=40
    )
    assert plan.noise_multiplier <= opacus <= plan.noise_multiplier * 1.05
    assert plan.last_step == 40  # the budget pays for every planned step, and no more
    # the last planned step is the last the budget allows: the loop stops there, before the
    # epoch's validation
    assert outcome.step == 40 and outcome.reasons == ("privacy_budget_exhausted",)
    last = control.calls[-1][2]
    assert last["epsilon"] == outcome.epsilon <= 2.0 < last["next_epsilon"]


def test_a_budget_too_small_for_one_step_fails_before_training(store) -> None:
    spec = training(differential_privacy={"max_epsilon": 0.01, "noise_multiplier": 1.0})
    control = RecordingControl(spec)
    with pytest.raises(ValueError, match="does not allow one more training step"):
        train(job(spec), control, store)
    assert control.calls == []


def test_cancel_raises_out_of_the_loop_at_once(store) -> None:
    control = RecordingControl(training(), cancel_at_step=3)
    phase = job(training())
    with pytest.raises(PhaseInterrupted):
        train(phase, control, store)
    assert control.steps == [1, 2, 3]
    store.discard(phase.generator_id)
    assert not (store.root / phase.generator_id).exists()


def test_continue_training_resumes_counters_weights_and_optimizer(store) -> None:
    parent = job(training(max_epochs=1))
    first = train(parent, RecordingControl(training(max_epochs=1)), store)
    assert (first.epoch, first.step, first.reasons) == (1, 4, ("max_epochs_reached",))
    resume = {**first.checkpoint, "generator": parent.generator_id}
    control = RecordingControl(training(max_epochs=2))
    child = job(training(max_epochs=2), resume=resume)
    second = train(child, control, store)
    assert control.steps == [5, 6, 7, 8, 8]  # 4 steps, then the epoch's validation
    assert (second.epoch, second.step) == (2, 8)
    state = store.load(child.generator_id, "tabular", second.checkpoint["id"])
    assert state["optimizer"]["state"][0]["step"].item() == 8  # Adam went on counting


def test_continue_training_with_opacus_resumes_the_accountant(store) -> None:
    spec = training(max_epochs=1, differential_privacy={"max_epsilon": 50.0})
    parent = job(spec)
    first = train(parent, RecordingControl(spec), store)
    more = training(max_epochs=2, differential_privacy={"max_epsilon": 50.0})
    control = RecordingControl(more)
    train(job(more, resume={**first.checkpoint, "generator": parent.generator_id}), control, store)
    assert control.calls[0][2]["epsilon"] > first.checkpoint["epsilon"]
    plain = job(training(max_epochs=1))
    unbounded = train(plain, RecordingControl(training(max_epochs=1)), store)
    with pytest.raises(ValueError, match="without differential privacy cannot continue"):
        resume = {**unbounded.checkpoint, "generator": plain.generator_id}
        train(job(more, resume=resume), RecordingControl(more), store)


def test_the_task_learns(store) -> None:
    spec = training(max_epochs=15)
    outcome = train(job(spec), RecordingControl(spec), store)
    _, y = data()
    assert outcome.val_loss < float(y.var()) / 4


def test_each_epoch_tells_the_control_its_mean_training_loss(store) -> None:
    control = RecordingControl(training(max_epochs=3))
    train(job(training()), control, store)
    told = [(epoch, step, m) for epoch, step, m in control.calls if m is not None]
    assert [(epoch, step) for epoch, step, _ in told] == [(1, 4), (2, 8), (3, 12)]
    assert all(set(m) == {"train_loss", "val_loss"} for _, _, m in told)
    assert told[-1][2]["train_loss"] < told[0][2]["train_loss"]  # the task learns
    assert len(control.calls) == 12 + 3  # a step's boundary carries no metrics
