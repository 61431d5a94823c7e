"""Preemption (RULES.md, "Preemption"): a running phase handed back at a step boundary is
pending again, resumes from the checkpoint it was released with, keeps its counters, stop
request and privacy; a stopping phase is not released; a release is no stop and no failure."""

import pytest

from ffwd.application.views import view_of
from ffwd.domain import errors
from tests.unit.test_phase_rules import CHECKPOINT, fresh

KEPT = {"id": "a1-e2-s18", "epoch": 2, "step": 18, "val_loss": 1.5}


def released():
    g = fresh()
    attempt = g.start_phase("tabular", "w1")
    g.record_progress("tabular", attempt, epoch=3, step=27, elapsed_s=4.0, kept=KEPT)
    g.release_phase("tabular", attempt, epoch=3, step=29, elapsed_s=4.5, kept=KEPT)
    return g


def test_a_released_phase_is_pending_and_resumes_from_its_checkpoint() -> None:
    g = released()
    phase = g.phases["tabular"]
    assert (phase.state, phase.epoch, phase.step, phase.elapsed_s) == ("pending", 3, 29, 4.5)
    assert phase.resume_from == {**KEPT, "generator": str(g.id)}
    assert (phase.reasons, phase.error, phase.preemptions) == ([], None, 1)
    assert phase.lease_expires_at is None
    assert g.ready_parts() == ["tabular"]  # claimable at once: no lease to wait out
    event = g.collect_events()[-1]
    assert type(event).__name__ == "PhaseReleased"
    assert (event.attempt, event.worker, event.state, event.kept) == (1, "w1", "pending", KEPT)
    view = view_of(g)
    assert view.phases[0].preemptions == 1 and view.phases[0].best.id == KEPT["id"]


def test_the_next_attempt_goes_on_counting() -> None:
    g = released()
    attempt = g.start_phase("tabular", "w2")
    assert attempt == 2 and g.phases["tabular"].state == "running"
    with pytest.raises(errors.InvalidTransition, match="cannot go back"):
        g.record_progress("tabular", attempt, epoch=2, step=20, elapsed_s=5.0)
    g.finish_phase(
        "tabular", 2, reasons=["max_epochs_reached"], checkpoint=CHECKPOINT, epoch=4, step=36,
        elapsed_s=6.0,
    )  # fmt: skip
    assert g.phases["tabular"].reasons == ["max_epochs_reached"]  # not a stop, not a failure


def test_a_pre_queued_or_asked_stop_survives_a_release() -> None:
    g = fresh()
    attempt = g.start_phase("tabular", "w1")
    g.release_phase("tabular", attempt, epoch=1, step=9, elapsed_s=1.0)
    g.request_stop("tabular", "alice")  # asked while pending again: pre-queued
    assert g.phases["tabular"].stop_requested and g.phases["tabular"].state == "pending"
    g.start_phase("tabular", "w2")
    assert g.phases["tabular"].state == "stopping"


def test_a_stopping_phase_is_not_released_its_stop_lands() -> None:
    g = fresh()
    attempt = g.start_phase("tabular", "w1")
    g.request_stop("tabular", "alice")
    before = len(g.collect_events())
    with pytest.raises(errors.InvalidTransition, match="release"):
        g.release_phase("tabular", attempt, epoch=1, step=9, elapsed_s=1.0, kept=KEPT)
    assert g.collect_events() == [] and before > 0  # nothing written


@pytest.mark.parametrize("state", ["pending", "succeeded", "cancelled"])
def test_only_a_running_phase_can_be_released(state: str) -> None:
    g = fresh()
    if state != "pending":
        attempt = g.start_phase("tabular", "w1")
        if state == "succeeded":
            g.finish_phase(
                "tabular", attempt, reasons=[], checkpoint=CHECKPOINT, epoch=1, step=9,
                elapsed_s=1.0,
            )  # fmt: skip
        else:
            g.cancel("bob")
    g.collect_events()
    with pytest.raises(errors.FfwdError):
        g.release_phase("tabular", 1, epoch=1, step=9, elapsed_s=1.0)
    assert g.collect_events() == []


def test_a_stale_attempt_cannot_release() -> None:
    g = released()
    g.start_phase("tabular", "w2")
    with pytest.raises(errors.StaleRunner):
        g.release_phase("tabular", 1, epoch=5, step=45, elapsed_s=9.0)


def test_a_released_step_runs_again() -> None:
    g = fresh()
    for phase in g.phases:
        attempt = g.start_phase(phase, "w")
        g.finish_phase(
            phase, attempt, reasons=[], checkpoint=CHECKPOINT, epoch=1, step=3, elapsed_s=1.0
        )
    attempt = g.start_step("synthesis", "w1")
    g.release_step("synthesis", attempt)
    assert g.steps["synthesis"].state == "pending" and g.ready_parts() == ["synthesis"]
    assert g.start_step("synthesis", "w2") == 2
    with pytest.raises(errors.StaleRunner):
        g.finish_step("synthesis", 1, {"synthetic": {}})


def test_a_wait_for_resources_is_a_sign_of_life_and_ends_with_its_attempts_run() -> None:
    g = fresh()
    attempt = g.start_phase("tabular", "w1")
    g.wait_for_resources("tabular", attempt, "1 GPU")
    waited = g.collect_events()[-1]
    assert g.phases["tabular"].reported_at == waited.timestamp
    assert g.waiting_for("tabular") == "1 GPU"
    g.release_phase("tabular", attempt, epoch=0, step=0, elapsed_s=1.0)
    assert g.waiting_for("tabular") is None  # pending again: it waits for nothing
