"""Pre-queueing a stop: "The fast-forward button is also available on training phases that
have not started yet, for example a text-training phase that is queued behind a
tabular-training phase. The stop request is accepted immediately and applied as soon as that
phase begins." """

import pytest

from tests.e2e.helpers import STEPS_PER_EPOCH, OnEvent, entries, phase, step_states


@pytest.mark.parametrize("when", ["generator-queued", "behind-running-tabular"])
def test_a_stop_on_a_pending_phase_is_applied_as_soon_as_it_begins(svc, create, when: str):
    gid = create(max_epochs=3)

    def click_fast_forward():
        return svc.request_stop(gid, "text:customers", requested_by="bob")

    if when == "generator-queued":
        accepted = click_fast_forward()
        assert accepted.state == "queued"
        assert phase(accepted, "tabular").state == "pending"
        final = svc.run(gid, progress_interval_s=0.05)
    else:
        stop = OnEvent(svc, "PhaseStarted", "tabular", click_fast_forward)
        final = svc.run(gid, progress_interval_s=0.05)
        accepted = stop.result()
        assert accepted.state == "running"
        assert phase(accepted, "tabular").state == "running"

    # Accepted immediately: recorded on the pending phase, which stays pending.
    queued = phase(accepted, "text:customers")
    assert (queued.state, queued.stop_requested) == ("pending", True)
    assert (queued.epoch, queued.step, queued.checkpoint) == (0, 0, None)
    assert phase(accepted, "text:orders").stop_requested is False

    # Applied as soon as the phase began: it started stopping and trained exactly one step.
    history = svc.history(gid)
    (request,) = entries(history, "StopRequested", "text:customers")
    assert request.requested_by == "bob"
    assert (request.data["phase_state_then"], request.data["state"]) == ("pending", "pending")
    (started,) = entries(history, "PhaseStarted", "text:customers")
    assert started.data["state"] == "stopping"
    assert started.version > request.version
    assert entries(history, "PhaseProgressed", "text:customers") == []
    stopped = phase(final, "text:customers")
    assert stopped.state == "succeeded"
    assert stopped.reasons == ["manually_stopped"]
    assert (stopped.epoch, stopped.step) == (0, 1)
    assert stopped.checkpoint is not None
    assert (stopped.checkpoint.epoch, stopped.checkpoint.step) == (0, 1)
    assert stopped.checkpoint.val_loss is not None

    # The others trained as configured, and synthesis still ran.
    for other in ("tabular", "text:orders"):
        p = phase(final, other)
        assert (p.state, p.reasons) == ("succeeded", ["max_epochs_reached"])
        assert (p.epoch, p.step) == (3, 3 * STEPS_PER_EPOCH)
        assert p.stop_requested is False
    assert final.state == "succeeded"
    assert step_states(final) == {"synthesis": "succeeded", "report": "succeeded"}
    assert set(final.outputs["synthetic"]) == {"customers", "orders"}
