"""Differential privacy as the application sees it: the accountant port, how a phase samples
its rows, and each private phase's plan: its noise multiplier (chosen for the budget unless the
spec gives one) and the step after which the budget allows no more (ADR 0022)."""

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any, Protocol, runtime_checkable

from ffwd.application.spec import DifferentialPrivacySpec, TrainingSpec

# One stretch of DP-SGD at fixed settings: (sampling rate, noise multiplier, steps).
Segment = tuple[float, float, int]
# The noise multipliers a calibration chooses from: below the first, epsilon is astronomical
# anyway; above the last, the model learns nothing.
SMALLEST_NOISE, LARGEST_NOISE = 0.05, 1e4


@runtime_checkable
class PrivacyAccountant(Protocol):
    """Privacy spent by Poisson-sampled Gaussian steps, and the settings a budget allows."""

    def epsilon(self, segments: Sequence[Segment], delta: float) -> float:
        """Epsilon at `delta` after every segment, composed."""

    def noise_for(
        self,
        max_epsilon: float,
        delta: float,
        sampling_rate: float,
        steps: int,
        spent: Sequence[Segment] = (),
    ) -> float | None:
        """The smallest noise multiplier from SMALLEST_NOISE to LARGEST_NOISE at which `steps`
        more steps after `spent` stay within `max_epsilon`; None when none does."""

    def steps_within(
        self,
        max_epsilon: float,
        delta: float,
        sampling_rate: float,
        noise_multiplier: float,
        spent: Sequence[Segment] = (),
    ) -> int:
        """The most steps at these settings after `spent` that stay within `max_epsilon`."""


@dataclass(frozen=True)
class Sampling:
    """How one privately trained model samples its rows: each row joins a step with
    probability `rate`, an epoch is `steps_per_epoch` steps, and `reserved_epsilon` of the
    budget goes elsewhere (an engine's value protection)."""

    rate: float
    steps_per_epoch: int
    reserved_epsilon: float = 0.0


def held_out(rows: int, validation_split: float) -> int:
    """Validation rows of a table: at least one, never all (a one-row table validates on
    the row it trains on)."""
    if rows < 2:
        return 0
    return min(max(round(rows * validation_split), 1), rows - 1)


def sampling(training_rows: int, batch_size: int) -> Sampling:
    """Poisson sampling at batch_size / rows: every row is seen once per epoch in expectation."""
    rows = max(training_rows, 1)
    return Sampling(min(1.0, batch_size / rows), max(1, math.ceil(rows / batch_size)))


def phase_samplings(engine: Any, rows: Sequence[int], training: TrainingSpec) -> list[Sampling]:
    """How a phase over tables of `rows` rows samples, one entry per model with a ledger of
    its own: the engine's `privacy_samplings` if it has one, else one ledger for the phase at
    the rate of its largest table (the reference engine's)."""
    own = getattr(engine, "privacy_samplings", None)
    if own is not None:
        return list(own(rows, training))
    largest = max((r - held_out(r, training.validation_split) for r in rows), default=1)
    return [sampling(largest, training.batch_size)]


@dataclass(frozen=True)
class PrivacyPlan:
    """A private phase attempt's settings: its noise multiplier (`calibrated`: chosen for the
    budget), its sampling, and `last_step`, the step count after which the budget allows no
    more step (counted as the phase counts its steps)."""

    noise_multiplier: float
    calibrated: bool
    sampling_rate: float
    steps_per_epoch: int
    last_step: int

    def shifted(self, steps: int) -> "PrivacyPlan":
        """The same plan for a control that counts `steps` more steps than the engine."""
        return replace(self, last_step=self.last_step + steps)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def planned_steps(
    dp: DifferentialPrivacySpec, training: TrainingSpec, s: Sampling, epoch: int = 0
) -> int:
    """The steps a phase plans to train from `epoch` on: `planned_steps`, else what is left
    of its epoch limit (at least one epoch)."""
    if dp.planned_steps is not None:
        return dp.planned_steps
    return max(1, training.max_epochs - epoch) * s.steps_per_epoch


def plan_privacy(
    dp: DifferentialPrivacySpec,
    training: TrainingSpec,
    s: Sampling,
    accountant: PrivacyAccountant,
    *,
    epoch: int = 0,
    step: int = 0,
    spent: Sequence[Segment] = (),
) -> PrivacyPlan:
    """The plan of a phase at `epoch` and `step`, `spent` being its lineage's earlier
    segments: the spec's noise multiplier, or the smallest at which its planned training
    stays within what the lineage left of the budget.

    A lineage that left nothing keeps its last noise multiplier, and its plan allows no step.
    ValueError when a phase that spent nothing cannot train at any noise multiplier (the
    spec check refuses such a spec when the generator is created).
    """
    budget = dp.max_epsilon - s.reserved_epsilon
    before = sum(n for _, _, n in spent)
    taken = max(0, step - before)  # steps at these settings already (a takeover's)
    noise = dp.noise_multiplier
    if noise is None:
        wanted = taken + planned_steps(dp, training, s, epoch)
        noise = accountant.noise_for(budget, dp.delta, s.rate, wanted, spent)
        if noise is None and not spent:
            raise ValueError(
                f"differential_privacy.max_epsilon={dp.max_epsilon} is too small for this "
                f"phase at any noise multiplier up to {LARGEST_NOISE:g}"
            )
        noise = noise if noise is not None else spent[-1][1]
    allowed = accountant.steps_within(budget, dp.delta, s.rate, noise, spent) if budget > 0 else 0
    return PrivacyPlan(
        noise_multiplier=noise,
        calibrated=dp.noise_multiplier is None,
        sampling_rate=s.rate,
        steps_per_epoch=s.steps_per_epoch,
        last_step=before + allowed,
    )
