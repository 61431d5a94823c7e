"""An invariant checker over one stored history: every rule of RULES.md that a history can
show, checked event by event on the replayed state (not on what the test expected)."""

import random
from collections.abc import Callable, Sequence
from typing import Any

from ffwd.adapters.storage.event_store import project_generator
from ffwd.application.views import GeneratorView, view_of
from ffwd.domain.generator import Generator

TERMINAL = ("succeeded", "failed", "cancelled")
LIVE = ("running", "stopping")
# Events a runner stores for one attempt of a part: they must carry the current attempt.
RUNNER_EVENTS = {
    "PhaseProgressed": "phase",
    "PhaseSucceeded": "phase",
    "PhaseFailed": "phase",
    "Heartbeat": "part",
    "StepSucceeded": "pipeline_step",
    "StepFailed": "pipeline_step",
    "PhaseReleased": "phase",
    "StepReleased": "pipeline_step",
}
CLAIMS = {"PhaseStarted": "phase", "StepStarted": "pipeline_step", "TakenOver": "part"}
PHASE_SCOPED = {
    "PhaseReleased",
    "StopRequested",
    "PhaseStarted",
    "PhaseProgressed",
    "PhaseSucceeded",
    "PhaseFailed",
}


def _phases(g: Generator) -> dict[str, dict[str, Any]]:
    return {pid: dict(vars(p)) for pid, p in g.phases.items()}


def check_history(
    events: Sequence[Any],
    live: Generator | None = None,
    view_at: Callable[[int], GeneratorView] | None = None,
) -> dict[str, Any]:
    """Assert every invariant on `events` (one generator's stored history, in order); given
    `live` (the store's current aggregate), that replay reproduces it; given `view_at` (the
    store's view at a version), that it equals the view of the first N events at a few N.
    Returns facts about the history for the caller's own checks (takeovers, stops)."""
    every = range(1, len(events) + 1)
    sampled = {1, len(events), *random.Random(len(events)).sample(every, min(4, len(events)))}
    versions = [e.originator_version for e in events]
    assert versions == list(range(1, len(events) + 1)), f"versions not contiguous: {versions}"
    facts: dict[str, Any] = {"takeovers": [], "stops": [], "cancelled_by": None, "releases": []}
    g: Generator | None = None
    attempts: dict[str, int] = {}
    stop_asked: set[str] = set()
    for n, event in enumerate(events, start=1):
        name = type(event).__name__
        before = g
        before_view = view_of(before) if before is not None else None
        before_phases = _phases(before) if before is not None else {}
        if before is not None:
            assert before.state not in TERMINAL, f"v{n} {name} after the generator ended"
        # Attempts: a claim starts the next attempt; a runner's report carries the current one.
        if name in CLAIMS:
            part = getattr(event, CLAIMS[name])
            assert event.attempt == attempts.get(part, 0) + 1, f"v{n} {name} attempt jump"
            if name == "TakenOver":
                assert before.part(part).state in LIVE, f"v{n} takeover of a {part} not running"
                facts["takeovers"].append((part, event.attempt, event.previous_worker))
            attempts[part] = event.attempt
        if name in RUNNER_EVENTS:
            part = getattr(event, RUNNER_EVENTS[name])
            assert event.attempt == attempts.get(part), (
                f"v{n} {name} of {part} from attempt {event.attempt}, "
                f"current is {attempts.get(part)}: two live attempts"
            )
        if name == "StepStarted":
            order = list(before.steps)
            i = order.index(event.pipeline_step)
            if i == 0:
                assert all(p.state == "succeeded" for p in before.phases.values()), (
                    f"v{n} {event.pipeline_step} started before every phase succeeded"
                )
            else:
                assert before.steps[order[i - 1]].state == "succeeded", f"v{n} step order"
        if name in ("PhaseSucceeded", "PhaseFailed"):
            assert before.phases[event.phase].state in LIVE, f"v{n} {name} from a non-live phase"
        if name == "PhaseReleased":
            # Preemption hands back a running phase (a stopping one lands its stop instead),
            # and it resumes from exactly the checkpoint it was released with.
            assert before.phases[event.phase].state == "running", f"v{n} released a non-running"
            facts["releases"].append((event.phase, event.attempt, event.epoch, event.kept))
        if name == "StepReleased":
            assert before.steps[event.pipeline_step].state == "running", f"v{n} released step"
        if name in ("PhaseStarted", "TakenOver") and facts["releases"]:
            part = getattr(event, CLAIMS[name])
            released = [r for r in facts["releases"] if r[0] == part]
            if released and released[-1][3] and before.part(part).state == "pending":
                kept = released[-1][3]
                assert before.phases[part].resume_from["id"] == kept["id"], (
                    f"v{n} {part} resumes from another checkpoint than it was released with"
                )
        if name == "StopRequested":
            stop_asked.add(event.phase)
            facts["stops"].append((event.phase, event.phase_state_then, event.requested_by))
        if name == "Cancelled":
            facts["cancelled_by"] = event.requested_by

        g = event.mutate(g)
        view = view_of(g)

        if before_view is not None:
            # A terminal part never changes; stop_requested and counters never go back.
            for old, new in zip(before_view.phases, view.phases, strict=True):
                if old.state in TERMINAL:
                    assert (new.state, new.reasons) == (old.state, old.reasons), (
                        f"v{n} {name}: terminal phase {old.id} changed"
                    )
                assert new.stop_requested >= old.stop_requested, f"v{n} stop_requested undone"
                assert (new.epoch >= old.epoch) and (new.step >= old.step), (
                    f"v{n} {name}: counters of {old.id} went back "
                    f"({old.epoch}/{old.step} -> {new.epoch}/{new.step})"
                )
            for old, new in zip(before_view.steps, view.steps, strict=True):
                if old.state in TERMINAL:
                    assert new.state == old.state, f"v{n} terminal step {old.id} changed"
            # A command on one phase never changes another phase.
            own = getattr(event, "phase", None) or getattr(event, "part", None)
            if own in g.phases and (name in PHASE_SCOPED or name in ("TakenOver", "Heartbeat")):
                after_phases = _phases(g)
                for pid, state in before_phases.items():
                    if pid != own:
                        assert after_phases[pid] == state, f"v{n} {name} on {own} changed {pid}"
        for p in view.phases:
            if p.state == "succeeded":
                assert p.reasons, f"v{n} succeeded phase {p.id} without reasons"
                assert "unknown" not in p.reasons or p.reasons == ["unknown"]
                assert p.checkpoint is not None or g.state == "cancelled", (
                    f"v{n} succeeded phase {p.id} without a checkpoint"
                )
                if p.stop_requested or p.id in stop_asked:
                    assert "manually_stopped" in p.reasons, (
                        f"v{n} phase {p.id} was asked to stop but ended {p.reasons}"
                    )
        if name == "PhaseSucceeded":
            assert event.checkpoint and event.checkpoint.get("id"), f"v{n} no checkpoint id"
        if g.state == "cancelled":
            assert all(p.state in TERMINAL for p in [*view.phases, *view.steps])
            assert all(p.checkpoint is None for p in view.phases)
        if g.state == "succeeded":
            assert all(p.state == "succeeded" for p in [*view.phases, *view.steps])
        if n in sampled:  # the view at version n equals the view of the first n events
            assert view == view_of(project_generator(None, list(events[:n]))), f"v{n} replay"
            if view_at is not None:
                assert view_at(n) == view, f"v{n}: the store's view at this version differs"

    if live is not None:
        assert vars(project_generator(None, list(events))) == vars(live), "replay != live"
        assert view_of(live) == view_of(g)
    facts["state"] = g.state if g is not None else None
    facts["attempts"] = attempts
    facts["generator"] = g
    return facts
