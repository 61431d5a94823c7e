"""Preemption in one process (`ffwd run` or `ffwd serve` shutting down): a running phase is
handed back at its next step boundary with the checkpoint it reached, a running step is
handed back at once and runs again, a stopping phase stops instead; a later run resumes
from the released checkpoint and goes on counting (RULES.md, "Preemption")."""

import threading

from tests.e2e.fakes import FakeEngine, SlowStepIn, until_stopped
from tests.e2e.helpers import Background, entries, phase, step_states, wait_for


def test_a_running_phase_is_handed_back_at_its_next_boundary_and_resumes_from_there(svc, create):
    slow = SlowStepIn("tabular", fast_steps=3)
    engine = FakeEngine(slow)
    svc.engines["fake"] = engine
    gid = create(engine="fake", max_epochs=4)
    run = Background(svc, gid, progress_interval_s=0.0)
    assert slow.in_slow_step.wait(60)
    svc.preempt()
    slow.release()  # the step in hand ends: the boundary after it hands the phase back
    handed = run.join()

    tabular = phase(handed, "tabular")
    assert (tabular.state, tabular.preemptions, tabular.reasons) == ("pending", 1, [])
    assert (tabular.epoch, tabular.step) == (2, 4)
    assert tabular.resumed_from == "fake-e2-s4"
    assert handed.state == "running"
    (released,) = entries(svc.history(gid), "PhaseReleased")
    assert (released.data["epoch"], released.data["step"]) == (2, 4)
    assert released.data["kept"]["id"] == "fake-e2-s4"

    resumed = []
    engine._train = lambda job, control: (resumed.append(job), until_stopped(job, control))[1]
    final = svc.run(gid)
    assert final.state == "succeeded"
    assert resumed[0].phase_id == "tabular" and resumed[0].resume_from["id"] == "fake-e2-s4"
    tabular = phase(final, "tabular")
    assert (tabular.attempt, tabular.preemptions, tabular.reasons) == (
        2,
        1,
        ["max_epochs_reached"],
    )


def test_a_stopping_phase_stops_instead_of_being_handed_back(svc, create):
    slow = SlowStepIn("tabular", fast_steps=2)
    svc.engines["fake"] = FakeEngine(slow)
    gid = create(engine="fake", max_epochs=50)
    run = Background(svc, gid, progress_interval_s=0.0)
    assert slow.in_slow_step.wait(60)
    svc.request_stop(gid, "tabular", requested_by="alice")
    svc.preempt()
    slow.release()
    ended = run.join()
    tabular = phase(ended, "tabular")
    assert (tabular.state, tabular.reasons, tabular.preemptions) == (
        "succeeded",
        ["manually_stopped"],
        0,
    )
    assert entries(svc.history(gid), "PhaseReleased") == []


class SlowSynthesis(FakeEngine):
    """Trains at once; synthesis lasts until the test lets it go."""

    def __init__(self) -> None:
        super().__init__(until_stopped)
        self.synthesizing, self.go_on = threading.Event(), threading.Event()

    def synthesize(self, generator_id, spec, checkpoints, out_dir):
        self.synthesizing.set()
        assert self.go_on.wait(60)
        return super().synthesize(generator_id, spec, checkpoints, out_dir)


def test_a_running_step_is_handed_back_at_once_and_runs_again(svc, create):
    engine = SlowSynthesis()
    svc.engines["fake"] = engine
    gid = create(engine="fake", max_epochs=1)
    run = Background(svc, gid, progress_interval_s=0.0)
    assert engine.synthesizing.wait(60)
    svc.preempt()
    wait_for(svc, gid, lambda view: step_states(view)["synthesis"] == "pending")
    engine.go_on.set()  # the old attempt ends late: its result is refused, nothing is written
    handed = run.join()
    assert step_states(handed) == {"synthesis": "pending", "report": "pending"}
    assert [e.type for e in svc.history(gid)[-2:]] == ["StepStarted", "StepReleased"]

    final = svc.run(gid)
    assert final.state == "succeeded"
    assert len(engine.synthesized) == 2
    started = entries(svc.history(gid), "StepStarted")
    assert [e.data["attempt"] for e in started if e.pipeline_step == "synthesis"] == [1, 2]
