"""The training control: every stop policy, several at once, progress, flags, cancel."""

import pytest

from ffwd.application.control import PhaseControl, Progress
from ffwd.application.spec import TrainingSpec
from ffwd.application.training import PhaseInterrupted


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def control(clock: Clock | None = None, reports: list | None = None, **training) -> PhaseControl:
    spec = TrainingSpec(**{"max_training_time_s": None, **training})
    sink = reports if reports is not None else []
    return PhaseControl(spec, sink.append, clock=clock or Clock(), progress_interval_s=1.0)


def test_nothing_fires_while_training_goes_well() -> None:
    c = control(max_epochs=10)
    assert not c.boundary(0, 1).stop
    assert not c.boundary(1, 10, {"val_loss": 2.0}).stop
    assert not c.boundary(2, 20, {"val_loss": 1.5}).stop


def test_manual_stop_lands_at_the_next_boundary() -> None:
    c = control()
    c.boundary(0, 1)
    c.request_stop()
    assert c.boundary(0, 2).reasons == ("manually_stopped",)


def test_a_pre_queued_stop_lands_at_the_first_boundary() -> None:
    c = PhaseControl(TrainingSpec(), [].append, stop_requested=True, clock=Clock())
    assert c.boundary(0, 1).reasons == ("manually_stopped",)


def test_early_stopping_counts_validations_without_improvement() -> None:
    c = control(early_stopping_patience=2, early_stopping_min_delta=0.1)
    assert not c.boundary(1, 10, {"val_loss": 2.0}).stop
    assert not c.boundary(2, 20, {"val_loss": 1.95}).stop, "below min_delta: no improvement"
    assert not c.boundary(3, 30, {"val_loss": 1.5}).stop, "an improvement resets patience"
    assert not c.boundary(4, 40, {"val_loss": 1.6}).stop
    assert c.boundary(5, 50, {"val_loss": 1.45}).reasons == ("early_stopped",)


def test_no_early_stopping_when_patience_is_null() -> None:
    c = control(early_stopping_patience=None)
    for epoch in range(1, 20):
        assert not c.boundary(epoch, epoch * 10, {"val_loss": 5.0}).stop


def test_privacy_budget_fires_before_the_step_that_would_exceed_it() -> None:
    c = control(differential_privacy={"max_epsilon": 1.0})
    assert not c.boundary(0, 1, {"epsilon": 0.5, "next_epsilon": 1.0}).stop
    decision = c.boundary(0, 2, {"epsilon": 1.0, "next_epsilon": 1.2})
    assert decision.reasons == ("privacy_budget_exhausted",)
    assert c.epsilon == 1.0


def test_max_epochs_and_time_limit() -> None:
    clock = Clock()
    c = control(clock, max_epochs=3, max_training_time_s=60)
    assert c.boundary(3, 30, {"val_loss": 1.0}).reasons == ("max_epochs_reached",)
    c = control(clock, max_training_time_s=60)
    clock.now += 59.9
    assert not c.boundary(0, 1).stop
    clock.now += 0.1
    assert c.boundary(0, 2).reasons == ("time_limit_reached",)


def test_every_policy_that_fires_at_one_boundary_is_recorded() -> None:
    clock = Clock()
    c = control(
        clock,
        max_epochs=2,
        early_stopping_patience=1,
        max_training_time_s=10,
        differential_privacy={"max_epsilon": 1.0},
    )
    c.boundary(1, 10, {"val_loss": 1.0})
    c.request_stop()
    clock.now += 11
    decision = c.boundary(2, 20, {"val_loss": 1.0, "epsilon": 0.9, "next_epsilon": 1.1})
    assert decision.reasons == (
        "manually_stopped",
        "early_stopped",
        "privacy_budget_exhausted",
        "max_epochs_reached",
        "time_limit_reached",
    )


def test_cancel_interrupts_at_once() -> None:
    c = control()
    c.boundary(0, 1)
    c.interrupt()
    with pytest.raises(PhaseInterrupted):
        c.boundary(0, 2)


def test_progress_is_reported_at_most_once_per_interval() -> None:
    clock, reports = Clock(), []
    c = control(clock, reports, max_epochs=100)
    for step in range(1, 50):
        clock.now += 0.1
        c.boundary(step // 10, step, {"val_loss": 3.0 - step / 100} if step % 10 == 0 else None)
    assert 4 <= len(reports) <= 5
    assert all(isinstance(r, Progress) for r in reports)
    last = reports[-1]
    assert last.epoch == last.step // 10 and last.val_loss is not None
    assert last.elapsed_s == pytest.approx(last.step * 0.1)


def test_the_fast_path_still_tracks_the_step() -> None:
    c = control()
    c.boundary(0, 1)
    c.boundary(0, 2)
    assert c.step == 2
