"""A private spec's budget, checked when the generator is created: an explicit noise multiplier
that cannot pay for one epoch of a phase, or a budget that no noise multiplier keeps, is refused
then, not when the phase runs (ADR 0022)."""

import math
from collections.abc import Mapping, Sequence
from typing import Any

from ffwd.application.privacy import (
    LARGEST_NOISE,
    PrivacyAccountant,
    Sampling,
    phase_samplings,
    planned_steps,
)
from ffwd.application.spec import DifferentialPrivacySpec, TrainingSpec

WHERE = "training.differential_privacy"


def budget_problems(
    training: TrainingSpec,
    phase_rows: Mapping[str, Sequence[int]],
    engine: Any,
    accountant: PrivacyAccountant,
) -> list[str]:
    """One problem per phase whose budget cannot work; `phase_rows` maps each phase to the
    row counts of its tables."""
    dp = training.differential_privacy
    if dp is None:
        return []
    own = getattr(engine, "accountant", None)  # an engine charges with its own accountant
    accountant = own if isinstance(own, PrivacyAccountant) else accountant
    problems = []
    for phase, rows in phase_rows.items():
        for s in phase_samplings(engine, rows, training):
            problem = _problem(phase, dp, training, s, accountant)
            if problem:
                problems.append(problem)
                break
    return problems


def _problem(
    phase: str,
    dp: DifferentialPrivacySpec,
    training: TrainingSpec,
    s: Sampling,
    accountant: PrivacyAccountant,
) -> str | None:
    budget = dp.max_epsilon - s.reserved_epsilon
    planned = planned_steps(dp, training, s)
    wanted = (
        f"its {planned} planned steps"
        if dp.planned_steps is not None
        else f"all {training.max_epochs} planned epochs"
    )
    reserved = (
        f", after the {s.reserved_epsilon:g} the engine reserves" if s.reserved_epsilon else ""
    )
    if dp.noise_multiplier is None:
        least = accountant.epsilon([(s.rate, LARGEST_NOISE, planned)], dp.delta)
        if least <= budget:
            return None
        return (
            f"{WHERE}.max_epsilon: {dp.max_epsilon:g} is too small for phase {phase}: no noise "
            f"multiplier up to {LARGEST_NOISE:g} keeps {wanted} within it{reserved} (they "
            f"would spend at least epsilon {least:.2g} at delta {dp.delta:g})"
        )
    noise = dp.noise_multiplier
    one = accountant.epsilon([(s.rate, noise, s.steps_per_epoch)], dp.delta)
    if one <= budget:
        return None
    for_one = accountant.noise_for(budget, dp.delta, s.rate, s.steps_per_epoch)
    for_all = accountant.noise_for(budget, dp.delta, s.rate, planned)
    return (
        f"{WHERE}.noise_multiplier: {noise:g} cannot pay for one epoch of phase {phase} within "
        f"max_epsilon {dp.max_epsilon:g}{reserved} (one epoch would spend epsilon {one:.3g} at "
        f"delta {dp.delta:g}); the smallest noise multiplier for one epoch is "
        f"{_noise(for_one)}, for {wanted} {_noise(for_all)}; or leave noise_multiplier out to "
        "have it chosen for the budget"
    )


def _noise(value: float | None) -> str:
    """A noise multiplier rounded up (a rounded-down one would not pay), or why none."""
    if value is None:
        return f"none up to {LARGEST_NOISE:g}"
    return f"{math.ceil(value * 100) / 100:g}"
