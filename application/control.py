"""The training control of one phase: stop policies at every step boundary, and progress.

`boundary()` is the hot path: when nothing changed it reads two flags and the clock and
returns. The flags are set by listeners on the stored event log (a stop request for this
phase, a cancel of its generator), never by reading the store here (ADR 0007).
"""

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ffwd.application.privacy import PrivacyPlan
from ffwd.application.spec import TrainingSpec
from ffwd.application.training import CONTINUE, Decision, PhaseInterrupted
from ffwd.domain import reasons as why


@dataclass(frozen=True)
class Progress:
    epoch: int
    step: int
    elapsed_s: float
    val_loss: float | None
    epsilon: float | None
    kept: dict | None = None
    epochs: tuple[dict, ...] = ()  # a row per epoch completed since the last report


class PhaseControl:
    """Decides at each step boundary whether one phase stops, and why; reports progress."""

    def __init__(
        self,
        training: TrainingSpec,
        report: Callable[[Progress], bool | None],
        *,
        stop_requested: bool = False,
        progress_interval_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        start_epoch: int = 0,
        elapsed_before_s: float = 0.0,
        epoch_limit: int | None = None,
    ) -> None:
        """`start_epoch` and `elapsed_before_s`: where the phase was when this attempt began
        (a takeover, a resumed checkpoint): its curve and its clock go on from there, and the
        time limit counts the whole phase. `epoch_limit`: the phase's own, else the spec's."""
        self._report = report
        self._clock = clock
        self._interval = progress_interval_s
        self._max_epochs = training.max_epochs if epoch_limit is None else epoch_limit
        self._patience = training.early_stopping_patience
        self._min_delta = training.early_stopping_min_delta
        dp = training.differential_privacy
        self._max_epsilon = dp.max_epsilon if dp else math.inf
        self._started = clock() - elapsed_before_s
        limit = training.max_training_time_s
        self._deadline = self._started + limit if limit else math.inf
        self._next_report = clock() + progress_interval_s
        self._wake = min(self._deadline, self._next_report)
        self._seen_epoch: int | None = None
        self._best_val = math.inf
        self._validations_without_improvement = 0
        self._unreported_kept: dict | None = None
        self._last_row_epoch = start_epoch
        self._rows: list[dict] = []
        self.stop_requested = stop_requested
        self.release_requested = False
        self.released = False  # the last boundary handed the phase back (preemption)
        self.cancelled = False
        self.epoch = 0
        self.step = 0
        self.val_loss: float | None = None
        self.epsilon: float | None = None
        self.plan: PrivacyPlan | None = None

    def request_stop(self) -> None:
        """A stop for this phase was stored: applied at the next step boundary."""
        self.stop_requested = True

    def kept(self, checkpoint: dict) -> None:
        """The engine kept a new best checkpoint: recorded with the next progress, so that a
        worker taking this phase over resumes from it."""
        self._unreported_kept = dict(checkpoint)

    def privacy(self, plan: PrivacyPlan) -> None:
        """The engine's DP-SGD settings for this phase (its noise multiplier, and when the
        budget runs out): kept here; a control that records it (LeasedControl) stores it."""
        self.plan = plan

    def interrupt(self) -> None:
        """The generator was cancelled: the next boundary raises at once."""
        self.cancelled = True

    def request_release(self) -> None:
        """The worker is shutting down: at the next boundary the engine is told to stop, and
        the phase is handed back (released) unless a stop policy ends it there anyway."""
        self.release_requested = True
        self._wake = -math.inf  # the boundary's quick path looks at the clock: not any more

    def elapsed(self) -> float:
        return self._clock() - self._started

    def unreported_epochs(self) -> tuple[dict, ...]:
        """The rows of the epochs completed since the last report (they go with the next
        report, or with the phase's end), handed out once."""
        rows, self._rows = tuple(self._rows), []
        return rows

    def boundary(
        self, epoch: int, step: int, metrics: Mapping[str, float] | None = None
    ) -> Decision:
        if self.cancelled:
            raise PhaseInterrupted("the generator was cancelled")
        if (
            metrics is None
            and not self.stop_requested
            and epoch == self._seen_epoch
            and self._clock() < self._wake
        ):
            self.step = step
            return CONTINUE
        return self._evaluate(epoch, step, metrics or {})

    def _evaluate(self, epoch: int, step: int, metrics: Mapping[str, float]) -> Decision:
        now = self._clock()
        self.epoch, self.step, self._seen_epoch = epoch, step, epoch
        if epoch > self._last_row_epoch:
            self._row(epoch, step, now, metrics)
        reasons = []
        if self.stop_requested:
            reasons.append(why.MANUALLY_STOPPED)
        if "val_loss" in metrics and self._early_stopping(metrics["val_loss"]):
            reasons.append(why.EARLY_STOPPED)
        if "epsilon" in metrics:
            self.epsilon = metrics["epsilon"]
        if metrics.get("next_epsilon", -math.inf) > self._max_epsilon:
            reasons.append(why.PRIVACY_BUDGET_EXHAUSTED)
        if epoch >= self._max_epochs:
            reasons.append(why.MAX_EPOCHS_REACHED)
        if now >= self._deadline:
            reasons.append(why.TIME_LIMIT_REACHED)
        if reasons:
            return Decision(stop=True, reasons=tuple(reasons))
        if self.release_requested:
            self.released = True
            return Decision(stop=True)
        if now >= self._next_report:
            kept, self._unreported_kept = self._unreported_kept, None
            elapsed = now - self._started
            rows = self.unreported_epochs()
            progress = Progress(epoch, step, elapsed, self.val_loss, self.epsilon, kept, rows)
            if self._report(progress) is False:  # not stored: they go with the next one
                self._rows[:0] = rows
            self._next_report = now + self._interval
        self._wake = min(self._deadline, self._next_report)
        return CONTINUE

    def _row(self, epoch: int, step: int, now: float, metrics: Mapping[str, float]) -> None:
        """The completed epoch's row: what the engine measured at its end."""
        self._last_row_epoch = epoch
        self._rows.append(
            {
                "epoch": epoch,
                "step": step,
                "elapsed_s": round(now - self._started, 3),
                "val_loss": metrics.get("val_loss"),
                "train_loss": metrics.get("train_loss"),
                "epsilon": metrics.get("epsilon", self.epsilon),
            }
        )

    def _early_stopping(self, val_loss: float) -> bool:
        """Patience counts validations that did not improve the best loss by min_delta."""
        self.val_loss = val_loss
        if val_loss < self._best_val - self._min_delta:
            self._best_val = val_loss
            self._validations_without_improvement = 0
            return False
        self._validations_without_improvement += 1
        return self._patience is not None and (
            self._validations_without_improvement >= self._patience
        )
