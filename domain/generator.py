"""The generator aggregate: one execution of a pipeline, the consistency boundary.

Commands validate against the rule book (`ffwd.domain.lifecycle`) and raise a coded error, never
mutating; then they trigger an event that carries the outcome. Event bodies only assign,
so replaying an old history never consults today's rules (ADR 0002, ADR 0004).
"""

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from ffwd.domain import errors, events
from ffwd.domain.lifecycle import (
    CANCELLED,
    GENERATOR_RULES,
    PENDING,
    PHASE_RULES,
    QUEUED,
    RUNNING,
    STEP_RULES,
    STOPPING,
    SUCCEEDED,
    TERMINAL,
    next_state,
)
from ffwd.domain.parts import TABULAR, TEXT, Phase, Step, text_phase_id
from ffwd.domain.reasons import normalize

DEFAULT_LEASE_S = 30.0
TRAINING = "training"
ANONYMIZATION = "anonymization"
TRAINING_STEPS = ["synthesis", "report"]
ANONYMIZATION_STEPS = ["anonymize", "report"]


def phase_layout(text_tables: list[str]) -> list[dict[str, Any]]:
    """The phases of a training generator: tabular first, then one per table with text."""
    layout: list[dict[str, Any]] = [{"id": TABULAR, "kind": TABULAR, "table": None}]
    layout += [{"id": text_phase_id(t), "kind": TEXT, "table": t} for t in text_tables]
    return layout


class Generator(Aggregate):
    TOPIC = "ffwd:Generator"

    # Its events (the stored schema) live in ffwd.domain.events.
    Event = events.Event
    Created = events.Created
    Started = events.Started
    PhaseStarted = events.PhaseStarted
    Heartbeat = events.Heartbeat
    TakenOver = events.TakenOver
    PartWaiting = events.PartWaiting
    PhaseReleased = events.PhaseReleased
    StepReleased = events.StepReleased
    StopRequested = events.StopRequested
    PhaseProgressed = events.PhaseProgressed
    PrivacyPlanned = events.PrivacyPlanned
    PhaseSucceeded = events.PhaseSucceeded
    PhaseFailed = events.PhaseFailed
    StepStarted = events.StepStarted
    StepSucceeded = events.StepSucceeded
    StepFailed = events.StepFailed
    Succeeded = events.Succeeded
    Failed = events.Failed
    Cancelled = events.Cancelled

    name: str
    kind: str
    spec: dict[str, Any]
    parent: UUID | None
    state: str
    phases: dict[str, Phase]
    steps: dict[str, Step]
    outputs: dict[str, Any]
    error: str | None
    waiting: dict[str, dict[str, Any]]  # part -> the attempt waiting for resources, and what

    def __init__(self) -> None:
        """All state is assigned by `Created.apply`, so replay and creation agree."""

    @classmethod
    def create(
        cls,
        *,
        name: str,
        kind: str,
        spec: dict[str, Any],
        text_tables: list[str],
        parent: UUID | None = None,
        resume_from: dict[str, dict[str, Any]] | None = None,
        epoch_limits: dict[str, int] | None = None,
    ) -> "Generator":
        """A queued generator; `resume_from` maps phase id to the parent's checkpoint,
        `epoch_limits` phase id to an epoch limit of its own (else the spec's)."""
        if kind == TRAINING:
            phases = phase_layout(text_tables)
            for p in phases:
                p["resume_from"] = (resume_from or {}).get(p["id"])
                if epoch_limits and p["id"] in epoch_limits:
                    p["epoch_limit"] = epoch_limits[p["id"]]
            steps = TRAINING_STEPS
        else:
            phases, steps = [], ANONYMIZATION_STEPS
        return cls._create(
            cls.Created,
            name=name,
            kind=kind,
            spec=spec,
            phases=phases,
            steps=list(steps),
            parent=parent,
        )

    # Commands from people: stop (fast-forward) and cancel.

    def request_stop(self, phase_id: str, requested_by: str) -> bool:
        """Ask one phase to stop at its next step boundary; False when already asked."""
        if self.kind == ANONYMIZATION:
            raise errors.NotApplicable("an anonymization generator has no training phase to stop")
        self._require_not_cancelled()
        phase = self.phase(phase_id)
        if phase.state in TERMINAL:
            raise errors.PhaseAlreadyFinished(f"phase {phase_id!r} already {phase.state}")
        if phase.stop_requested:
            return False
        self.trigger_event(
            self.StopRequested,
            phase=phase_id,
            requested_by=requested_by,
            phase_state_then=phase.state,
            state=next_state(PHASE_RULES, phase.state, "stop"),
        )
        return True

    def cancel(self, requested_by: str) -> bool:
        """Abort the whole generator at once; False when it was already cancelled."""
        if self.state == CANCELLED:
            return False
        if next_state(GENERATOR_RULES, self.state, "cancel") is None:
            raise errors.GeneratorAlreadyFinished(f"generator already {self.state}")
        discarded = [p.checkpoint["id"] for p in self.phases.values() if p.checkpoint]
        self.trigger_event(
            self.Cancelled,
            requested_by=requested_by,
            state_then=self.state,
            aborted=self._live_parts(),
            discarded_checkpoints=discarded,
        )
        return True

    # Commands from the orchestrator and the runners.

    def start_phase(self, phase_id: str, worker: str, lease_s: float = DEFAULT_LEASE_S) -> int:
        """Claim a pending phase for a new attempt; a pre-queued stop makes it `stopping`."""
        self._require_live()
        phase = self.phase(phase_id)
        state = self._next_phase_state(phase, "start")
        if phase.kind == TEXT and self.phases[TABULAR].state != SUCCEEDED:
            raise errors.InvalidTransition("text phases are queued behind the tabular phase")
        if phase.stop_requested:
            state = next_state(PHASE_RULES, state, "stop")
        self._start_if_queued()
        attempt = phase.attempt + 1
        self.trigger_event(
            self.PhaseStarted,
            phase=phase_id,
            attempt=attempt,
            worker=worker,
            state=state,
            lease_s=lease_s,
        )
        return attempt

    def record_progress(
        self,
        phase_id: str,
        attempt: int,
        *,
        epoch: int,
        step: int,
        elapsed_s: float,
        val_loss: float | None = None,
        epsilon: float | None = None,
        kept: dict[str, Any] | None = None,
        epochs: list[dict[str, Any]] | None = None,
    ) -> None:
        """Counters and metrics of a running phase; `kept` is the checkpoint kept so far, from
        which a takeover resumes; `epochs`, a row per epoch completed since the last report.
        Renews the attempt's lease."""
        phase = self._runner_phase(phase_id, attempt, "progress", epoch, step)
        self.trigger_event(
            self.PhaseProgressed,
            phase=phase.id,
            attempt=attempt,
            epoch=epoch,
            step=step,
            elapsed_s=elapsed_s,
            val_loss=val_loss,
            epsilon=epsilon,
            kept=dict(kept) if kept else None,
            epochs=[dict(row) for row in epochs or ()],
        )

    def record_privacy(
        self,
        phase_id: str,
        attempt: int,
        *,
        noise_multiplier: float,
        calibrated: bool,
        sampling_rate: float,
        steps_per_epoch: int,
        last_step: int,
    ) -> None:
        """The DP-SGD settings a running private phase trains with (ADR 0022)."""
        phase = self._runner_phase(phase_id, attempt, "progress")
        self.trigger_event(
            self.PrivacyPlanned,
            phase=phase.id,
            attempt=attempt,
            noise_multiplier=float(noise_multiplier),
            calibrated=bool(calibrated),
            sampling_rate=float(sampling_rate),
            steps_per_epoch=int(steps_per_epoch),
            last_step=int(last_step),
        )

    def finish_phase(
        self,
        phase_id: str,
        attempt: int,
        *,
        reasons: list[str],
        checkpoint: dict[str, Any],
        epoch: int,
        step: int,
        elapsed_s: float,
        val_loss: float | None = None,
        epsilon: float | None = None,
        epochs: list[dict[str, Any]] | None = None,
    ) -> list[str]:
        """End a phase at a step boundary keeping `checkpoint`; returns the recorded reasons.
        `epochs`: a row per epoch completed since the last progress report."""
        phase = self._runner_phase(phase_id, attempt, "finish", epoch, step)
        if not checkpoint or not checkpoint.get("id"):
            raise errors.InvalidTransition("a succeeded phase must keep a checkpoint")
        recorded = normalize(reasons, stop_requested=phase.stop_requested)
        self.trigger_event(
            self.PhaseSucceeded,
            phase=phase_id,
            attempt=attempt,
            epoch=epoch,
            step=step,
            elapsed_s=elapsed_s,
            val_loss=val_loss,
            epsilon=epsilon,
            reasons=recorded,
            checkpoint=dict(checkpoint),
            state=SUCCEEDED,
            epochs=[dict(row) for row in epochs or ()],
        )
        return recorded

    def release_phase(
        self,
        phase_id: str,
        attempt: int,
        *,
        epoch: int,
        step: int,
        elapsed_s: float,
        kept: dict[str, Any] | None = None,
        epochs: list[dict[str, Any]] | None = None,
    ) -> None:
        """Hand a running phase back at a step boundary (its worker is shutting down): it is
        pending again, to resume from `kept`. A stopping phase is not released: its stop
        lands instead (InvalidTransition)."""
        phase = self._runner_phase(phase_id, attempt, "release", epoch, step)
        self.trigger_event(
            self.PhaseReleased,
            phase=phase_id,
            attempt=attempt,
            worker=phase.worker,
            epoch=epoch,
            step=step,
            elapsed_s=elapsed_s,
            kept=dict(kept) if kept else None,
            epochs=[dict(row) for row in epochs or ()],
            state=next_state(PHASE_RULES, phase.state, "release"),
        )

    def release_step(self, step_id: str, attempt: int) -> None:
        """Hand a running step back (its worker is shutting down): it runs again."""
        step = self._runner_step(step_id, attempt, "release")
        self.trigger_event(
            self.StepReleased,
            pipeline_step=step_id,
            attempt=attempt,
            worker=step.worker,
            state=next_state(STEP_RULES, step.state, "release"),
        )

    def fail_phase(self, phase_id: str, attempt: int, error: str) -> None:
        """A phase that cannot end well fails, and the generator with it (RULES.md inv. 7)."""
        phase = self._runner_phase(phase_id, attempt, "fail")
        self.trigger_event(
            self.PhaseFailed,
            phase=phase_id,
            attempt=attempt,
            error=error,
            state=next_state(PHASE_RULES, phase.state, "fail"),
        )
        self._fail(f"phase {phase_id} failed: {error}")

    def start_step(self, step_id: str, worker: str, lease_s: float = DEFAULT_LEASE_S) -> int:
        self._require_live()
        step = self.step(step_id)
        state = self._next_step_state(step, "start")
        if not self.step_is_ready(step_id):
            raise errors.InvalidTransition(f"step {step_id!r} is not ready to start")
        self._start_if_queued()
        attempt = step.attempt + 1
        self.trigger_event(
            self.StepStarted,
            pipeline_step=step_id,
            attempt=attempt,
            worker=worker,
            state=state,
            lease_s=lease_s,
        )
        return attempt

    # Leases: a running part belongs to one attempt while its worker shows signs of life.

    def heartbeat(self, part_id: str, attempt: int) -> None:
        self._require_holder(part_id, attempt)
        self.trigger_event(self.Heartbeat, part=part_id, attempt=attempt)

    def wait_for_resources(self, part_id: str, attempt: int, resources: str | None) -> None:
        """The part's runner waits for the resources it asked of a cluster (`resources`, in
        words), or began (None); the view says so while the attempt lasts."""
        self._require_holder(part_id, attempt)
        self.trigger_event(self.PartWaiting, part=part_id, attempt=attempt, resources=resources)

    def _require_holder(self, part_id: str, attempt: int) -> None:
        self._require_not_cancelled()
        part = self.part(part_id)
        if attempt != part.attempt:
            raise errors.StaleRunner(f"attempt {attempt} of {part_id!r} is not the current one")
        if part.state not in (RUNNING, STOPPING):
            raise errors.InvalidTransition(f"{part_id!r} is {part.state}, not running")

    def lease_expired(self, part_id: str, now: datetime) -> bool:
        part = self.part(part_id)
        return (
            part.state in (RUNNING, STOPPING)
            and part.lease_expires_at is not None
            and now >= part.lease_expires_at
        )

    def take_over(
        self,
        part_id: str,
        worker: str,
        now: datetime,
        lease_s: float = DEFAULT_LEASE_S,
        *,
        lost: int | None = None,
    ) -> int:
        """Run a part whose worker's lease expired as a new attempt. A phase resumes from
        the checkpoint it kept last, which keeps its own epoch and step (what its weights were
        trained for); the phase's counters go on from where they were (ADR 0016).

        `lost`: the worker holding the part says that this attempt's runner is gone (the
        process it ran in died): it takes the part over at once, without waiting out the
        lease; only the holder of the current attempt may say so (ADR 0027)."""
        self._require_live()
        part = self.part(part_id)
        if lost is not None:
            self._lost_by_holder(part, worker, lost)
        elif not self.lease_expired(part_id, now):
            raise errors.InvalidTransition(
                f"{part_id!r} is {part.state}, held by {part.worker} until {part.lease_expires_at}"
            )
        resume_from = None
        if isinstance(part, Phase) and part.last_kept:
            resume_from = {**part.last_kept, "generator": str(self.id)}
        attempt = part.attempt + 1
        self.trigger_event(
            self.TakenOver,
            part=part_id,
            attempt=attempt,
            worker=worker,
            previous_worker=part.worker,
            resume_from=resume_from,
            lease_s=lease_s,
        )
        return attempt

    @staticmethod
    def _lost_by_holder(part: Phase | Step, worker: str, attempt: int) -> None:
        if attempt != part.attempt:
            raise errors.StaleRunner(f"attempt {attempt} of {part.id!r} is not the current one")
        if part.state not in (RUNNING, STOPPING):
            raise errors.InvalidTransition(f"{part.id!r} is {part.state}, not running")
        if worker != part.worker:
            raise errors.InvalidTransition(
                f"{part.id!r} is held by {part.worker}: only its holder may say its runner is lost"
            )

    def finish_step(self, step_id: str, attempt: int, outputs: dict[str, Any]) -> None:
        step = self._runner_step(step_id, attempt, "finish")
        self.trigger_event(
            self.StepSucceeded,
            pipeline_step=step_id,
            attempt=attempt,
            outputs=dict(outputs),
            state=next_state(STEP_RULES, step.state, "finish"),
        )
        if all(s.state == SUCCEEDED for s in self.steps.values()):
            self.trigger_event(self.Succeeded)

    def fail_step(self, step_id: str, attempt: int, error: str) -> None:
        step = self._runner_step(step_id, attempt, "fail")
        self.trigger_event(
            self.StepFailed,
            pipeline_step=step_id,
            attempt=attempt,
            error=error,
            state=next_state(STEP_RULES, step.state, "fail"),
        )
        self._fail(f"step {step_id} failed: {error}")

    # Queries.

    def phase(self, phase_id: str) -> Phase:
        try:
            return self.phases[phase_id]
        except KeyError:
            known = ", ".join(self.phases) or "none"
            raise errors.UnknownPhase(f"no phase {phase_id!r} (phases: {known})") from None

    def part(self, part_id: str) -> Phase | Step:
        """A phase or a pipeline step, by id."""
        return self.phases.get(part_id) or self.step(part_id)

    def step(self, step_id: str) -> Step:
        try:
            return self.steps[step_id]
        except KeyError:
            raise errors.UnknownPhase(f"no step {step_id!r}") from None

    def step_is_ready(self, step_id: str) -> bool:
        """Synthesis (or anonymize) waits for every phase to succeed, report for the step before."""
        order = list(self.steps)
        index = order.index(step_id)
        if index == 0:
            return all(p.state == SUCCEEDED for p in self.phases.values())
        return self.steps[order[index - 1]].state == SUCCEEDED

    def ready_parts(self) -> list[str]:
        """The pending parts that may start now, in pipeline order: the tabular phase, text
        phases once it succeeded (no more running at once than the spec's
        `max_parallel_phases`), a step once what it waits for succeeded."""
        if self.state in TERMINAL:
            return []
        tabular_done = TABULAR not in self.phases or self.phases[TABULAR].state == SUCCEEDED
        running = sum(p.state in (RUNNING, STOPPING) for p in self.phases.values())
        parallel = (self.spec.get("training") or {}).get("max_parallel_phases", 1)
        ready = [
            p.id
            for p in self.phases.values()
            if p.state == PENDING and (p.id == TABULAR or tabular_done)
        ][: max(0, parallel - running)]
        return ready + [
            s.id for s in self.steps.values() if s.state == PENDING and self.step_is_ready(s.id)
        ]

    def waiting_for(self, part_id: str) -> str | None:
        """What the part's current attempt waits for on a cluster, while it runs."""
        part = self.part(part_id)
        waiting = self.waiting.get(part_id)
        live = part.state in (RUNNING, STOPPING) and self.state not in TERMINAL
        if not live or not waiting or waiting["attempt"] != part.attempt:
            return None
        return waiting["resources"]

    def lease_expiry(self) -> datetime | None:
        """When the first lease of a running part runs out (a takeover may come then)."""
        if self.state in TERMINAL:
            return None
        leases = [
            p.lease_expires_at
            for p in [*self.phases.values(), *self.steps.values()]
            if p.state in (RUNNING, STOPPING) and p.lease_expires_at is not None
        ]
        return min(leases, default=None)

    def checkpoints(self) -> dict[str, dict[str, Any]]:
        return {p.id: p.checkpoint for p in self.phases.values() if p.checkpoint}

    # Internals.

    def _require_not_cancelled(self) -> None:
        if self.state == CANCELLED:
            raise errors.GeneratorCancelled("the generator was cancelled")

    def _require_live(self) -> None:
        self._require_not_cancelled()
        if self.state in TERMINAL:
            raise errors.GeneratorAlreadyFinished(f"generator already {self.state}")

    def _start_if_queued(self) -> None:
        if self.state == QUEUED:
            self.trigger_event(self.Started)

    def _fail(self, error: str) -> None:
        self.trigger_event(self.Failed, error=error, aborted=self._live_parts())

    def _live_parts(self) -> list[str]:
        parts = list(self.phases.values()) + list(self.steps.values())
        return [p.id for p in parts if p.state not in TERMINAL]

    def abort(self, part_ids: list[str], when: Any) -> None:
        for part_id in part_ids:
            part = self.phases.get(part_id) or self.steps[part_id]
            part.state, part.ended_at = CANCELLED, when

    def _next_phase_state(self, phase: Phase, trigger: str) -> str:
        state = next_state(PHASE_RULES, phase.state, trigger)
        if state is None:
            if phase.state in TERMINAL:
                raise errors.PhaseAlreadyFinished(f"phase {phase.id!r} already {phase.state}")
            raise errors.InvalidTransition(
                f"cannot {trigger} phase {phase.id!r} while {phase.state}"
            )
        return state

    def _next_step_state(self, step: Step, trigger: str) -> str:
        state = next_state(STEP_RULES, step.state, trigger)
        if state is None:
            raise errors.InvalidTransition(f"cannot {trigger} step {step.id!r} while {step.state}")
        return state

    def _runner_phase(
        self,
        phase_id: str,
        attempt: int,
        trigger: str,
        epoch: int | None = None,
        step: int | None = None,
    ) -> Phase:
        self._require_not_cancelled()
        phase = self.phase(phase_id)
        if attempt != phase.attempt:
            raise errors.StaleRunner(
                f"attempt {attempt} of phase {phase_id!r} is not the current one ({phase.attempt})"
            )
        self._next_phase_state(phase, trigger)
        if epoch is not None and step is not None and (epoch < phase.epoch or step < phase.step):
            raise errors.InvalidTransition(
                f"phase {phase_id!r} counters cannot go back "
                f"(epoch {phase.epoch}->{epoch}, step {phase.step}->{step})"
            )
        return phase

    def _runner_step(self, step_id: str, attempt: int, trigger: str) -> Step:
        self._require_not_cancelled()
        step = self.step(step_id)
        if attempt != step.attempt:
            raise errors.StaleRunner(
                f"attempt {attempt} of step {step_id!r} is not the current one"
            )
        self._next_step_state(step, trigger)
        return step
