"""A scripted Control for engine tests: records every boundary, stops or interrupts on cue."""

from collections.abc import Mapping
from dataclasses import dataclass, field

from ffwd.application.training import CONTINUE, Decision, PhaseInterrupted


@dataclass
class ScriptedControl:
    """Stops at a step or epoch (manually), on the privacy budget, or raises PhaseInterrupted."""

    stop_at_step: int | None = None
    stop_at_epoch: int | None = None
    interrupt_at_step: int | None = None
    max_epsilon: float | None = None
    calls: list[tuple[int, int, dict | None]] = field(default_factory=list)
    plans: list = field(default_factory=list)

    def privacy(self, plan) -> None:
        self.plans.append(plan)

    def boundary(
        self, epoch: int, step: int, metrics: Mapping[str, float] | None = None
    ) -> Decision:
        self.calls.append((epoch, step, None if metrics is None else dict(metrics)))
        if self.interrupt_at_step is not None and step >= self.interrupt_at_step:
            raise PhaseInterrupted()
        reasons = []
        if self.stop_at_step is not None and step >= self.stop_at_step:
            reasons.append("manually_stopped")
        if self.stop_at_epoch is not None and epoch >= self.stop_at_epoch:
            reasons.append("max_epochs_reached")
        over = metrics is not None and metrics.get("next_epsilon", 0.0) > (self.max_epsilon or 1e9)
        if over:
            reasons.append("privacy_budget_exhausted")
        return Decision(True, tuple(reasons)) if reasons else CONTINUE

    def val_losses(self) -> list[float]:
        return [m["val_loss"] for _, _, m in self.calls if m and "val_loss" in m]
