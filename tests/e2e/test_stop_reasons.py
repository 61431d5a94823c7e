"""Stop reasons: "When a training phase ends, the timeline records why it stopped." Early
stopped, privacy budget exhausted, unknown, and several at once, in a stable order."""

import pytest

from tests.e2e.fakes import FakeEngine, ends_on_its_own, returns_reasons
from tests.e2e.helpers import PHASES, entries, phase, step_states

MAX_EPOCHS = 500


@pytest.mark.parametrize("patience", [1, 2])
def test_early_stopped_when_validation_loss_stops_improving(svc, create, patience: int):
    gid = create(max_epochs=MAX_EPOCHS, early_stopping_patience=patience)
    final = svc.run(gid, progress_interval_s=0.05)
    assert final.state == "succeeded"
    for p in PHASES:
        ended = phase(final, p)
        assert ended.state == "succeeded"
        assert ended.reasons == ["early_stopped"]
        assert patience < ended.epoch < MAX_EPOCHS
        # The kept checkpoint is the best by validation loss, not the last model.
        assert ended.checkpoint is not None
        assert ended.checkpoint.epoch <= ended.epoch
        assert ended.checkpoint.val_loss <= ended.val_loss
        # ... and the last `patience` validations did not beat it by min_delta (1e-3).
        assert ended.val_loss > ended.checkpoint.val_loss - 1e-3
    assert step_states(final) == {"synthesis": "succeeded", "report": "succeeded"}


def test_privacy_budget_exhausted_during_training(svc, create):
    max_epsilon = 1.2
    gid = create(
        max_epochs=MAX_EPOCHS,
        differential_privacy={"max_epsilon": max_epsilon, "delta": 1e-5, "noise_multiplier": 2.0},
    )
    final = svc.run(gid, progress_interval_s=0.05)
    assert final.state == "succeeded"
    history = svc.history(gid)
    for p in PHASES:
        ended = phase(final, p)
        assert ended.state == "succeeded"
        assert ended.reasons == ["privacy_budget_exhausted"]
        assert ended.epoch < MAX_EPOCHS
        assert ended.step > 1
        assert 0 < ended.epsilon <= max_epsilon
        (done,) = entries(history, "PhaseSucceeded", p)
        kept = done.data["checkpoint"]
        assert kept["id"] == ended.checkpoint.id
        assert 0 < kept["epsilon"] <= max_epsilon
        assert done.data["epsilon"] == ended.epsilon
    assert step_states(final) == {"synthesis": "succeeded", "report": "succeeded"}


def test_time_limit_reached(svc, create):
    """An extension in RULES.md: the configured training-time limit, per phase."""
    gid = create(max_epochs=MAX_EPOCHS, max_training_time_s=0.3)
    final = svc.run(gid, progress_interval_s=0.05)
    assert final.state == "succeeded"
    for p in PHASES:
        ended = phase(final, p)
        assert ended.reasons == ["time_limit_reached"]
        assert ended.step > 0 and ended.epoch < MAX_EPOCHS
        assert ended.elapsed_s >= 0.3
        assert ended.checkpoint is not None
    assert step_states(final) == {"synthesis": "succeeded", "report": "succeeded"}


def test_several_reasons_at_once_in_a_stable_order(svc, create):
    """A stop applied at the boundary where max_epochs is reached: one step is one epoch
    (batches as large as the table), a pre-queued stop lands at the first boundary."""
    gid = create(max_epochs=1, batch_size=300)
    for p in PHASES:
        svc.request_stop(gid, p, requested_by="alice")
    final = svc.run(gid, progress_interval_s=0.05)
    assert final.state == "succeeded"
    for p in PHASES:
        ended = phase(final, p)
        assert ended.reasons == ["manually_stopped", "max_epochs_reached"]
        assert (ended.epoch, ended.step) == (1, 1)
    assert [e.data["reasons"] for e in entries(svc.history(gid), "PhaseSucceeded")] == [
        ["manually_stopped", "max_epochs_reached"]
    ] * 3


def test_reasons_from_an_engine_are_recorded_in_the_stable_order(svc, create):
    engine = FakeEngine(
        returns_reasons(("max_epochs_reached", "privacy_budget_exhausted", "early_stopped"))
    )
    svc.engines["fake"] = engine
    gid = create(engine="fake", max_epochs=5)
    svc.request_stop(gid, "text:orders", requested_by="alice")
    final = svc.run(gid, progress_interval_s=0.05)
    assert final.state == "succeeded"
    both = ["early_stopped", "privacy_budget_exhausted", "max_epochs_reached"]
    assert [phase(final, p).reasons for p in PHASES] == [
        both,
        both,
        ["manually_stopped", *both],
    ]


def test_unknown_when_the_reason_could_not_be_determined(svc, create):
    engine = FakeEngine(ends_on_its_own(steps=3))
    svc.engines["fake"] = engine
    gid = create(engine="fake", max_epochs=50)
    # A stop that the engine never got to apply is still the reason: never with unknown.
    svc.request_stop(gid, "text:orders", requested_by="alice")
    final = svc.run(gid, progress_interval_s=0.05)
    assert final.state == "succeeded"
    assert [phase(final, p).reasons for p in PHASES] == [
        ["unknown"],
        ["unknown"],
        ["manually_stopped"],
    ]
    for p in PHASES:
        assert phase(final, p).state == "succeeded"
        assert (phase(final, p).epoch, phase(final, p).step) == (1, 3)
        assert phase(final, p).checkpoint is not None
    assert engine.trained == PHASES
    assert step_states(final) == {"synthesis": "succeeded", "report": "succeeded"}
    assert [e.data["reasons"] for e in entries(svc.history(gid), "PhaseSucceeded")] == [
        ["unknown"],
        ["unknown"],
        ["manually_stopped"],
    ]
