"""DP-SGD helpers: per-row clipping factors, Gaussian noise, and the privacy ledger."""

from typing import Any

import numpy as np

from ffwd.adapters.privacy.rdp import RdpAccountant


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
    """Privacy spent by a phase's DP-SGD steps, cached per step count: the accountant's
    epsilon of every earlier segment (a resumed checkpoint trained with other settings) and
    of this one (exactly `RdpAccountant(orders).compose(event, n).get_epsilon(delta)`)."""

    def __init__(
        self,
        sampling_rate: float,
        noise_multiplier: float,
        delta: float,
        history=(),
        accountant: RdpAccountant | None = None,
    ) -> None:
        self.accountant = accountant or RdpAccountant()
        self.delta = delta
        self.sampling_rate = min(1.0, sampling_rate)
        self.noise_multiplier = noise_multiplier
        self.history = [(float(q), float(s), int(n)) for q, s, n in history]
        self.base_steps = sum(n for _, _, n in self.history)
        self._base_rdp = self.accountant.rdp(self.history)
        self._step_rdp = self.accountant.unit(self.sampling_rate, noise_multiplier)
        self._cache: dict[int, float] = {}

    def epsilon(self, steps: int) -> float:
        """Epsilon after `steps` steps in total (those of earlier segments included)."""
        if steps <= 0:
            return 0.0
        if steps not in self._cache:
            if len(self._cache) > 1024:
                self._cache.clear()
            now = max(steps - self.base_steps, 0)
            rdp = self._base_rdp + now * self._step_rdp
            self._cache[steps] = self.accountant.epsilon_of_rdp(rdp, self.delta)
        return self._cache[steps]

    def state(self, steps: int) -> dict[str, Any]:
        """What a checkpoint keeps to recompute epsilon: every segment's q, noise, steps."""
        now = steps - self.base_steps
        segments = [*self.history, (self.sampling_rate, self.noise_multiplier, now)]
        return {"delta": self.delta, "segments": [list(s) for s in segments if s[2] > 0]}
