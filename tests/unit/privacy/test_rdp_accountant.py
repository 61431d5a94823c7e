"""The accountant port on dp_accounting: epsilon as the library composes it, the smallest noise
multiplier a budget needs (the library's calibration), and how many steps a budget allows."""

import math

import pytest
from dp_accounting import GaussianDpEvent, PoissonSampledDpEvent
from dp_accounting.rdp import RdpAccountant as Library
from opacus.accountants import RDPAccountant as Opacus
from opacus.accountants.utils import get_noise_multiplier

from ffwd.adapters.privacy.rdp import MOST_STEPS, OPACUS_ORDERS, RdpAccountant, accounting
from ffwd.application.privacy import LARGEST_NOISE, SMALLEST_NOISE, PrivacyAccountant

Q, DELTA = 64 / 1350, 1e-5  # the sample customers: 1,350 training rows in batches of 64
ACCOUNTANT = RdpAccountant()


def library(segments, orders=None, delta: float = DELTA) -> float:
    accountant = Library(list(orders or accounting().orders))
    for q, noise, steps in segments:
        accountant.compose(PoissonSampledDpEvent(q, GaussianDpEvent(noise)), steps)
    return accountant.get_epsilon(delta)


def test_it_is_the_port() -> None:
    assert isinstance(ACCOUNTANT, PrivacyAccountant)


@pytest.mark.parametrize(
    "segments", [[(Q, 1.0, 1)], [(Q, 18.0, 8800)], [(0.05, 1.0, 40), (0.1, 1.5, 15)]]
)
def test_epsilon_is_the_library_composition(segments) -> None:
    assert ACCOUNTANT.epsilon(segments, DELTA) == pytest.approx(library(segments), rel=1e-12)
    assert ACCOUNTANT.epsilon([], DELTA) == 0.0


def test_one_step_at_noise_one_already_costs_more_than_one() -> None:
    """The issue's figure: why a fixed noise multiplier of 1 cannot train within epsilon 1."""
    assert ACCOUNTANT.epsilon([(Q, 1.0, 1)], DELTA) == pytest.approx(1.57, abs=0.01)


@pytest.mark.parametrize("budget", [0.5, 1.0, 3.0, 10.0])
def test_the_noise_for_a_budget_is_the_smallest_that_keeps_it(budget: float) -> None:
    steps = 400 * 22
    noise = ACCOUNTANT.noise_for(budget, DELTA, Q, steps)
    assert library([(Q, noise, steps)]) <= budget
    assert library([(Q, noise * 0.999, steps)]) > budget  # 0.1 % less noise would not do


def test_what_the_lineage_spent_counts() -> None:
    spent = [(Q, 5.0, 2200)]
    fresh = ACCOUNTANT.noise_for(3.0, DELTA, Q, 2200)
    after = ACCOUNTANT.noise_for(3.0, DELTA, Q, 2200, spent)
    assert after > fresh
    assert library([*spent, (Q, after, 2200)]) <= 3.0 < library([*spent, (Q, after * 0.999, 2200)])


def test_a_budget_no_noise_keeps_and_one_any_noise_keeps() -> None:
    assert ACCOUNTANT.noise_for(0.001, DELTA, Q, 22) is None  # below the conversion's floor
    assert library([(Q, LARGEST_NOISE, 22)]) > 0.001
    assert ACCOUNTANT.noise_for(1e4, DELTA, Q, 22) == SMALLEST_NOISE
    assert ACCOUNTANT.noise_for(3.0, DELTA, Q, 22, [(Q, 1.0, 10_000)]) is None  # all spent


def test_the_steps_a_budget_allows() -> None:
    steps = ACCOUNTANT.steps_within(3.0, DELTA, Q, 2.0)
    assert library([(Q, 2.0, steps)]) <= 3.0 < library([(Q, 2.0, steps + 1)])
    spent = [(Q, 2.0, 100)]
    more = ACCOUNTANT.steps_within(3.0, DELTA, Q, 2.0, spent)
    assert more == steps - 100
    assert ACCOUNTANT.steps_within(1.0, DELTA, Q, 1.0) == 0  # not even one
    assert ACCOUNTANT.steps_within(50.0, DELTA, Q, LARGEST_NOISE) == MOST_STEPS


def test_opacus_orders_give_opacus_epsilons_or_more() -> None:
    assert tuple(a for a in Opacus.DEFAULT_ALPHAS if a >= 2) == OPACUS_ORDERS
    accountant = RdpAccountant(OPACUS_ORDERS)
    for q, noise, steps in [(Q, 18.0, 8800), (Q, 1.0, 22), (0.25, 3.0, 80), (0.25, 1.0, 80)]:
        opacus = Opacus()
        opacus.history = [(noise, q, steps)]
        ours = accountant.epsilon([(q, noise, steps)], DELTA)
        assert ours >= opacus.get_epsilon(DELTA) * (1 - 1e-9)
        assert ours == pytest.approx(opacus.get_epsilon(DELTA), rel=0.01)
    # and a calibration Opacus' own agrees with, within its tolerance (0.01 in epsilon)
    ours = accountant.noise_for(1.0, DELTA, Q, 8800)
    theirs = get_noise_multiplier(target_epsilon=1.0, target_delta=DELTA, sample_rate=Q, steps=8800)
    assert ours <= theirs <= ours * 1.01
    assert math.isfinite(ours)
