"""The generator and step lifecycles, both kinds, and the pipeline order."""

import pytest

from ffwd.domain import errors
from ffwd.domain.generator import Generator
from tests.unit.test_phase_rules import CHECKPOINT, fresh


def succeeded_phases(g: Generator) -> None:
    for phase in g.phases:
        attempt = g.start_phase(phase, "w")
        g.finish_phase(
            phase,
            attempt,
            reasons=["max_epochs_reached"],
            checkpoint=CHECKPOINT,
            epoch=1,
            step=3,
            elapsed_s=1.0,
        )


def anonymization() -> Generator:
    return Generator.create(name="a", kind="anonymization", spec={}, text_tables=["t"])


def test_training_generator_layout() -> None:
    g = fresh()
    assert list(g.phases) == ["tabular", "text:customers", "text:orders"]
    assert [p.kind for p in g.phases.values()] == ["tabular", "text", "text"]
    assert list(g.steps) == ["synthesis", "report"]
    assert g.state == "queued"


def test_anonymization_has_no_training_phase_and_stop_is_not_applicable() -> None:
    g = anonymization()
    assert (g.phases, list(g.steps)) == ({}, ["anonymize", "report"])
    with pytest.raises(errors.NotApplicable) as raised:
        g.request_stop("tabular", "alice")
    assert raised.value.code == "not_applicable"
    assert g.cancel("alice") is True
    assert g.steps["anonymize"].state == "cancelled"


def test_anonymization_pipeline_runs_to_success() -> None:
    g = anonymization()
    a = g.start_step("anonymize", "w")
    g.finish_step("anonymize", a, {"anonymized": {"t": "t.csv"}})
    a = g.start_step("report", "w")
    g.finish_step("report", a, {"report": "r.json"})
    assert g.state == "succeeded"
    assert g.outputs == {"anonymized": {"t": "t.csv"}, "report": "r.json"}


def test_synthesis_waits_for_every_phase_and_report_for_synthesis() -> None:
    g = fresh()
    with pytest.raises(errors.InvalidTransition):
        g.start_step("synthesis", "w")
    attempt = g.start_phase("tabular", "w")
    g.finish_phase(
        "tabular", attempt, reasons=[], checkpoint=CHECKPOINT, epoch=1, step=3, elapsed_s=1.0
    )
    with pytest.raises(errors.InvalidTransition):
        g.start_step("synthesis", "w")
    g2 = fresh()
    succeeded_phases(g2)
    with pytest.raises(errors.InvalidTransition):
        g2.start_step("report", "w")
    g2.start_step("synthesis", "w")


def test_the_generator_runs_from_queued_to_succeeded() -> None:
    g = fresh()
    succeeded_phases(g)
    assert g.state == "running"
    a = g.start_step("synthesis", "w")
    g.finish_step("synthesis", a, {"synthetic": {"customers": "c.csv"}})
    assert g.state == "running"
    a = g.start_step("report", "w")
    g.finish_step("report", a, {"report": "r.json"})
    assert g.state == "succeeded"
    names = [type(e).__name__ for e in g.collect_events()]
    assert names[:3] == ["Created", "Started", "PhaseStarted"]
    assert names[-2:] == ["StepSucceeded", "Succeeded"]
    assert set(g.checkpoints()) == {"tabular", "text:customers", "text:orders"}


def test_a_failed_phase_fails_the_generator_and_aborts_the_rest() -> None:
    g = fresh()
    attempt = g.start_phase("tabular", "w")
    g.fail_phase("tabular", attempt, "out of memory")
    assert g.state == "failed"
    assert "out of memory" in g.error
    assert [p.state for p in g.phases.values()] == ["failed", "cancelled", "cancelled"]
    assert [s.state for s in g.steps.values()] == ["cancelled", "cancelled"]


def test_a_failed_step_fails_the_generator() -> None:
    g = fresh()
    succeeded_phases(g)
    a = g.start_step("synthesis", "w")
    g.fail_step("synthesis", a, "disk full")
    assert (g.state, g.steps["report"].state) == ("failed", "cancelled")
    assert g.checkpoints(), "a failed generator keeps its phases' checkpoints"


@pytest.mark.parametrize("state_then", ["queued", "running"])
def test_cancel_aborts_everything(state_then: str) -> None:
    g = fresh()
    if state_then == "running":
        attempt = g.start_phase("tabular", "w")
        g.request_stop("tabular", "alice")
        g.record_progress("tabular", attempt, epoch=1, step=1, elapsed_s=0.1)
    assert g.cancel("bob") is True
    assert g.state == "cancelled"
    assert {p.state for p in g.phases.values()} == {"cancelled"}
    assert {s.state for s in g.steps.values()} == {"cancelled"}
    assert g.checkpoints() == {}
    assert g.collect_events()[-1].state_then == state_then


def test_cancel_is_idempotent_and_rejected_once_finished() -> None:
    g = fresh()
    g.cancel("a")
    g.collect_events()
    assert g.cancel("b") is False
    assert g.collect_events() == []
    done = fresh()
    succeeded_phases(done)
    for step in ("synthesis", "report"):
        done.finish_step(step, done.start_step(step, "w"), {})
    with pytest.raises(errors.GeneratorAlreadyFinished):
        done.cancel("c")
    with pytest.raises(errors.PhaseAlreadyFinished):
        done.request_stop("tabular", "c")


def test_after_cancel_no_step_starts_and_late_success_is_rejected() -> None:
    g = fresh()
    attempt = g.start_phase("tabular", "w")
    g.cancel("bob")
    with pytest.raises(errors.GeneratorCancelled):
        g.finish_phase(
            "tabular", attempt, reasons=[], checkpoint=CHECKPOINT, epoch=1, step=1, elapsed_s=1.0
        )
    with pytest.raises(errors.GeneratorCancelled):
        g.start_step("synthesis", "w")


def test_an_unknown_phase_is_refused_naming_the_phases_there_are() -> None:
    with pytest.raises(errors.UnknownPhase) as raised:
        fresh().request_stop("text:nope", "alice")
    expected = "no phase 'text:nope' (phases: tabular, text:customers, text:orders)"
    assert raised.value.message == expected


def test_text_phases_train_one_at_a_time_unless_the_spec_says_otherwise() -> None:
    g = fresh()  # a spec without a training section, as an embedding caller may give
    attempt = g.start_phase("tabular", "w")
    g.finish_phase(
        "tabular", attempt, reasons=["max_epochs_reached"], checkpoint=CHECKPOINT, epoch=1,
        step=3, elapsed_s=1.0,
    )  # fmt: skip
    assert g.ready_parts() == ["text:customers"]
