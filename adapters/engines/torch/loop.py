"""Any plain PyTorch training loop as a runner: ask the control after every optimizer step,
keep the best checkpoint, resume from one (ADR 0015).

    loop = ControlledLoop(job, control, model, optimizer, store)
    for _ in loop.epochs():
        for x, y in batches:
            optimizer.zero_grad()
            loss_fn(model(x), y).backward()
            optimizer.step()
            if loop.after_step(train_loss=...):
                break
        else:
            loop.after_epoch(val_loss=validate(model))
    return loop.outcome()

Under `torch.distributed` (DDP), every rank runs the same loop; rank 0 passes the phase's
control and the others None. Rank 0 decides at each boundary and every rank follows at the
same step (ADR 0026); rank 0 alone writes checkpoints, and every rank returns the same outcome.
"""

import math
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch

from ffwd.adapters.checkpoints import phase_dir, safe_component
from ffwd.adapters.engines.torch.privacy import OpacusBudget, with_privacy
from ffwd.adapters.engines.torch.ranks import Ranks
from ffwd.application.training import Control, PhaseJob, PhaseOutcome, checkpoint_id


class TorchCheckpoints:
    """Checkpoints as `torch.save` files: `{root}/{engine}/{generator}/{phase}/{id}.pt`."""

    def __init__(self, root: str, engine: str) -> None:
        self.root = Path(root) / safe_component(engine, "engine name")

    def folder(self, generator_id: str, phase_id: str) -> Path:
        return self.root / safe_component(generator_id, "generator id") / phase_dir(phase_id)

    def path(self, generator_id: str, phase_id: str, checkpoint_id: str) -> Path:
        name = safe_component(checkpoint_id, "checkpoint id")
        return self.folder(generator_id, phase_id) / f"{name}.pt"

    def save(self, generator_id: str, phase_id: str, checkpoint_id: str, state: dict) -> None:
        path = self.path(generator_id, phase_id, checkpoint_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(f".{path.name}.tmp")
        torch.save(state, temp)
        temp.replace(path)

    def load(self, generator_id: str, phase_id: str, checkpoint_id: str) -> dict[str, Any]:
        path = self.path(generator_id, phase_id, checkpoint_id)
        if not path.is_file():
            raise FileNotFoundError(
                f"no checkpoint {checkpoint_id} for phase {phase_id} of {generator_id}"
            )
        return torch.load(path, map_location="cpu", weights_only=False)

    def delete(self, generator_id: str, phase_id: str, checkpoint_id: str) -> None:
        self.path(generator_id, phase_id, checkpoint_id).unlink(missing_ok=True)

    def discard(self, generator_id: str) -> None:
        shutil.rmtree(self.root / safe_component(generator_id, "generator id"), ignore_errors=True)


class ControlledLoop:
    """Counts epochs and steps, asks the control at every step boundary, keeps the best
    checkpoint by validation loss, and resumes from `job.resume_from`.

    With `privacy` (Opacus), the control also gets `epsilon` and `next_epsilon` at every
    boundary, so the privacy-budget policy stops before a step would exceed the budget; a
    first step that alone would exceed it raises ValueError before it is taken. Make the
    loader private with `calibrated_noise(job, loader, resumed)`: the spec's noise multiplier,
    or the one its budget needs.
    `extra` adds the caller's own state to every checkpoint (vocabularies, encoders).
    """

    def __init__(
        self,
        job: PhaseJob,
        control: Control | None,
        model: torch.nn.Module,
        optimizer: torch.optim.Optimizer,
        store: TorchCheckpoints,
        *,
        privacy: OpacusBudget | None = None,
        extra: Callable[[], dict[str, Any]] | None = None,
        ranks: Ranks | None = None,
    ) -> None:
        self.ranks = ranks or Ranks()
        if control is None and self.ranks.leader:
            raise ValueError("rank 0 (or a single process) needs the phase's control")
        self.job, self.control, self.store = job, control, store
        self.model, self.optimizer, self.privacy = model, optimizer, privacy
        self.extra = extra or dict
        dp = job.training.differential_privacy
        self.max_epsilon = dp.max_epsilon if dp else math.inf
        self.epoch = self.step = 0
        self.stopped = False
        self.reasons: tuple[str, ...] = ()
        self.val_loss: float | None = None
        self._losses: list[float] = []  # this epoch's training losses, for its curve row
        self.kept: dict[str, Any] | None = None
        if job.resume_from:
            self._resume(job.resume_from)
        self._first_step = self.step

    def epochs(self) -> Iterator[int]:
        """Epoch numbers (completed epochs so far) until the control says stop."""
        self._announce_privacy()
        self._check_budget()
        while not self.stopped:
            yield self.epoch

    def after_step(self, train_loss: float | None = None) -> bool:
        """Call after every optimizer step: True when the loop must stop now. `train_loss`
        goes into the epoch's row of the curve as the mean over the epoch's steps."""
        self.step += 1
        if train_loss is not None:
            self._losses.append(float(train_loss))
        return self._ask(None)

    def after_epoch(self, val_loss: float | None = None) -> bool:
        """Call when an epoch's steps are done: counts it, keeps the model if its validation
        loss is the best so far, and asks the control with it. True when the loop must stop."""
        self.epoch += 1
        metrics: dict[str, float] = {}
        if self._losses:
            metrics["train_loss"] = math.fsum(self._losses) / len(self._losses)
            self._losses = []
        val_loss = self.ranks.leaders(val_loss)  # every rank keeps what rank 0 keeps
        if val_loss is not None:
            self.val_loss = float(val_loss)
            metrics["val_loss"] = self.val_loss
            if self.kept is None or _better(self.val_loss, self.kept["val_loss"]):
                self._keep()
        return self._ask(metrics or None)

    def outcome(self) -> PhaseOutcome:
        """How the phase ended; the latest model is kept when no validation ran yet."""
        if self.kept is None:
            self._keep()
        return PhaseOutcome(
            checkpoint=dict(self.kept),
            epoch=self.epoch,
            step=self.step,
            val_loss=self.val_loss,
            epsilon=self._epsilon(0),
            reasons=self.reasons,
        )

    # Internals.

    def _ask(self, metrics: dict[str, float] | None) -> bool:
        metrics = with_privacy(metrics, self.privacy)
        decision = self.ranks.decide(lambda: self.control.boundary(self.epoch, self.step, metrics))
        if decision.stop:
            self.stopped, self.reasons = True, decision.reasons
        return decision.stop

    def _epsilon(self, more_steps: int) -> float | None:
        return None if self.privacy is None else self.privacy.epsilon(more_steps)

    def _announce_privacy(self) -> None:
        """Tell a control that records it the loop's noise multiplier and when its budget
        runs out (the view's forecast)."""
        planned = getattr(self.control, "privacy", None)
        dp = self.job.training.differential_privacy
        if self.privacy is None or planned is None or dp is None or not self.ranks.leader:
            return
        planned(self.privacy.plan(self.max_epsilon, dp.noise_multiplier is None, self.step))

    def _check_budget(self) -> None:
        if self.privacy is not None and self._epsilon(1) > self.max_epsilon:
            raise ValueError(
                f"differential_privacy.max_epsilon={self.max_epsilon} does not allow one more "
                f"training step (epsilon after it: {self._epsilon(1):.3g})"
            )

    def _keep(self) -> None:
        kept_id = checkpoint_id(self.job, self.epoch, self.step)
        previous, self.kept = (
            self.kept,
            {
                "id": kept_id,
                "epoch": self.epoch,
                "step": self.step,
                "val_loss": self.val_loss,
                "epsilon": self._epsilon(0),
            },
        )
        if not self.ranks.leader:
            return
        state = {
            "model": _module(self.model).state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "checkpoint": self.kept,
            "extra": self.extra(),
        }
        if self.privacy is not None:
            state["accountant"] = self.privacy.accountant.state_dict()
        job = self.job
        self.store.save(job.generator_id, job.phase_id, kept_id, state)
        if previous is not None and previous["id"] != kept_id:
            self.store.delete(job.generator_id, job.phase_id, previous["id"])
        told = getattr(self.control, "kept", None)
        if told is not None:
            told(dict(self.kept))

    def _resume(self, parent: dict[str, Any]) -> None:
        state = self.store.load(parent["generator"], self.job.phase_id, parent["id"])
        if self.privacy is not None and "accountant" not in state:
            raise ValueError(
                "a checkpoint trained without differential privacy cannot continue with it: "
                "its privacy is already unbounded"
            )
        _module(self.model).load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.privacy is not None:
            self.privacy.accountant.load_state_dict(state["accountant"])
        saved = state["checkpoint"]
        self.epoch, self.step, self.val_loss = saved["epoch"], saved["step"], saved["val_loss"]
        # the resumed model is the best so far until an epoch beats it: a copy of it is this
        # generator's first kept checkpoint
        if self.ranks.leader:
            self.store.save(self.job.generator_id, self.job.phase_id, saved["id"], state)
        self.kept = dict(saved)


def _better(val_loss: float, kept: float | None) -> bool:
    if kept is None or math.isnan(kept):
        return not math.isnan(val_loss)
    return val_loss < kept


def _module(model: torch.nn.Module) -> torch.nn.Module:
    """The plain module under DistributedDataParallel and under an Opacus GradSampleModule
    (`_module`), so checkpoints load anywhere."""
    if isinstance(model, torch.nn.parallel.DistributedDataParallel):
        return _module(model.module)
    return getattr(model, "_module", model)
