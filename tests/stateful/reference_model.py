"""An independent reference model of RULES.md: plain tables and dicts, no rule book import.

Each method returns None when the command is accepted (and updates the model), "noop" for an
accepted command that records nothing, or the error code the product must raise.
"""

from dataclasses import dataclass, field

LIVE = ("pending", "running", "stopping")
ENDED = ("succeeded", "failed", "cancelled")
REASON_ORDER = [
    "manually_stopped",
    "early_stopped",
    "privacy_budget_exhausted",
    "max_epochs_reached",
    "time_limit_reached",
]


@dataclass
class PhaseModel:
    kind: str
    state: str = "pending"
    stop_requested: bool = False
    attempt: int = 0
    epoch: int = 0
    step: int = 0
    reasons: list = field(default_factory=list)
    checkpoint: str | None = None


@dataclass
class StepModel:
    state: str = "pending"
    attempt: int = 0


@dataclass
class GeneratorModel:
    kind: str
    phases: dict
    steps: dict
    state: str = "queued"

    @classmethod
    def new(cls, kind: str, text_tables: list[str]) -> "GeneratorModel":
        if kind == "anonymization":
            return cls(kind, {}, {"anonymize": StepModel(), "report": StepModel()})
        phases = {"tabular": PhaseModel("tabular")}
        phases.update({f"text:{t}": PhaseModel("text") for t in text_tables})
        return cls(kind, phases, {"synthesis": StepModel(), "report": StepModel()})

    def _abort(self) -> None:
        for part in [*self.phases.values(), *self.steps.values()]:
            if part.state not in ENDED:
                part.state = "cancelled"

    def _generator_gate(self) -> str | None:
        if self.state == "cancelled":
            return "generator_cancelled"
        if self.state in ("succeeded", "failed"):
            return "generator_already_finished"
        return None

    def request_stop(self, pid: str) -> str | None:
        if self.kind == "anonymization":
            return "not_applicable"
        if self.state == "cancelled":
            return "generator_cancelled"
        if pid not in self.phases:
            return "unknown_phase"
        p = self.phases[pid]
        if p.state in ENDED:
            return "phase_already_finished"
        if p.stop_requested:
            return "noop"
        p.stop_requested = True
        if p.state == "running":
            p.state = "stopping"
        return None

    def start_phase(self, pid: str) -> str | None:
        gate = self._generator_gate()
        if gate:
            return gate
        if pid not in self.phases:
            return "unknown_phase"
        p = self.phases[pid]
        if p.state in ENDED:
            return "phase_already_finished"
        if p.state != "pending":
            return "invalid_transition"
        if p.kind == "text" and self.phases["tabular"].state != "succeeded":
            return "invalid_transition"
        p.state = "stopping" if p.stop_requested else "running"
        p.attempt += 1
        self.state = "running"
        return None

    def _runner_gate(self, pid: str, attempt: int) -> str | None:
        if self.state == "cancelled":
            return "generator_cancelled"
        if pid not in self.phases:
            return "unknown_phase"
        p = self.phases[pid]
        if attempt != p.attempt:
            return "stale_runner"
        if p.state in ENDED:
            return "phase_already_finished"
        if p.state not in ("running", "stopping"):
            return "invalid_transition"
        return None

    def progress(self, pid: str, attempt: int, epoch: int, step: int) -> str | None:
        gate = self._runner_gate(pid, attempt)
        if gate:
            return gate
        p = self.phases[pid]
        if epoch < p.epoch or step < p.step:
            return "invalid_transition"
        p.epoch, p.step = epoch, step
        return None

    def finish(
        self, pid: str, attempt: int, epoch: int, step: int, reasons: list, checkpoint: str | None
    ) -> str | None:
        gate = self._runner_gate(pid, attempt)
        if gate:
            return gate
        p = self.phases[pid]
        if epoch < p.epoch or step < p.step or not checkpoint:
            return "invalid_transition"
        chosen = set(reasons) | ({"manually_stopped"} if p.stop_requested else set())
        p.reasons = [r for r in REASON_ORDER if r in chosen] or ["unknown"]
        p.state, p.epoch, p.step, p.checkpoint = "succeeded", epoch, step, checkpoint
        return None

    def fail(self, pid: str, attempt: int) -> str | None:
        gate = self._runner_gate(pid, attempt)
        if gate:
            return gate
        self.phases[pid].state = "failed"
        self.state = "failed"
        self._abort()
        return None

    def start_step(self, sid: str) -> str | None:
        gate = self._generator_gate()
        if gate:
            return gate
        s = self.steps[sid]
        if s.state != "pending":
            return "invalid_transition"
        order = list(self.steps)
        i = order.index(sid)
        ready = (
            all(p.state == "succeeded" for p in self.phases.values())
            if i == 0
            else self.steps[order[i - 1]].state == "succeeded"
        )
        if not ready:
            return "invalid_transition"
        s.state, s.attempt, self.state = "running", s.attempt + 1, "running"
        return None

    def _step_gate(self, sid: str, attempt: int) -> str | None:
        if self.state == "cancelled":
            return "generator_cancelled"
        s = self.steps[sid]
        if attempt != s.attempt:
            return "stale_runner"
        if s.state != "running":
            return "invalid_transition"
        return None

    def finish_step(self, sid: str, attempt: int) -> str | None:
        gate = self._step_gate(sid, attempt)
        if gate:
            return gate
        self.steps[sid].state = "succeeded"
        if all(s.state == "succeeded" for s in self.steps.values()):
            self.state = "succeeded"
        return None

    def fail_step(self, sid: str, attempt: int) -> str | None:
        gate = self._step_gate(sid, attempt)
        if gate:
            return gate
        self.steps[sid].state = "failed"
        self.state = "failed"
        self._abort()
        return None

    def _part(self, part_id: str):
        return self.phases.get(part_id) or self.steps.get(part_id)

    def heartbeat(self, part_id: str, attempt: int) -> str | None:
        if self.state == "cancelled":
            return "generator_cancelled"
        part = self._part(part_id)
        if part is None:
            return "unknown_phase"
        if attempt != part.attempt:
            return "stale_runner"
        if part.state not in ("running", "stopping"):
            return "invalid_transition"
        return None

    def take_over(self, part_id: str, expired: bool) -> str | None:
        gate = self._generator_gate()
        if gate:
            return gate
        part = self._part(part_id)
        if part is None:
            return "unknown_phase"
        if part.state not in ("running", "stopping") or not expired:
            return "invalid_transition"
        part.attempt += 1
        return None

    def cancel(self) -> str | None:
        if self.state == "cancelled":
            return "noop"
        if self.state in ("succeeded", "failed"):
            return "generator_already_finished"
        self.state = "cancelled"
        self._abort()
        for p in self.phases.values():
            p.checkpoint = None
        return None
