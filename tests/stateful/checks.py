"""What the lifecycle machine checks after each command: the product against the reference
model, the stored history against the live aggregate, and RULES.md's invariants on the
product alone (before and after)."""

import dataclasses
from typing import Any

from ffwd.domain.generator import Generator
from tests.stateful.reference_model import ENDED, RUNS, Expect, GeneratorModel

ENVELOPE = {"originator_id", "originator_version", "timestamp"}


def payload(event: Any) -> dict[str, Any]:
    return {k: v for k, v in vars(event).items() if k not in ENVELOPE}


def events_are_expected(stored: list[Any], expected: list[Expect], after_version: int) -> None:
    names = [type(e).__name__ for e in stored]
    assert names == [e.name for e in expected], f"stored {names}, the model says {expected}"
    for want, event in zip(expected, stored, strict=True):
        assert payload(event) == want.payload, f"{want.name}: {payload(event)} != {want.payload}"
    versions = [e.originator_version for e in stored]
    assert versions == list(range(after_version + 1, after_version + len(stored) + 1))


def product_is_the_model(g: Generator, model: GeneratorModel) -> None:
    attributes = {k: getattr(g, k) for k in model.attributes()}
    assert attributes == model.attributes(), "the generator differs from the model"
    assert list(g.phases) == list(model.phases) and list(g.steps) == list(model.steps)
    for pid, phase in g.phases.items():
        assert dataclasses.asdict(phase) == model.phases[pid].fields(), f"phase {pid}"
    for sid, step in g.steps.items():
        assert dataclasses.asdict(step) == model.steps[sid].fields(), f"step {sid}"


def view_is_the_model(view: Any, model: GeneratorModel) -> None:
    """What the page shows of each phase, as the model says (preemptions among it)."""
    limit = ((model.spec or {}).get("training") or {}).get("max_epochs", 0)
    for shown in view.phases:
        p = model.phases[shown.id]
        expected = {
            "state": p.state,
            "stop_requested": p.stop_requested,
            "reasons": p.reasons,
            "epoch": p.epoch,
            "step": p.step,
            "attempt": p.attempt,
            "preemptions": p.preemptions,
            "resumed_from": (p.resume_from or {}).get("id"),
            "epoch_limit": limit if p.epoch_limit is None else p.epoch_limit,
            "last_report_at": p.reported_at,
            "lease_expires_at": p.lease_expires_at if p.state in RUNS else None,
        }
        assert {k: getattr(shown, k) for k in expected} == expected, f"the view of {p.id}"


def summary_is_the_model(summary: Any, model: GeneratorModel) -> None:
    expected = model.summary()
    assert {k: getattr(summary, k) for k in expected} == expected, "the summary"


def parts_of(g: Generator) -> dict[str, Any]:
    return {p.id: dataclasses.replace(p) for p in [*g.phases.values(), *g.steps.values()]}


def rules_hold(
    before: Generator | None, after: Generator, target: str | None, events: list
) -> None:
    """RULES.md's invariants 1-9 on the product alone: what one command may change."""
    names = {type(e).__name__ for e in events}
    for p in after.phases.values():
        if p.state == "succeeded":
            assert p.reasons, "a succeeded phase has reasons"
            assert "unknown" not in p.reasons or p.reasons == ["unknown"]
            assert not p.stop_requested or "manually_stopped" in p.reasons
            assert p.checkpoint or after.state == "cancelled", "a succeeded phase keeps one"
    if after.kind == "anonymization":
        assert after.phases == {}
    if after.state == "cancelled":
        assert all(p.state in ENDED for p in [*after.phases.values(), *after.steps.values()])
        assert all(p.checkpoint is None for p in after.phases.values()) and after.outputs == {}
    if before is None:
        return
    if before.state in ENDED:
        assert not events, "a terminal generator never changes again"
    old, new = parts_of(before), parts_of(after)
    aborting = names & {"Failed", "Cancelled"}
    for part_id, was in old.items():
        now = new[part_id]
        if was.state in ENDED:
            assert (now.state, getattr(now, "reasons", None)) == (
                was.state,
                getattr(was, "reasons", None),
            ), f"terminal {part_id} changed"
        if hasattr(was, "stop_requested"):
            assert now.stop_requested >= was.stop_requested, "a stop request was taken back"
            assert (now.epoch, now.step) >= (was.epoch, was.step), "counters went back"
            assert now.epoch >= was.epoch and now.step >= was.step, "counters went back"
        if now.state in ("succeeded", "failed") and was.state != now.state:
            assert was.state in RUNS, f"{part_id} ended from {was.state}"
        if part_id == target:
            continue
        if was.state not in ENDED and now.state != was.state:
            assert aborting and now.state == "cancelled", f"{part_id} changed by another's command"
            assert dataclasses.replace(now, state=was.state, ended_at=was.ended_at) == was
        elif "Cancelled" in names and getattr(was, "checkpoint", None):
            assert dataclasses.replace(now, checkpoint=was.checkpoint) == was
        else:
            assert now == was, f"{part_id} changed by a command on {target}"
    for event in events:
        preemption_rules_hold(before, after, event)
        if type(event).__name__ == "StepStarted":
            order = list(before.steps)
            i = order.index(event.pipeline_step)
            if i == 0:
                assert all(p.state == "succeeded" for p in before.phases.values())
            else:
                assert before.steps[order[i - 1]].state == "succeeded"


def preemption_rules_hold(before: Generator, after: Generator, event: Any) -> None:
    """RULES.md, "Preemption": only a running phase is released, back to pending, keeping
    its counters, stop request and reasons, counting one more preemption, resuming from the
    checkpoint it kept; and it resumes from exactly that one when claimed again. A release
    is not a failure: the generator goes on."""
    name = type(event).__name__
    if name == "PhaseReleased":
        was, now = before.phases[event.phase], after.phases[event.phase]
        assert was.state == "running" and now.state == "pending", "released from running only"
        assert now.preemptions == was.preemptions + 1, "a release counts one preemption"
        assert (now.stop_requested, now.reasons) == (was.stop_requested, was.reasons)
        assert (now.checkpoint, now.attempt, now.error) == (was.checkpoint, was.attempt, None)
        assert now.lease_expires_at is None, "a released phase is claimed with no lease to wait"
        kept = {**event.kept, "generator": str(after.id)} if event.kept else was.resume_from
        assert now.resume_from == kept, "it resumes from the checkpoint it was released with"
        assert after.state == before.state == "running" and after.error is None
    elif name == "StepReleased":
        was, now = before.steps[event.pipeline_step], after.steps[event.pipeline_step]
        assert (was.state, now.state) == ("running", "pending") and now.lease_expires_at is None
        assert after.state == before.state == "running" and after.error is None
    elif name == "PhaseStarted" and before.phases[event.phase].preemptions:
        was, now = before.phases[event.phase], after.phases[event.phase]
        assert now.resume_from == was.resume_from, "a released phase resumes where it was left"
        assert now.preemptions == was.preemptions and now.attempt == was.attempt + 1
