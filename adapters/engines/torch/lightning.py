"""A Lightning callback that makes `trainer.fit` a runner: it asks the control at every
training batch end and at every validation, and sets `trainer.should_stop` (ADR 0015).

    control_callback = ControlCallback(control)
    best = ModelCheckpoint(dirpath=folder, monitor="val_loss", mode="min", save_top_k=1)
    trainer = Trainer(max_epochs=-1, callbacks=[control_callback, best])
    trainer.fit(module, train_loader, val_loader, ckpt_path=resume_path_or_None)
    outcome = control_callback.outcome()

Checkpoints are Lightning's own: the best by `val_loss` from its ModelCheckpoint, or, when
the phase stopped before any validation, `last.ckpt` written by this callback. Each carries
this callback's state (counters, validation loss, the stop reasons). A cancel raises
PhaseInterrupted out of `trainer.fit` at once.

With a distributed strategy (`ddp`), every rank has the callback; rank 0's has the phase's
control, the others' None. Rank 0 decides at each boundary and every rank sets
`should_stop` at the same step with the same reasons (ADR 0026).
"""

import math
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch

from ffwd.adapters.engines.torch.privacy import OpacusBudget, with_privacy
from ffwd.adapters.engines.torch.ranks import Ranks
from ffwd.application.training import Control, PhaseOutcome


class ControlCallback(pl.Callback):
    """Stops `trainer.fit` at the step boundary where the control says so, with its reasons."""

    def __init__(
        self,
        control: Control | None,
        *,
        monitor: str = "val_loss",
        train_monitor: str = "train_loss",
        budget: OpacusBudget | None = None,
        last_checkpoint: str = "last.ckpt",
    ) -> None:
        """`monitor`: the logged validation loss early stopping and the kept checkpoint follow;
        `train_monitor`: the logged training loss that goes into each epoch's row of the curve
        (as Lightning holds it when validation ends), if the module logs one."""
        self.control, self.monitor, self.budget = control, monitor, budget
        self.train_monitor = train_monitor
        self.last_checkpoint = last_checkpoint
        self.epoch = self.step = 0
        self.val_loss: float | None = None
        self.stopped = False
        self.reasons: tuple[str, ...] = ()
        self.checkpoint_path: str | None = None
        self.ranks = Ranks()

    # Lightning hooks.

    def setup(self, trainer, pl_module, stage: str) -> None:
        # the strategy starts torch.distributed inside `fit`: the ranks are known from here
        self.ranks = Ranks()
        if self.control is None and self.ranks.leader:
            raise ValueError("rank 0 (or a single process) needs the phase's control")

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if self.stopped:
            return
        self.epoch, self.step = trainer.current_epoch, trainer.global_step
        self._ask(trainer, None)

    def on_validation_end(self, trainer, pl_module) -> None:
        value = trainer.callback_metrics.get(self.monitor)
        if trainer.sanity_checking or value is None:
            return
        self.val_loss = self.ranks.leaders(float(value))  # rank 0's decides, on every rank
        if self.stopped:  # Lightning validates once more after a stop: record it only
            return
        # validation at an epoch's end: that epoch is complete
        self.epoch, self.step = trainer.current_epoch + 1, trainer.global_step
        metrics = {"val_loss": self.val_loss}
        train_loss = trainer.callback_metrics.get(self.train_monitor)
        if train_loss is not None:
            metrics["train_loss"] = float(train_loss)
        self._ask(trainer, metrics)

    def on_fit_end(self, trainer, pl_module) -> None:
        best = next(
            (c.best_model_path for c in trainer.checkpoint_callbacks if c.best_model_path), None
        )
        if best is None:  # stopped before any validation: keep the latest model
            folder = Path(trainer.default_root_dir)
            for callback in trainer.checkpoint_callbacks:
                if callback.dirpath:
                    folder = Path(callback.dirpath)
            best = str(folder / self.last_checkpoint)
            trainer.save_checkpoint(best)
        self.checkpoint_path = best

    def state_dict(self) -> dict[str, Any]:
        return {
            "epoch": self.epoch,
            "step": self.step,
            "val_loss": self.val_loss,
            "epsilon": self._epsilon(0),
            "reasons": list(self.reasons),
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.epoch, self.step = state_dict["epoch"], state_dict["step"]
        self.val_loss = state_dict["val_loss"]

    # What the runner returns.

    def outcome(self) -> PhaseOutcome:
        """The phase's end: counters, reasons, and the kept checkpoint (its saved state)."""
        if self.checkpoint_path is None:
            raise RuntimeError("trainer.fit has not ended yet")
        saved = kept_state(self.checkpoint_path)
        name = Path(self.checkpoint_path).stem
        checkpoint = {
            "id": f"{name}-e{saved['epoch']}-s{saved['step']}",
            "path": self.checkpoint_path,
            "epoch": saved["epoch"],
            "step": saved["step"],
            "val_loss": saved["val_loss"],
            "epsilon": saved["epsilon"],
        }
        return PhaseOutcome(
            checkpoint=checkpoint,
            epoch=self.epoch,
            step=self.step,
            val_loss=self.val_loss,
            epsilon=self._epsilon(0),
            reasons=self.reasons,
        )

    # Internals.

    def _ask(self, trainer: pl.Trainer, metrics: dict[str, float] | None) -> None:
        metrics = with_privacy(metrics, self.budget)
        decision = self.ranks.decide(lambda: self.control.boundary(self.epoch, self.step, metrics))
        if decision.stop:
            self.stopped, self.reasons = True, decision.reasons
            trainer.should_stop = True

    def _epsilon(self, more_steps: int) -> float | None:
        return None if self.budget is None else self.budget.epsilon(more_steps)


def kept_state(path: str) -> dict[str, Any]:
    """This callback's state as saved in a Lightning checkpoint file."""
    checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    for key, state in checkpoint.get("callbacks", {}).items():
        if key.startswith(ControlCallback.__qualname__):
            return state
    return {
        "epoch": checkpoint.get("epoch", 0),
        "step": checkpoint.get("global_step", 0),
        "val_loss": math.nan,
        "epsilon": None,
        "reasons": [],
    }
