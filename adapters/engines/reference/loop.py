"""The training loop shared by every reference phase: steps, boundaries, the kept checkpoint."""

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ffwd.adapters.checkpoints import FileCheckpointStore
from ffwd.adapters.engines.reference.phases import Phase
from ffwd.adapters.engines.reference.privacy import PrivacyLedger
from ffwd.adapters.privacy.rdp import RdpAccountant
from ffwd.application.privacy import PrivacyPlan, plan_privacy
from ffwd.application.training import Control, PhaseJob, PhaseOutcome, checkpoint_id

BUDGET_REASON = "privacy_budget_exhausted"


@dataclass
class Kept:
    """The checkpoint the phase keeps: the best by validation loss so far."""

    id: str
    epoch: int
    step: int
    val_loss: float
    epsilon: float | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "epoch": self.epoch,
            "step": self.step,
            "val_loss": self.val_loss,
            "epsilon": self.epsilon,
        }


@dataclass
class Start:
    """Where the loop starts: zero, or a resumed checkpoint's counters and privacy ledger."""

    epoch: int = 0
    step: int = 0
    privacy_history: list = field(default_factory=list)
    resumed: bool = False


class Loop:
    """Runs one phase until the control says stop, keeping the best checkpoint on disk."""

    def __init__(
        self,
        phase: Phase,
        job: PhaseJob,
        store: FileCheckpointStore,
        start: Start,
        extra: dict,
        accountant: RdpAccountant,
    ) -> None:
        self.phase, self.job, self.store, self.extra = phase, job, store, extra
        self.epoch, self.step = start.epoch, start.step
        self.first_step = start.step
        self.dp = job.training.differential_privacy
        self.ledger = None
        self.plan: PrivacyPlan | None = None
        if self.dp is not None:
            history = start.privacy_history
            self.plan = plan_privacy(
                self.dp,
                job.training,
                phase.sampling,
                accountant,
                epoch=self.epoch,
                step=self.step,
                spent=[tuple(segment) for segment in history],
            )
            self.dp = self.dp.model_copy(update={"noise_multiplier": self.plan.noise_multiplier})
            self.ledger = PrivacyLedger(
                phase.sampling_rate, self.plan.noise_multiplier, self.dp.delta, history, accountant
            )
        self.kept: Kept | None = None
        self.val_loss: float | None = None
        self.control: Control | None = None
        if start.resumed:
            # The resumed model is the best so far until an epoch beats it.
            self.val_loss = phase.validation_loss()
            self._keep(self.val_loss)

    def run(self, control: Control) -> PhaseOutcome:
        self.control = control
        planned = getattr(control, "privacy", None)
        if self.plan is not None and planned is not None:
            planned(self.plan)
        if self.kept is not None:
            self._announce(self.kept)
        rng = np.random.default_rng([self.job.seed, self.step])
        while True:  # until the control says stop: its epoch limit always comes
            self.phase.start_epoch(rng)
            losses = []
            for k in range(self.phase.steps_per_epoch):
                if self._over_budget(self.step + 1):
                    return self._finish((BUDGET_REASON,))
                losses.append(self.phase.step(rng, self.dp))
                self.step += 1
                metrics: dict[str, float] | None = None
                if k == self.phase.steps_per_epoch - 1:
                    self.epoch += 1
                    self.val_loss = self.phase.validation_loss()
                    metrics = {"val_loss": self.val_loss, "train_loss": float(np.mean(losses))}
                    if self._improves(self.val_loss):
                        self._keep(self.val_loss)
                if self.ledger is not None:
                    metrics = (metrics or {}) | {
                        "epsilon": self.ledger.epsilon(self.step),
                        "next_epsilon": self.ledger.epsilon(self.step + 1),
                    }
                decision = control.boundary(self.epoch, self.step, metrics)
                if decision.stop:
                    return self._finish(decision.reasons)

    def _improves(self, val_loss: float) -> bool:
        if self.kept is None:
            return True
        # a NaN loss never wins, and anything finite beats a kept NaN
        return val_loss < self.kept.val_loss or (
            math.isnan(self.kept.val_loss) and not math.isnan(val_loss)
        )

    def _over_budget(self, steps: int) -> bool:
        """A step whose privacy would exceed the budget is never taken, whatever the control."""
        if self.ledger is None or self.ledger.epsilon(steps) <= self.dp.max_epsilon:
            return False
        if self.kept is None and self.step == self.first_step:
            raise ValueError(
                f"differential_privacy.max_epsilon={self.dp.max_epsilon} does not allow one "
                f"more training step (epsilon after it: {self.ledger.epsilon(steps):.3g})"
            )
        return True

    def _finish(self, reasons: tuple[str, ...]) -> PhaseOutcome:
        if self.kept is None:
            # Stopped before any validation: keep the latest model.
            self.val_loss = self.phase.validation_loss()
            self._keep(self.val_loss)
        epsilon = self.ledger.epsilon(self.step) if self.ledger else None
        return PhaseOutcome(
            checkpoint=self.kept.as_dict(),
            epoch=self.epoch,
            step=self.step,
            val_loss=self.val_loss,
            epsilon=epsilon,
            reasons=tuple(reasons),
        )

    def _keep(self, val_loss: float) -> None:
        epsilon = self.ledger.epsilon(self.step) if self.ledger else None
        if epsilon is not None and epsilon > self.dp.max_epsilon:
            return
        kept = Kept(
            checkpoint_id(self.job, self.epoch, self.step), self.epoch, self.step, val_loss, epsilon
        )
        meta = self.phase.meta() | self.extra | {"checkpoint": kept.as_dict()}
        meta |= {"kind": self.job.kind, "phase_id": self.job.phase_id, "seed": self.job.seed}
        if self.ledger is not None:
            meta["privacy"] = self.ledger.state(self.step)
        job = self.job
        self.store.save(job.generator_id, job.phase_id, kept.id, self.phase.arrays(), meta)
        previous, self.kept = self.kept, kept
        self._announce(kept)
        if previous is not None and previous.id != kept.id:
            self.store.delete(job.generator_id, job.phase_id, previous.id)

    def _announce(self, kept: Kept) -> None:
        """Tell a control that records it (the application's does) which checkpoint is kept,
        so that a worker taking over this phase resumes from it."""
        record = getattr(self.control, "kept", None)
        if record is not None:
            record(kept.as_dict())
