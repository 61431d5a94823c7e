"""DP-SGD helpers: per-row clipping factors, Gaussian noise, and the privacy ledger."""

import functools
from types import SimpleNamespace
from typing import Any

import numpy as np


@functools.cache
def accounting() -> SimpleNamespace:
    """dp_accounting, imported on first use: with scipy it takes seconds to import, which
    every command that trains without DP (or does not train) would otherwise pay."""
    from dp_accounting import GaussianDpEvent, PoissonSampledDpEvent
    from dp_accounting.rdp import RdpAccountant
    from dp_accounting.rdp.rdp_privacy_accountant import DEFAULT_RDP_ORDERS, compute_epsilon

    return SimpleNamespace(
        GaussianDpEvent=GaussianDpEvent,
        PoissonSampledDpEvent=PoissonSampledDpEvent,
        RdpAccountant=RdpAccountant,
        compute_epsilon=compute_epsilon,
        # The library's orders from 2 up: the ones below only matter for epsilons above ~20,
        # and at sampling rates near 0.1 its series for them fails to converge (warning each).
        orders=[order for order in DEFAULT_RDP_ORDERS if order >= 2],
    )


def clip_factors(sq_norms: np.ndarray, max_grad_norm: float) -> np.ndarray:
    """Scale each row's gradient down to norm <= max_grad_norm."""
    norms = np.sqrt(np.maximum(sq_norms, 0.0))
    return np.minimum(1.0, max_grad_norm / np.maximum(norms, 1e-12))


def add_noise(
    grads: dict[str, np.ndarray],
    masks: dict[str, np.ndarray],
    std: float,
    rng: np.random.Generator,
) -> None:
    """Add N(0, std^2) to every real parameter's gradient, in place."""
    for key, g in grads.items():
        noise = rng.standard_normal(g.shape) * std
        if key in masks:
            noise *= masks[key]
        g += noise.astype(g.dtype, copy=False)


class PrivacyLedger:
    """Privacy spent by DP-SGD steps, from dp_accounting's RDP accountant.

    Each step is `PoissonSampledDpEvent(q, GaussianDpEvent(noise_multiplier))`. Computing
    an event's RDP takes the library ~50-80 ms, so it is computed once per (q, noise) and
    composing n steps is the library's own `n * rdp` before its `compute_epsilon`: exactly
    `RdpAccountant(orders).compose(event, n).get_epsilon(delta)`, at ~0.2 ms. Earlier segments
    (a resumed checkpoint trained with other settings) compose the same way.
    """

    def __init__(
        self, sampling_rate: float, noise_multiplier: float, delta: float, history=()
    ) -> None:
        self.delta = delta
        self.sampling_rate = min(1.0, sampling_rate)
        self.noise_multiplier = noise_multiplier
        self.history = [(float(q), float(s), int(n)) for q, s, n in history]
        self.base_steps = sum(n for _, _, n in self.history)
        unit = self._unit(self.sampling_rate, noise_multiplier)
        self._orders, self._step_rdp = unit.orders, unit.rdp
        self._base_rdp = sum((n * self._unit(q, s).rdp for q, s, n in self.history), 0.0)
        self._cache: dict[int, float] = {}

    @staticmethod
    def _unit(q: float, noise_multiplier: float) -> Any:
        dp = accounting()
        accountant = dp.RdpAccountant(dp.orders)
        accountant.compose(dp.PoissonSampledDpEvent(q, dp.GaussianDpEvent(noise_multiplier)))
        return accountant

    def epsilon(self, steps: int) -> float:
        """Epsilon after `steps` steps in total (those of earlier segments included)."""
        if steps <= 0:
            return 0.0
        if steps not in self._cache:
            if len(self._cache) > 1024:
                self._cache.clear()
            now = max(steps - self.base_steps, 0)
            rdp = self._base_rdp + now * self._step_rdp
            epsilon = accounting().compute_epsilon(self._orders, rdp, self.delta)[0]
            self._cache[steps] = float(epsilon)
        return self._cache[steps]

    def state(self, steps: int) -> dict[str, Any]:
        """What a checkpoint keeps to recompute epsilon: every segment's q, noise, steps."""
        now = steps - self.base_steps
        segments = [*self.history, (self.sampling_rate, self.noise_multiplier, now)]
        return {"delta": self.delta, "segments": [list(s) for s in segments if s[2] > 0]}
