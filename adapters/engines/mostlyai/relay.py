"""The engine's progress callback, turned into our control's step boundaries.

mostlyai-engine calls its `update_progress` callback once when a stage opens (`completed=0,
total=1`), once after every optimizer step (with a message at the first step, at every epoch
end - carrying the validation loss - and every few minutes), possibly once more with a final
message when it saved its first weights only after the loop, and once when the stage closes
(`completed=1, total=1`). A callback that returns `{"stopExecution": True}` makes the engine
leave its loop right there and keep its best checkpoint: an undocumented flag (ADR 0015,
`tests/integration/engines_mostlyai/test_contract.py`).

The engine returns no stop reason, so the relay derives one: from our control's decision when
the control stopped the phase, else from the engine's messages (the validation-loss history
under the engine's own patience, epsilon against its max, its epoch and time limits).
"""

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ffwd.application.training import CONTINUE, Control, Decision
from ffwd.domain import reasons as why

STOP = {"stopExecution": True}
ENGINE_PATIENCE = 4  # the engine's EarlyStopper(val_loss_patience=4): stops on the 5th miss
PHASE_WIDE = (why.MANUALLY_STOPPED, why.TIME_LIMIT_REACHED)


@dataclass
class Kept:
    """The checkpoint the engine kept: the last message that said `is_checkpoint`."""

    epoch: int
    step: int
    val_loss: float | None
    epsilon: float | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "epoch": self.epoch,
            "step": self.step,
            "val_loss": self.val_loss,
            "epsilon": self.epsilon,
        }


@dataclass
class Relay:
    """One engine `train()` call's callback: asks the control at every step boundary.

    `policies`, when given, is a per-table control that decides the table's own stops (early
    stopping, epochs, privacy) while `control` sees the phase's cumulative counters and only
    its phase-wide reasons count (a manual stop, the time limit): a tabular phase over several
    tables trains one engine model per table, one after the other.
    """

    control: Control
    start_epoch: int = 0
    start_step: int = 0
    epsilon: Callable[[int], float] | None = None
    max_epsilon: float = math.inf
    policies: Control | None = None
    epoch_offset: int = 0
    step_offset: int = 0
    engine_max_epochs: float = math.inf
    engine_max_time_s: float = math.inf
    epoch: int = field(init=False)
    step: int = field(init=False)
    stopped: bool = field(default=False, init=False)
    reasons: tuple[str, ...] = field(default=(), init=False)
    kept: Kept | None = field(default=None, init=False)
    val_losses: list[float] = field(default_factory=list, init=False)
    last: dict[str, Any] = field(default_factory=dict, init=False)
    mismatch: float = field(default=0.0, init=False)

    def __post_init__(self) -> None:
        self.epoch, self.step = self.start_epoch, self.start_step

    def __call__(
        self,
        total: int | None = None,
        completed: int | None = None,
        advance: int | None = None,
        message: Mapping[str, Any] | None = None,
        **_: Any,
    ) -> dict[str, bool] | None:
        if message is None and total == 1:
            return None  # a stage opens or closes: no step
        steps = message.get("steps") if message is not None else None
        if steps is not None and steps <= self.step:  # the final message after the loop
            self._note(message)
            return None
        if self.stopped:
            return STOP
        self.step += 1
        metrics = self._note(message) if message is not None else None
        decision = self._ask(metrics)
        if decision.stop:
            self.stopped, self.reasons = True, decision.reasons
            return STOP
        return None

    def _note(self, message: Mapping[str, Any]) -> dict[str, float] | None:
        """Remember what a message says; the metrics for the control at this boundary."""
        self.last = dict(message)
        metrics: dict[str, float] = {}
        val_loss = message.get("val_loss")
        if _number(val_loss):
            self.epoch = max(self.epoch, math.floor(message.get("epoch") or 0))
            self.val_losses.append(val_loss)
            metrics["val_loss"] = val_loss
            if _number(message.get("trn_loss")):
                metrics["train_loss"] = message["trn_loss"]
        spent = self._epsilon(message)
        if message.get("is_checkpoint"):
            steps = message.get("steps") or self.step
            epoch = math.floor(message.get("epoch") or 0)
            self.kept = Kept(epoch, steps, val_loss if _number(val_loss) else None, spent)
        return metrics or None

    def _epsilon(self, message: Mapping[str, Any]) -> float | None:
        """Epsilon now: our sum, or the engine's when it reports more (it rounds to 0.01)."""
        if self.epsilon is None:
            return None
        ours = self.epsilon(self.step - self.start_step)
        reported = message.get("dp_eps")
        if _number(reported):
            self.mismatch = max(self.mismatch, abs(reported - ours))
            return max(ours, reported)
        return ours

    def _ask(self, metrics: dict[str, float] | None) -> Decision:
        if self.epsilon is not None:
            done = self.step - self.start_step
            metrics = (metrics or {}) | {
                "epsilon": self.epsilon(done),
                "next_epsilon": self.epsilon(done + 1),
            }
        if self.policies is None:
            return self.control.boundary(self.epoch, self.step, metrics)
        phase = self.control.boundary(
            self.epoch_offset + self.epoch, self.step_offset + self.step, None
        )
        own = self.policies.boundary(self.epoch, self.step, metrics)
        reasons = [r for r in phase.reasons if r in PHASE_WIDE] if phase.stop else []
        reasons += [r for r in own.reasons if r not in PHASE_WIDE] if own.stop else []
        return Decision(stop=True, reasons=tuple(reasons)) if reasons else CONTINUE

    def engine_reasons(self) -> tuple[str, ...]:
        """Why the engine ended on its own, from its messages: its patience, its epsilon
        check, its limits; () when nothing explains it (unknown)."""
        found = []
        if _engine_early_stop(self.val_losses):
            found.append(why.EARLY_STOPPED)
        spent = self.last.get("dp_eps")
        if _number(spent) and spent > self.max_epsilon:
            found.append(why.PRIVACY_BUDGET_EXHAUSTED)
        if (self.last.get("epoch") or 0) > self.engine_max_epochs:
            found.append(why.MAX_EPOCHS_REACHED)
        if (self.last.get("total_time") or 0) > self.engine_max_time_s:
            found.append(why.TIME_LIMIT_REACHED)
        return tuple(found)


def _engine_early_stop(val_losses: list[float]) -> bool:
    """The engine's EarlyStopper replayed: more than its patience of validations in a row
    without a strictly lower loss."""
    best, misses = math.inf, 0
    for loss in val_losses:
        if loss < best:
            best, misses = loss, 0
        else:
            misses += 1
            if misses > ENGINE_PATIENCE:
                return True
    return False


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
