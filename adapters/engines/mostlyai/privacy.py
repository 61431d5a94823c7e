"""The engine's privacy spend, step by step, so a phase stops before its budget runs out; and
how the engine samples, so that its noise can be chosen for the budget (ADR 0022).

The engine reports epsilon only with its progress messages (at epoch ends); it accounts with
Opacus' RDP accountant over Poisson-sampled batches (sample rate 1 / batches per epoch) and
adds the epsilon its analysis spent on value protection. The same sums here give epsilon after
any step; the relay checks them against every epsilon the engine reports.
"""

import copy
import math
from pathlib import Path

from ffwd.application.privacy import Sampling, Segment


class EngineEpsilon:
    """Epsilon after `steps` optimizer steps of this run (plus a resumed accountant's)."""

    def __init__(
        self,
        noise_multiplier: float,
        sample_rate: float,
        delta: float,
        spent_before: float,
        history: list[Segment] | None = None,
    ) -> None:
        from opacus.accountants import RDPAccountant

        self.noise_multiplier, self.sample_rate = noise_multiplier, sample_rate
        self.delta, self.spent_before = delta, spent_before
        self._base = RDPAccountant()
        self._base.history = [(noise, q, n) for q, noise, n in history or []]
        self._cache: dict[int, float] = {}

    def __call__(self, steps: int) -> float:
        if steps not in self._cache:
            if len(self._cache) > 4:
                self._cache.clear()
            accountant = copy.deepcopy(self._base)
            if steps > 0:
                accountant.history.append((self.noise_multiplier, self.sample_rate, steps))
            spent = accountant.get_epsilon(self.delta) if accountant.history else 0.0
            self._cache[steps] = spent + self.spent_before
        return self._cache[steps]


def sample_rate(training_rows: int, batch_size: int) -> float:
    """The engine's Poisson sampling rate: one over its batches per epoch (no accumulation)."""
    batch = max(1, min(batch_size, training_rows))
    return 1 / max(1, math.ceil(training_rows / batch))


def engine_sampling(training_rows: int, batch_size: int, reserved_epsilon: float) -> Sampling:
    """How the engine samples under DP: Poisson at one over its batches, an epoch being as many
    whole batches as its training rows fill, and the epsilon its value protection spends."""
    batch = max(1, min(batch_size, training_rows))
    steps = max(1, training_rows // batch)
    return Sampling(sample_rate(training_rows, batch_size), steps, reserved_epsilon)


def resumed_history(path: Path | None) -> list[Segment]:
    """The segments of a resumed engine's privacy accountant (its saved Opacus state)."""
    if path is None or not path.is_file():
        return []
    import torch

    state = torch.load(path, weights_only=False)
    return [(float(q), float(noise), int(n)) for noise, q, n in state.get("history", [])]
