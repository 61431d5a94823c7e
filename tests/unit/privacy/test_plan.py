"""A private phase's plan: the spec's noise multiplier, or the smallest that pays for the
planned training within what its lineage left; and the step at which the budget runs out."""

import pytest

from ffwd.adapters.privacy.rdp import RdpAccountant
from ffwd.application.control import PhaseControl
from ffwd.application.leases import CountingOn
from ffwd.application.privacy import (
    PrivacyPlan,
    Sampling,
    held_out,
    phase_samplings,
    plan_privacy,
    sampling,
)
from ffwd.application.spec import DifferentialPrivacySpec, TrainingSpec

ACCOUNTANT = RdpAccountant()
SAMPLING = sampling(1350, 64)  # the sample customers' 1,350 training rows


def training(max_epochs: int = 400, **dp) -> TrainingSpec:
    return TrainingSpec(max_epochs=max_epochs, differential_privacy=DifferentialPrivacySpec(**dp))


def epsilon(plan: PrivacyPlan, steps: int, spent=()) -> float:
    return ACCOUNTANT.epsilon([*spent, (plan.sampling_rate, plan.noise_multiplier, steps)], 1e-5)


def test_the_sampling_of_a_phase() -> None:
    assert (SAMPLING.rate, SAMPLING.steps_per_epoch) == (64 / 1350, 22)
    assert held_out(1500, 0.1) == 150 and held_out(1, 0.1) == 0 and held_out(2, 0.5) == 1
    spec = TrainingSpec(batch_size=64)
    # the reference engine: one ledger at the rate of the phase's largest table
    assert phase_samplings(object(), [1500, 200], spec) == [SAMPLING]


def test_without_a_noise_multiplier_the_budget_pays_for_every_planned_epoch() -> None:
    spec = training(max_epsilon=1.0)
    plan = plan_privacy(spec.differential_privacy, spec, SAMPLING, ACCOUNTANT)
    assert plan.calibrated and plan.noise_multiplier == pytest.approx(18.02, abs=0.01)
    assert plan.last_step >= 400 * 22
    assert epsilon(plan, 400 * 22) <= 1.0
    assert plan.last_step < 401 * 22  # and hardly more: the smallest noise that pays for it


def test_planned_steps_replace_the_epoch_limit() -> None:
    spec = training(max_epsilon=1.0, planned_steps=2200)
    plan = plan_privacy(spec.differential_privacy, spec, SAMPLING, ACCOUNTANT)
    assert 2200 <= plan.last_step < 2300
    assert plan.noise_multiplier < 18


def test_an_explicit_noise_multiplier_is_kept_and_its_budget_forecast() -> None:
    spec = training(max_epsilon=3.0, noise_multiplier=2.0)
    plan = plan_privacy(spec.differential_privacy, spec, SAMPLING, ACCOUNTANT)
    assert not plan.calibrated and plan.noise_multiplier == 2.0
    assert epsilon(plan, plan.last_step) <= 3.0 < epsilon(plan, plan.last_step + 1)


def test_a_continued_phase_chooses_for_what_its_lineage_left() -> None:
    spec = training(max_epsilon=3.0)
    spent = [(SAMPLING.rate, 6.0, 100 * 22)]
    plan = plan_privacy(
        spec.differential_privacy, spec, SAMPLING, ACCOUNTANT, epoch=100, step=2200, spent=spent
    )
    assert plan.last_step >= 400 * 22  # the counter goes on: 300 more epochs are paid for
    assert epsilon(plan, 300 * 22, spent) <= 3.0


def test_a_lineage_that_left_nothing_allows_no_step() -> None:
    spec = training(max_epsilon=1.0)
    spent = [(SAMPLING.rate, 1.0, 30)]  # already far over
    plan = plan_privacy(
        spec.differential_privacy, spec, SAMPLING, ACCOUNTANT, epoch=1, step=30, spent=spent
    )
    assert plan.last_step <= 30 and plan.noise_multiplier == 1.0


def test_a_fresh_phase_no_noise_can_pay_for_is_an_error() -> None:
    spec = training(max_epsilon=0.001)
    with pytest.raises(ValueError, match="too small for this phase at any noise multiplier"):
        plan_privacy(spec.differential_privacy, spec, SAMPLING, ACCOUNTANT)


def test_an_engine_reserve_comes_off_the_budget() -> None:
    spec = training(max_epochs=10, max_epsilon=2.0)
    reserved = Sampling(SAMPLING.rate, SAMPLING.steps_per_epoch, reserved_epsilon=0.2)
    plan = plan_privacy(spec.differential_privacy, spec, reserved, ACCOUNTANT)
    assert epsilon(plan, 220) <= 1.8


def test_a_plan_shifts_to_a_control_that_counts_on() -> None:
    """A phase taken over with no kept checkpoint restarts its engine from step 0 while its
    counters go on: the control hears the plan in the phase's counting."""
    plan = PrivacyPlan(2.0, False, 0.1, 10, 50)
    control = PhaseControl(TrainingSpec(), lambda _: None)
    CountingOn(control, epochs=2, steps=20).privacy(plan)
    assert control.plan == plan.shifted(20) and control.plan.last_step == 70
    assert plan.as_dict()["noise_multiplier"] == 2.0
