"""Stop training vs. cancel generator: "Cancel generator: the whole generator execution;
remaining pipeline aborted entirely; resulting checkpoint: none." And a failing engine, which
ends the generator as failed with nothing further run."""

import threading
from pathlib import Path

import pytest

from ffwd.domain import errors
from tests.e2e.fakes import FakeEngine, SlowStepIn, fails_in
from tests.e2e.helpers import PHASES, Background, OnEvent, entries, files_under, phase, step_states


def test_cancel_during_training_aborts_everything_and_keeps_no_checkpoint(
    svc, create, data_dir: Path
):
    gid = create(max_epochs=10)
    training = threading.Event()
    cancelled = threading.Event()
    files_then: list[Path] = []

    def hold_training_until_cancelled():
        """In the training thread, at text:customers' first progress: let the test cancel
        from its own thread, as a person would, while this phase is mid-training."""
        files_then.extend(files_under(data_dir))
        training.set()
        assert cancelled.wait(60), "the test never cancelled"

    follow = OnEvent(svc, "PhaseProgressed", "text:customers", hold_training_until_cancelled)
    run = Background(svc, gid, progress_interval_s=0.0)
    try:
        assert training.wait(60), "text:customers never reported progress"
        before = svc.get_view(gid)
        assert phase(before, "tabular").state == "succeeded"
        kept = phase(before, "tabular").checkpoint
        assert kept is not None
        assert phase(before, "text:customers").state == "running"
        view = svc.cancel(gid, requested_by="carol")
    finally:
        cancelled.set()
    assert run.join() == svc.get_view(gid)
    follow.result()

    # The generator and every phase and step ended; the finished phase keeps no checkpoint.
    assert view.state == "cancelled"
    final = svc.get_view(gid)
    assert final.state == "cancelled"
    tabular = phase(final, "tabular")
    assert (tabular.state, tabular.reasons) == ("succeeded", ["max_epochs_reached"])
    assert tabular.checkpoint is None
    for p in PHASES[1:]:
        assert phase(final, p).state == "cancelled"
        assert phase(final, p).checkpoint is None
    assert step_states(final) == {"synthesis": "cancelled", "report": "cancelled"}
    assert final.outputs == {}

    # No synthesis or report started; text:orders never started; the history keeps the record.
    history = svc.history(gid)
    assert entries(history, "StepStarted") == []
    assert entries(history, "PhaseStarted", "text:orders") == []
    (done,) = entries(history, "PhaseSucceeded", "tabular")
    assert done.data["checkpoint"]["id"] == kept.id
    (cancel,) = entries(history, "Cancelled")
    assert cancel.requested_by == "carol"
    assert cancel.data["state_then"] == "running"
    assert cancel.data["aborted"] == ["text:customers", "text:orders", "synthesis", "report"]
    assert cancel.data["discarded_checkpoints"] == [kept.id]
    assert history[-1] == cancel

    # Checkpoint files and outputs under the data directory are deleted.
    assert any(str(gid) in str(f) for f in files_then)
    assert files_under(data_dir) == []

    # Nothing can be continued or stopped any more; a second cancel is a no-op.
    with pytest.raises(errors.ParentNotSucceeded) as e:
        svc.continue_training(gid)
    assert e.value.code == "parent_not_succeeded"
    for p in PHASES:
        with pytest.raises(errors.GeneratorCancelled) as e:
            svc.request_stop(gid, p, requested_by="carol")
        assert e.value.code == "generator_cancelled"
    assert svc.cancel(gid, requested_by="carol") == final
    assert svc.get_view(gid) == final
    assert len(svc.history(gid)) == len(history)
    assert [g.id for g in svc.list_generators().items] == [gid]


def test_cancel_of_a_queued_generator_with_a_pre_queued_stop(svc, create, data_dir: Path):
    gid = create(max_epochs=3)
    svc.request_stop(gid, "text:customers", requested_by="alice")
    view = svc.cancel(gid, requested_by="carol")
    assert view.state == "cancelled"
    assert {p.id: p.state for p in view.phases} == dict.fromkeys(PHASES, "cancelled")
    assert step_states(view) == {"synthesis": "cancelled", "report": "cancelled"}
    final = svc.run(gid, progress_interval_s=0.05)
    assert final == view
    assert [e.type for e in svc.history(gid)] == ["Created", "StopRequested", "Cancelled"]
    assert files_under(data_dir) == []


@pytest.mark.parametrize("failing", ["tabular", "text:customers"])
def test_a_failing_engine_fails_the_phase_and_the_generator(svc, create, failing: str):
    engine = FakeEngine(fails_in(failing, f"boom in {failing}"))
    svc.engines["fake"] = engine
    gid = create(engine="fake", max_epochs=2)
    final = svc.run(gid, progress_interval_s=0.0)

    assert final.state == "failed"
    failed = phase(final, failing)
    assert failed.state == "failed"
    assert failed.error.startswith(f"RuntimeError: boom in {failing}")
    assert failed.checkpoint is None
    assert failed.reasons == []
    assert f"boom in {failing}" in final.error
    assert failing in final.error

    # Nothing further ran: later phases never started, synthesis and report never started.
    index = PHASES.index(failing)
    assert engine.trained == PHASES[: index + 1]
    assert engine.synthesized == []
    for p in PHASES[:index]:
        assert phase(final, p).state == "succeeded"
    for p in PHASES[index + 1 :]:
        assert phase(final, p).state == "cancelled"
    assert step_states(final) == {"synthesis": "cancelled", "report": "cancelled"}
    history = svc.history(gid)
    assert entries(history, "StepStarted") == []
    assert [e.phase for e in entries(history, "PhaseStarted")] == PHASES[: index + 1]
    (phase_failed,) = entries(history, "PhaseFailed")
    assert phase_failed.phase == failing
    assert phase_failed.data["error"] == failed.error
    assert history[-1].type == "Failed"
    assert history[-1].data["aborted"] == [*PHASES[index + 1 :], "synthesis", "report"]

    # A failed generator has nothing to stop or continue.
    with pytest.raises(errors.PhaseAlreadyFinished):
        svc.request_stop(gid, failing, requested_by="alice")
    with pytest.raises(errors.ParentNotSucceeded):
        svc.continue_training(gid)
    assert svc.get_view(gid) == final


@pytest.mark.parametrize("runner", ["asks-the-control", "reports-success-anyway"])
def test_cancel_beats_a_stop_in_progress(svc, create, runner: str):
    slow = SlowStepIn("tabular", fast_steps=2, then_return=runner == "reports-success-anyway")
    engine = FakeEngine(slow)
    svc.engines["fake"] = engine
    gid = create(engine="fake", max_epochs=5)
    run = Background(svc, gid, progress_interval_s=0.0)
    try:
        assert slow.in_slow_step.wait(60)
        stopping = svc.request_stop(gid, "tabular", requested_by="alice")
        assert phase(stopping, "tabular").state == "stopping"
        view = svc.cancel(gid, requested_by="carol")
    finally:
        slow.release()
    final = run.join()

    assert view.state == "cancelled"
    assert final == svc.get_view(gid)
    assert final.version == view.version
    tabular = phase(final, "tabular")
    assert (tabular.state, tabular.stop_requested) == ("cancelled", True)
    assert (tabular.reasons, tabular.checkpoint) == ([], None)
    assert {p.id: p.state for p in final.phases} == dict.fromkeys(PHASES, "cancelled")
    assert step_states(final) == {"synthesis": "cancelled", "report": "cancelled"}
    history = svc.history(gid)
    assert entries(history, "PhaseSucceeded") == []
    assert [e.type for e in history[-2:]] == ["StopRequested", "Cancelled"]
    assert history[-1].data["aborted"] == [*PHASES, "synthesis", "report"]
    assert engine.trained == ["tabular"]
    assert engine.synthesized == []
    assert engine.discarded == [str(gid)]
