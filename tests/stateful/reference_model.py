"""An independent reference model of RULES.md and the event catalogue (ADR 0004): plain
dataclasses and lists, no import of the rule book or the aggregate.

Every command returns an `Outcome`: the error code the product must raise, or the events it
must store (class name and payload) and what it returns. The model never reads a clock: each
expected event names the fields that take its timestamp, and `stamp` copies them from the
events the product stored. To follow a new event, add a command that returns it.

Preemption (RULES.md, "Preemption"): a worker shutting down releases its running phase at a
step boundary; it is pending again, keeps its counters and stop request, resumes from the
checkpoint it kept, and counts one more preemption. A stopping phase is not released.
"""

from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

DEFAULT_LEASE_S = 30.0
RUNS = ("running", "stopping")
ENDED = ("succeeded", "failed", "cancelled")
REASON_ORDER = [
    "manually_stopped",
    "early_stopped",
    "privacy_budget_exhausted",
    "max_epochs_reached",
    "time_limit_reached",
]
TRAINING_STEPS = ["synthesis", "report"]
ANONYMIZATION_STEPS = ["anonymize", "report"]


@dataclass
class Expect:
    """One event the product must store: its class name, payload, and which fields of which
    part (None: the generator) take its timestamp."""

    name: str
    payload: dict[str, Any]
    stamps: list[tuple[str | None, str]] = field(default_factory=list)


@dataclass
class Outcome:
    error: str | None = None
    events: list[Expect] = field(default_factory=list)
    result: Any = None


def rejected(code: str) -> Outcome:
    return Outcome(error=code)


@dataclass
class PartModel:
    id: str
    state: str = "pending"
    attempt: int = 0
    worker: str | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    lease_s: float = 0.0
    renewed_at: datetime | None = None
    reported_at: datetime | None = None  # the runner's last sign of life
    error: str | None = None

    @property
    def lease_expires_at(self) -> datetime | None:
        if self.renewed_at is None:
            return None
        return self.renewed_at + timedelta(seconds=self.lease_s)

    def fields(self) -> dict[str, Any]:
        """The part as the product's dataclass holds it (`dataclasses.asdict`)."""
        found = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "renewed_at"}
        return {**found, "lease_expires_at": self.lease_expires_at}


@dataclass
class PhaseModel(PartModel):
    kind: str = "tabular"
    table: str | None = None
    stop_requested: bool = False
    reasons: list[str] = field(default_factory=list)
    epoch: int = 0
    step: int = 0
    elapsed_s: float = 0.0
    val_loss: float | None = None
    epsilon: float | None = None
    checkpoint: dict | None = None
    resume_from: dict | None = None
    last_kept: dict | None = None
    epoch_limit: int | None = None
    privacy: dict | None = None
    preemptions: int = 0


@dataclass
class StepModel(PartModel):
    outputs: dict = field(default_factory=dict)


def _live(part: PartModel) -> bool:
    return part.state not in ENDED


@dataclass
class GeneratorModel:
    id: UUID
    name: str
    kind: str
    spec: dict
    parent: UUID | None
    phases: dict[str, PhaseModel]
    steps: dict[str, StepModel]
    state: str = "queued"
    error: str | None = None
    outputs: dict = field(default_factory=dict)
    version: int = 0
    created_on: datetime | None = None
    modified_on: datetime | None = None

    @classmethod
    def create(
        cls,
        generator_id: UUID,
        *,
        name: str,
        kind: str,
        spec: dict,
        text_tables: list[str],
        parent: UUID | None = None,
        resume_from: dict[str, dict] | None = None,
        epoch_limits: dict[str, int] | None = None,
    ) -> tuple["GeneratorModel", Outcome]:
        phases: dict[str, PhaseModel] = {}
        if kind == "training":
            phases["tabular"] = PhaseModel("tabular", kind="tabular")
            for t in text_tables:
                phases[f"text:{t}"] = PhaseModel(f"text:{t}", kind="text", table=t)
            for p in phases.values():
                p.resume_from = (resume_from or {}).get(p.id)
                p.epoch_limit = (epoch_limits or {}).get(p.id)
        steps = TRAINING_STEPS if kind == "training" else ANONYMIZATION_STEPS
        model = cls(
            generator_id, name, kind, spec, parent, phases, {s: StepModel(s) for s in steps}
        )
        layout: list[dict[str, Any]] = [
            {"id": p.id, "kind": p.kind, "table": p.table, "resume_from": p.resume_from}
            for p in phases.values()
        ]
        for row in layout:
            if phases[row["id"]].epoch_limit is not None:
                row["epoch_limit"] = phases[row["id"]].epoch_limit
        created = Expect(
            "Created",
            {
                "originator_topic": "ffwd:Generator",
                "name": name,
                "kind": kind,
                "spec": spec,
                "phases": layout,
                "steps": list(steps),
                "parent": parent,
            },
            [(None, "created_on")],
        )
        return model, Outcome(events=[created], result=generator_id)

    # Queries the product answers too (summaries, the work queue).

    def part(self, part_id: str) -> PartModel | None:
        return self.phases.get(part_id) or self.steps.get(part_id)

    def parts(self) -> list[PartModel]:
        return [*self.phases.values(), *self.steps.values()]

    def step_ready(self, step_id: str) -> bool:
        order = list(self.steps)
        i = order.index(step_id)
        if i == 0:
            return all(p.state == "succeeded" for p in self.phases.values())
        return self.steps[order[i - 1]].state == "succeeded"

    def phase_may_start(self, phase_id: str) -> bool:
        p = self.phases[phase_id]
        return p.kind == "tabular" or self.phases["tabular"].state == "succeeded"

    def ready_parts(self) -> list[str]:
        """The parts that may be claimed now: pending phases whose turn it is, within the
        spec's `max_parallel_phases`, and a pending step whose predecessor succeeded."""
        if self.state in ENDED:
            return []
        parallel = (self.spec.get("training") or {}).get("max_parallel_phases", 1)
        running = sum(p.state in RUNS for p in self.phases.values())
        waiting = [
            p.id
            for p in self.phases.values()
            if p.state == "pending" and self.phase_may_start(p.id)
        ]
        steps = [s.id for s in self.steps.values() if s.state == "pending"]
        steps = [s for s in steps if self.step_ready(s)]
        return waiting[: max(0, parallel - running)] + steps

    def ready(self) -> bool:
        return bool(self.ready_parts())

    def lease_expiry(self) -> datetime | None:
        if self.state in ENDED:
            return None
        leases = [p.lease_expires_at for p in self.parts() if p.state in RUNS]
        return min((t for t in leases if t is not None), default=None)

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "kind": self.kind,
            "state": self.state,
            "parent": self.parent,
            "created_at": self.created_on,
            "updated_at": self.modified_on,
            "version": self.version,
            "phases": tuple((p.id, p.state) for p in self.phases.values()),
            "steps": tuple((s.id, s.state) for s in self.steps.values()),
            "ready": self.ready(),
            "lease_expires_at": self.lease_expiry(),
        }

    def attributes(self) -> dict[str, Any]:
        """The generator's own attributes as the aggregate holds them."""
        return {
            "name": self.name,
            "kind": self.kind,
            "spec": self.spec,
            "parent": self.parent,
            "state": self.state,
            "outputs": self.outputs,
            "error": self.error,
            "version": self.version,
            "created_on": self.created_on,
            "modified_on": self.modified_on,
        }

    def stamp(self, expected: list[Expect], stored: list[Any]) -> None:
        """Copy the timestamps of the events the product stored into the fields they set."""
        for e, event in zip(expected, stored, strict=True):
            for part_id, attribute in e.stamps:
                target = self if part_id is None else self.part(part_id)
                setattr(target, attribute, event.timestamp)
            self.modified_on = event.timestamp
            self.version += 1

    # Gates shared by several commands.

    def _live_gate(self) -> str | None:
        if self.state == "cancelled":
            return "generator_cancelled"
        if self.state in ENDED:
            return "generator_already_finished"
        return None

    def _runner_gate(self, part: PartModel | None, attempt: int) -> str | None:
        if self.state == "cancelled":
            return "generator_cancelled"
        if part is None:
            return "unknown_phase"
        if attempt != part.attempt:
            return "stale_runner"
        if isinstance(part, PhaseModel) and part.state in ENDED:
            return "phase_already_finished"
        if part.state not in RUNS:
            return "invalid_transition"
        return None

    def _start(self) -> list[Expect]:
        if self.state != "queued":
            return []
        self.state = "running"
        return [Expect("Started", {})]

    def _abort(self) -> list[str]:
        aborted = [p.id for p in self.parts() if _live(p)]
        for part_id in aborted:
            self.part(part_id).state = "cancelled"  # type: ignore[union-attr]
        return aborted

    def _fail(self, error: str) -> Expect:
        aborted = self._abort()
        self.state, self.error = "failed", error
        return Expect(
            "Failed", {"error": error, "aborted": aborted}, [(a, "ended_at") for a in aborted]
        )

    # Commands from people.

    def request_stop(self, phase_id: str, requested_by: str) -> Outcome:
        if self.kind == "anonymization":
            return rejected("not_applicable")
        if self.state == "cancelled":
            return rejected("generator_cancelled")
        p = self.phases.get(phase_id)
        if p is None:
            return rejected("unknown_phase")
        if p.state in ENDED:
            return rejected("phase_already_finished")
        if p.stop_requested:
            return Outcome(result=False)
        then = p.state
        p.stop_requested = True
        p.state = "stopping" if then == "running" else then
        payload = {"phase": phase_id, "requested_by": requested_by, "phase_state_then": then}
        return Outcome(events=[Expect("StopRequested", {**payload, "state": p.state})], result=True)

    def cancel(self, requested_by: str) -> Outcome:
        if self.state == "cancelled":
            return Outcome(result=False)
        if self.state in ENDED:
            return rejected("generator_already_finished")
        then = self.state
        discarded = [p.checkpoint["id"] for p in self.phases.values() if p.checkpoint]
        aborted = self._abort()
        for p in self.phases.values():
            p.checkpoint = None
        self.state, self.outputs = "cancelled", {}
        payload = {
            "requested_by": requested_by,
            "state_then": then,
            "aborted": aborted,
            "discarded_checkpoints": discarded,
        }
        stamps = [(a, "ended_at") for a in aborted]
        return Outcome(events=[Expect("Cancelled", payload, stamps)], result=True)

    def continue_training(
        self, child_id: UUID, more_epochs: int | None = None, max_epochs: int | None = None
    ) -> tuple["GeneratorModel | None", Outcome]:
        """A new generator from this one's checkpoints: its spec as it was, or with another
        total of epochs (`max_epochs`). Each phase trains `more_epochs` beyond the checkpoint
        it resumes from (its own epoch limit); given neither, as many more as this one's
        limit; given only a total, every checkpoint must lie before it (ADR 0025)."""
        if self.kind != "training":
            return None, rejected("not_applicable")
        if self.state != "succeeded":
            return None, rejected("parent_not_succeeded")
        resume_from = {
            p.id: {**p.checkpoint, "generator": str(self.id)}
            for p in self.phases.values()
            if p.checkpoint
        }
        training, spec = self.spec["training"], self.spec
        if max_epochs is not None:
            spec = {**spec, "training": {**training, "max_epochs": max_epochs}}
        elif more_epochs is None:
            more_epochs = training["max_epochs"]
        limits = None
        if more_epochs is not None:
            if more_epochs < 1:
                return None, rejected("invalid_spec")
            limits = {pid: c.get("epoch", 0) + more_epochs for pid, c in resume_from.items()}
        elif any(c.get("epoch", 0) >= max_epochs for c in resume_from.values()):  # type: ignore[operator]
            return None, rejected("invalid_spec")
        tables = [p.table for p in self.phases.values() if p.table]
        return GeneratorModel.create(
            child_id,
            name=self.name,
            kind=self.kind,
            spec=spec,
            text_tables=tables,  # type: ignore[arg-type]
            parent=self.id,
            resume_from=resume_from,
            epoch_limits=limits,
        )

    # Commands from the orchestrator and the runners.

    def start_phase(self, phase_id: str, worker: str, lease_s: float | None) -> Outcome:
        gate = self._live_gate()
        if gate:
            return rejected(gate)
        p = self.phases.get(phase_id)
        if p is None:
            return rejected("unknown_phase")
        if p.state in ENDED:
            return rejected("phase_already_finished")
        if p.state != "pending" or not self.phase_may_start(phase_id):
            return rejected("invalid_transition")
        events = self._start()
        lease = DEFAULT_LEASE_S if lease_s is None else lease_s
        p.state = "stopping" if p.stop_requested else "running"
        p.attempt, p.worker, p.lease_s = p.attempt + 1, worker, lease
        payload = {"phase": phase_id, "attempt": p.attempt, "worker": worker, "state": p.state}
        stamps = [(phase_id, t) for t in ("started_at", "renewed_at", "reported_at")]
        events.append(Expect("PhaseStarted", {**payload, "lease_s": lease}, stamps))
        return Outcome(events=events, result=p.attempt)

    def record_progress(self, phase_id: str, attempt: int, **metrics: Any) -> Outcome:
        p = self.phases.get(phase_id)
        gate = self._runner_gate(p, attempt) or self._counters_gate(p, metrics)
        if gate:
            return rejected(gate)
        assert p is not None
        kept, rows = metrics.pop("kept", None), _rows(metrics.pop("epochs", None))
        self._count(p, metrics)
        if kept:
            p.last_kept = dict(kept)
        payload = {
            "phase": phase_id,
            "attempt": attempt,
            **metrics,
            "kept": p.last_kept if kept else None,
            "epochs": rows,
        }
        stamps = [(phase_id, "renewed_at"), (phase_id, "reported_at")]
        return Outcome(events=[Expect("PhaseProgressed", payload, stamps)])

    def record_privacy(self, phase_id: str, attempt: int, **plan: Any) -> Outcome:
        """The DP-SGD settings a running phase's attempt trains with (ADR 0022): they renew its
        lease, but are not a report of progress."""
        p = self.phases.get(phase_id)
        gate = self._runner_gate(p, attempt)
        if gate:
            return rejected(gate)
        assert p is not None
        p.privacy = {
            "noise_multiplier": float(plan["noise_multiplier"]),
            "calibrated": bool(plan["calibrated"]),
            "sampling_rate": float(plan["sampling_rate"]),
            "steps_per_epoch": int(plan["steps_per_epoch"]),
            "last_step": int(plan["last_step"]),
        }
        payload = {"phase": phase_id, "attempt": attempt, **p.privacy}
        return Outcome(events=[Expect("PrivacyPlanned", payload, [(phase_id, "renewed_at")])])

    def finish_phase(
        self, phase_id: str, attempt: int, *, reasons: list[str], checkpoint: dict, **metrics: Any
    ) -> Outcome:
        p = self.phases.get(phase_id)
        gate = self._runner_gate(p, attempt) or self._counters_gate(p, metrics)
        if gate:
            return rejected(gate)
        assert p is not None
        if not checkpoint or not checkpoint.get("id"):
            return rejected("invalid_transition")
        chosen = set(reasons) | ({"manually_stopped"} if p.stop_requested else set())
        recorded = [r for r in REASON_ORDER if r in chosen] or ["unknown"]
        rows = _rows(metrics.pop("epochs", None))
        self._count(p, metrics)
        p.state, p.reasons, p.checkpoint = "succeeded", recorded, dict(checkpoint)
        payload = {"phase": phase_id, "attempt": attempt, **metrics, "epochs": rows}
        payload |= {"reasons": recorded, "checkpoint": p.checkpoint, "state": "succeeded"}
        stamps = [(phase_id, "ended_at"), (phase_id, "reported_at")]
        return Outcome(events=[Expect("PhaseSucceeded", payload, stamps)], result=recorded)

    def release_phase(self, phase_id: str, attempt: int, **released: Any) -> Outcome:
        """Preemption: the worker running the phase hands it back at a step boundary (epoch,
        step, elapsed_s; the checkpoint `kept`, the `epochs` since its last report). It is
        pending again, free to claim at once (no lease), resuming from `kept` when given;
        its counters go on and never decrease. A stopping phase is not released: its stop
        lands at that boundary instead."""
        p = self.phases.get(phase_id)
        gate = self._runner_gate(p, attempt)
        stopping = p is not None and p.state == "stopping"
        gate = gate or ("invalid_transition" if stopping else self._counters_gate(p, released))
        if gate:
            return rejected(gate)
        assert p is not None
        kept = dict(released["kept"]) if released.get("kept") else None
        p.epoch, p.step, p.elapsed_s = released["epoch"], released["step"], released["elapsed_s"]
        if kept:
            p.last_kept, p.resume_from = kept, {**kept, "generator": str(self.id)}
        p.state, p.preemptions, p.renewed_at = "pending", p.preemptions + 1, None
        payload = {"phase": phase_id, "attempt": attempt, "worker": p.worker, "kept": kept}
        payload |= {k: released[k] for k in ("epoch", "step", "elapsed_s")}
        payload |= {"epochs": _rows(released.get("epochs")), "state": "pending"}
        return Outcome(events=[Expect("PhaseReleased", payload, [(phase_id, "reported_at")])])

    def release_step(self, step_id: str, attempt: int) -> Outcome:
        """Preemption of a step: it is pending again, and runs again from its start."""
        s = self.steps.get(step_id)
        if gate := self._runner_gate(s, attempt):
            return rejected(gate)
        assert s is not None
        payload = {"pipeline_step": step_id, "attempt": attempt, "worker": s.worker}
        s.state, s.renewed_at = "pending", None
        return Outcome(events=[Expect("StepReleased", {**payload, "state": "pending"})])

    def fail_phase(self, phase_id: str, attempt: int, error: str) -> Outcome:
        p = self.phases.get(phase_id)
        gate = self._runner_gate(p, attempt)
        if gate:
            return rejected(gate)
        assert p is not None
        p.state, p.error = "failed", error
        payload = {"phase": phase_id, "attempt": attempt, "error": error, "state": "failed"}
        failed = Expect("PhaseFailed", payload, [(phase_id, "ended_at")])
        return Outcome(events=[failed, self._fail(f"phase {phase_id} failed: {error}")])

    def start_step(self, step_id: str, worker: str, lease_s: float | None) -> Outcome:
        gate = self._live_gate()
        if gate:
            return rejected(gate)
        s = self.steps.get(step_id)
        if s is None:
            return rejected("unknown_phase")
        if s.state != "pending" or not self.step_ready(step_id):
            return rejected("invalid_transition")
        events = self._start()
        lease = DEFAULT_LEASE_S if lease_s is None else lease_s
        s.state, s.attempt, s.worker, s.lease_s = "running", s.attempt + 1, worker, lease
        payload = {"pipeline_step": step_id, "attempt": s.attempt, "worker": worker}
        payload |= {"state": "running", "lease_s": lease}
        stamps = [(step_id, t) for t in ("started_at", "renewed_at", "reported_at")]
        events.append(Expect("StepStarted", payload, stamps))
        return Outcome(events=events, result=s.attempt)

    def finish_step(self, step_id: str, attempt: int, outputs: dict) -> Outcome:
        s = self.steps.get(step_id)
        gate = self._runner_gate(s, attempt)
        if gate:
            return rejected(gate)
        assert s is not None
        s.state, s.outputs = "succeeded", dict(outputs)
        self.outputs = {**self.outputs, **outputs}
        payload = {"pipeline_step": step_id, "attempt": attempt, "outputs": dict(outputs)}
        events = [
            Expect("StepSucceeded", {**payload, "state": "succeeded"}, [(step_id, "ended_at")])
        ]
        if all(x.state == "succeeded" for x in self.steps.values()):
            self.state = "succeeded"
            events.append(Expect("Succeeded", {}))
        return Outcome(events=events)

    def fail_step(self, step_id: str, attempt: int, error: str) -> Outcome:
        s = self.steps.get(step_id)
        gate = self._runner_gate(s, attempt)
        if gate:
            return rejected(gate)
        assert s is not None
        s.state, s.error = "failed", error
        payload = {"pipeline_step": step_id, "attempt": attempt, "error": error, "state": "failed"}
        failed = Expect("StepFailed", payload, [(step_id, "ended_at")])
        return Outcome(events=[failed, self._fail(f"step {step_id} failed: {error}")])

    def heartbeat(self, part_id: str, attempt: int) -> Outcome:
        part = self.part(part_id)
        if self.state == "cancelled":
            return rejected("generator_cancelled")
        if part is None:
            return rejected("unknown_phase")
        if attempt != part.attempt:
            return rejected("stale_runner")
        if part.state not in RUNS:
            return rejected("invalid_transition")
        payload = {"part": part_id, "attempt": attempt}
        stamps = [(part_id, "renewed_at"), (part_id, "reported_at")]
        return Outcome(events=[Expect("Heartbeat", payload, stamps)])

    def take_over(
        self,
        part_id: str,
        worker: str,
        now: datetime,
        lease_s: float | None,
        lost: int | None = None,
    ) -> Outcome:
        gate = self._live_gate()
        if gate:
            return rejected(gate)
        part = self.part(part_id)
        if part is None:
            return rejected("unknown_phase")
        expiry = part.lease_expires_at
        if lost is not None:
            if lost != part.attempt:
                return rejected("stale_runner")
            if part.state not in RUNS or worker != part.worker:
                return rejected("invalid_transition")
        elif part.state not in RUNS or expiry is None or now < expiry:
            return rejected("invalid_transition")
        kept = part.last_kept if isinstance(part, PhaseModel) else None
        resume_from = {**kept, "generator": str(self.id)} if kept else None
        previous, lease = part.worker, DEFAULT_LEASE_S if lease_s is None else lease_s
        part.attempt, part.worker, part.lease_s = part.attempt + 1, worker, lease
        if resume_from is not None:
            part.resume_from = resume_from  # type: ignore[attr-defined]
        payload = {"part": part_id, "attempt": part.attempt, "worker": worker}
        payload |= {"previous_worker": previous, "resume_from": resume_from, "lease_s": lease}
        stamps = [(part_id, "renewed_at"), (part_id, "reported_at")]
        return Outcome(events=[Expect("TakenOver", payload, stamps)], result=part.attempt)

    # Internals.

    @staticmethod
    def _counters_gate(p: PhaseModel | None, metrics: dict[str, Any]) -> str | None:
        assert p is not None
        if metrics["epoch"] < p.epoch or metrics["step"] < p.step:
            return "invalid_transition"
        return None

    @staticmethod
    def _count(p: PhaseModel, metrics: dict[str, Any]) -> None:
        p.epoch, p.step, p.elapsed_s = metrics["epoch"], metrics["step"], metrics["elapsed_s"]
        p.val_loss, p.epsilon = metrics.get("val_loss"), metrics.get("epsilon")


def _rows(epochs: list[dict] | None) -> list[dict]:
    """The rows of the epochs a report carries, as recorded: copies, none when not given."""
    return [dict(row) for row in epochs or ()]
