"""The privacy ledger is dp_accounting's RDP accountant, cached, and cheap per step."""

from types import SimpleNamespace

import numpy as np
import pytest
from dp_accounting import GaussianDpEvent, PoissonSampledDpEvent
from dp_accounting.rdp import RdpAccountant

from ffwd.adapters.engines.reference.privacy import PrivacyLedger, add_noise, clip_factors
from ffwd.adapters.privacy import rdp
from ffwd.adapters.privacy.rdp import accounting


def library(steps_by_event: list[tuple[float, float, int]], delta: float = 1e-5) -> float:
    accountant = RdpAccountant(accounting().orders)
    for q, noise, steps in steps_by_event:
        accountant.compose(PoissonSampledDpEvent(q, GaussianDpEvent(noise)), steps)
    return accountant.get_epsilon(delta)


@pytest.mark.parametrize("steps", [1, 9, 137, 2000])
def test_epsilon_equals_the_library_composition(steps):
    ledger = PrivacyLedger(0.05, 1.1, 1e-5)
    assert ledger.epsilon(steps) == pytest.approx(library([(0.05, 1.1, steps)]), rel=1e-12)
    assert ledger.epsilon(0) == 0.0


def test_a_resumed_ledger_composes_earlier_segments():
    ledger = PrivacyLedger(0.1, 1.5, 1e-5, history=[(0.05, 1.0, 40)])
    assert ledger.epsilon(55) == pytest.approx(library([(0.05, 1.0, 40), (0.1, 1.5, 15)]))
    assert ledger.state(55)["segments"] == [[0.05, 1.0, 40], [0.1, 1.5, 15]]


def test_epsilon_per_step_is_cheap(monkeypatch):
    """One conversion of precomputed RDP per new step, never composing events again (that
    took ~80 ms a step; now ~0.2 ms). Counted, not timed: a loaded machine is slow."""
    library_calls = {"convert": 0, "compose": 0}
    real = rdp.accounting()

    def counting(name, function):
        def counted(*args, **kwargs):
            library_calls[name] += 1
            return function(*args, **kwargs)

        return counted

    spied = SimpleNamespace(
        **{
            **vars(real),
            "compute_epsilon": counting("convert", real.compute_epsilon),
            "RdpAccountant": counting("compose", real.RdpAccountant),
        }
    )
    ledger = PrivacyLedger(0.03, 1.0, 1e-5)
    monkeypatch.setattr(rdp, "accounting", lambda: spied)
    for step in range(1, 301):
        ledger.epsilon(step)
        ledger.epsilon(step + 1)
    assert library_calls == {"convert": 301, "compose": 0}


def test_clip_factors_bound_each_rows_norm():
    sq = np.array([0.25, 4.0, 100.0, 0.0])
    factors = clip_factors(sq, 1.0)
    assert factors == pytest.approx([1.0, 0.5, 0.1, 1.0])
    assert np.all(np.sqrt(sq) * factors <= 1.0 + 1e-12)


def test_noise_goes_only_where_parameters_are_real():
    grads = {"w": np.zeros((50, 50)), "b": np.zeros(50)}
    mask = np.zeros((50, 50))
    mask[:, :10] = 1
    add_noise(grads, {"w": mask}, 2.0, np.random.default_rng(0))
    assert np.all(grads["w"][:, 10:] == 0)
    assert np.std(grads["w"][:, :10]) == pytest.approx(2.0, rel=0.1)
    assert np.std(grads["b"]) == pytest.approx(2.0, rel=0.3)
