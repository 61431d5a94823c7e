"""The generator's events: the stored schema, one class per fact (ADR 0004).

Topics are explicit and never change, and field lists are spelled out, because stored
histories are read back through them. Bodies only assign, so replaying an old history never
consults today's rules (ADR 0002). The `Generator` aggregate adopts each of them by name.
"""

from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from ffwd.domain.lifecycle import CANCELLED, FAILED, QUEUED, RUNNING, SUCCEEDED
from ffwd.domain.parts import Phase, Step, renew_lease

if TYPE_CHECKING:
    from ffwd.domain.generator import Generator


def _start(part: Phase | Step, e: Any) -> None:
    part.state, part.attempt, part.worker, part.started_at = (
        e.state,
        e.attempt,
        e.worker,
        e.timestamp,
    )
    part.lease_s = e.lease_s
    renew_lease(part, e.timestamp)
    part.reported_at = e.timestamp


def _count(p: Phase, e: Any) -> None:
    p.epoch, p.step, p.elapsed_s = e.epoch, e.step, e.elapsed_s
    p.val_loss, p.epsilon = e.val_loss, e.epsilon


class Event(Aggregate.Event):
    TOPIC = "ffwd:Generator.Event"


class Created(Event, Aggregate.Created):
    TOPIC = "ffwd:Generator.Created"
    name: str
    kind: str
    spec: dict[str, Any]
    phases: list[dict[str, Any]]
    steps: list[str]
    parent: UUID | None

    def apply(self, g: "Generator") -> None:
        g.name = self.name
        g.kind = self.kind
        g.spec = self.spec
        g.parent = self.parent
        g.state = QUEUED
        g.phases = {
            p["id"]: Phase(
                p["id"],
                p["kind"],
                p["table"],
                resume_from=p.get("resume_from"),
                epoch_limit=p.get("epoch_limit"),
            )
            for p in self.phases
        }
        g.steps = {s: Step(s) for s in self.steps}
        g.outputs = {}
        g.error = None
        g.waiting = {}


class Started(Event):
    TOPIC = "ffwd:Generator.Started"

    def apply(self, g: "Generator") -> None:
        g.state = RUNNING


class PhaseStarted(Event):
    TOPIC = "ffwd:Generator.PhaseStarted"
    phase: str
    attempt: int
    worker: str
    state: str
    lease_s: float

    def apply(self, g: "Generator") -> None:
        _start(g.phases[self.phase], self)


class Heartbeat(Event):
    """The worker running a phase or step is alive: its lease is renewed."""

    TOPIC = "ffwd:Generator.Heartbeat"
    part: str
    attempt: int

    def apply(self, g: "Generator") -> None:
        part = g.part(self.part)
        renew_lease(part, self.timestamp)
        part.reported_at = self.timestamp


class PartWaiting(Event):
    """The part's runner waits for the resources it asked of a cluster (`resources`, in
    words), or no longer (None: it began); its claim holds meanwhile (a sign of life)."""

    TOPIC = "ffwd:Generator.PartWaiting"
    part: str
    attempt: int
    resources: str | None

    def apply(self, g: "Generator") -> None:
        part = g.part(self.part)
        renew_lease(part, self.timestamp)
        part.reported_at = self.timestamp
        waiting = {k: v for k, v in g.waiting.items() if k != self.part}
        if self.resources is not None:
            waiting[self.part] = {"attempt": self.attempt, "resources": self.resources}
        g.waiting = waiting


class TakenOver(Event):
    """A part whose worker's lease expired runs on as a new attempt of another worker."""

    TOPIC = "ffwd:Generator.TakenOver"
    part: str
    attempt: int
    worker: str
    previous_worker: str | None
    resume_from: dict[str, Any] | None
    lease_s: float

    def apply(self, g: "Generator") -> None:
        part = g.part(self.part)
        part.attempt, part.worker, part.lease_s = self.attempt, self.worker, self.lease_s
        renew_lease(part, self.timestamp)
        part.reported_at = self.timestamp
        if self.resume_from is not None:
            part.resume_from = self.resume_from


class PhaseReleased(Event):
    """Preempted: the worker running the phase is shutting down and handed it back at a step
    boundary. The phase is pending again and resumes from the checkpoint it kept (`kept`, if
    any, else what it resumed from before); its counters, stop request and privacy ledger
    (in the checkpoint) go on. Not a stop and not a failure."""

    TOPIC = "ffwd:Generator.PhaseReleased"
    phase: str
    attempt: int
    worker: str | None
    epoch: int
    step: int
    elapsed_s: float
    kept: dict[str, Any] | None
    epochs: list[dict[str, Any]]
    state: str

    def apply(self, g: "Generator") -> None:
        p = g.phases[self.phase]
        p.epoch, p.step, p.elapsed_s = self.epoch, self.step, self.elapsed_s
        if self.kept is not None:
            p.last_kept = self.kept
            p.resume_from = {**self.kept, "generator": str(g.id)}
        p.state, p.preemptions = self.state, p.preemptions + 1
        p.lease_expires_at = None
        p.reported_at = self.timestamp


class StepReleased(Event):
    """Preempted: the step's worker is shutting down; it runs again, from its start."""

    TOPIC = "ffwd:Generator.StepReleased"
    pipeline_step: str
    attempt: int
    worker: str | None
    state: str

    def apply(self, g: "Generator") -> None:
        s = g.steps[self.pipeline_step]
        s.state, s.lease_expires_at = self.state, None


class StopRequested(Event):
    TOPIC = "ffwd:Generator.StopRequested"
    phase: str
    requested_by: str
    phase_state_then: str
    state: str

    def apply(self, g: "Generator") -> None:
        p = g.phases[self.phase]
        p.state, p.stop_requested = self.state, True


class PhaseProgressed(Event):
    """Counters, the latest metrics, the checkpoint kept so far, and (since version 2) every
    epoch completed since the last report: `epochs`, one row each (epoch, step, elapsed_s,
    val_loss, train_loss, epsilon), so that a phase's whole curve is in its history."""

    TOPIC = "ffwd:Generator.PhaseProgressed"
    class_version = 2
    phase: str
    attempt: int
    epoch: int
    step: int
    elapsed_s: float
    val_loss: float | None
    epsilon: float | None
    kept: dict[str, Any] | None
    epochs: list[dict[str, Any]]

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state["epochs"] = []  # recorded before epochs were: the curve has no rows from it

    def apply(self, g: "Generator") -> None:
        p = g.phases[self.phase]
        _count(p, self)
        if self.kept is not None:
            p.last_kept = self.kept
        renew_lease(p, self.timestamp)
        p.reported_at = self.timestamp


class PrivacyPlanned(Event):
    """A private phase attempt's DP-SGD settings: its noise multiplier (`calibrated`: chosen
    for the budget), its sampling, and the step after which the budget allows no more."""

    TOPIC = "ffwd:Generator.PrivacyPlanned"
    phase: str
    attempt: int
    noise_multiplier: float
    calibrated: bool
    sampling_rate: float
    steps_per_epoch: int
    last_step: int

    def apply(self, g: "Generator") -> None:
        p = g.phases[self.phase]
        p.privacy = {
            "noise_multiplier": self.noise_multiplier,
            "calibrated": self.calibrated,
            "sampling_rate": self.sampling_rate,
            "steps_per_epoch": self.steps_per_epoch,
            "last_step": self.last_step,
        }
        renew_lease(p, self.timestamp)


class PhaseSucceeded(Event):
    """The end of a phase, with (since version 2) the epochs completed since its last
    progress report."""

    TOPIC = "ffwd:Generator.PhaseSucceeded"
    class_version = 2
    phase: str
    attempt: int
    epoch: int
    step: int
    elapsed_s: float
    val_loss: float | None
    epsilon: float | None
    reasons: list[str]
    checkpoint: dict[str, Any]
    state: str
    epochs: list[dict[str, Any]]

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state["epochs"] = []

    def apply(self, g: "Generator") -> None:
        p = g.phases[self.phase]
        _count(p, self)
        p.state, p.reasons, p.checkpoint = self.state, self.reasons, self.checkpoint
        p.ended_at = p.reported_at = self.timestamp


class PhaseFailed(Event):
    TOPIC = "ffwd:Generator.PhaseFailed"
    phase: str
    attempt: int
    error: str
    state: str

    def apply(self, g: "Generator") -> None:
        p = g.phases[self.phase]
        p.state, p.error, p.ended_at = self.state, self.error, self.timestamp


class StepStarted(Event):
    TOPIC = "ffwd:Generator.StepStarted"
    pipeline_step: str
    attempt: int
    worker: str
    state: str
    lease_s: float

    def apply(self, g: "Generator") -> None:
        _start(g.steps[self.pipeline_step], self)


class StepSucceeded(Event):
    TOPIC = "ffwd:Generator.StepSucceeded"
    pipeline_step: str
    attempt: int
    outputs: dict[str, Any]
    state: str

    def apply(self, g: "Generator") -> None:
        s = g.steps[self.pipeline_step]
        s.state, s.outputs, s.ended_at = self.state, self.outputs, self.timestamp
        g.outputs = {**g.outputs, **self.outputs}


class StepFailed(Event):
    TOPIC = "ffwd:Generator.StepFailed"
    pipeline_step: str
    attempt: int
    error: str
    state: str

    def apply(self, g: "Generator") -> None:
        s = g.steps[self.pipeline_step]
        s.state, s.error, s.ended_at = self.state, self.error, self.timestamp


class Succeeded(Event):
    TOPIC = "ffwd:Generator.Succeeded"

    def apply(self, g: "Generator") -> None:
        g.state = SUCCEEDED


class Failed(Event):
    TOPIC = "ffwd:Generator.Failed"
    error: str
    aborted: list[str]

    def apply(self, g: "Generator") -> None:
        g.state, g.error = FAILED, self.error
        g.abort(self.aborted, self.timestamp)


class Cancelled(Event):
    TOPIC = "ffwd:Generator.Cancelled"
    requested_by: str
    state_then: str
    aborted: list[str]
    discarded_checkpoints: list[str]

    def apply(self, g: "Generator") -> None:
        g.state = CANCELLED
        g.abort(self.aborted, self.timestamp)
        for p in g.phases.values():
            p.checkpoint = None
        g.outputs = {}
