"""Privacy spent by an Opacus-trained loop, now and after more steps, for the control's
privacy-budget policy (`metrics["epsilon"]`, `metrics["next_epsilon"]`)."""

import copy
from dataclasses import dataclass, field

from opacus import PrivacyEngine
from opacus.accountants import IAccountant


@dataclass
class OpacusBudget:
    """Epsilon of an Opacus accountant at `delta`, and what `more_steps` steps would make it.

    Build it with `OpacusBudget.of(privacy_engine, optimizer, data_loader, delta)` from what
    `make_private` returned (Poisson sampling: the data loader knows its sample rate).
    """

    accountant: IAccountant
    noise_multiplier: float
    sample_rate: float
    delta: float
    _cache: dict = field(default_factory=dict, init=False, repr=False)

    @classmethod
    def of(cls, engine: PrivacyEngine, optimizer, data_loader, delta: float) -> "OpacusBudget":
        """From a PrivacyEngine and the DPOptimizer and DPDataLoader its `make_private` made."""
        return cls(engine.accountant, optimizer.noise_multiplier, data_loader.sample_rate, delta)

    def epsilon(self, more_steps: int = 0) -> float:
        steps = sum(n for _, _, n in getattr(self.accountant, "history", []))
        key = (steps, more_steps)
        if key not in self._cache:
            if len(self._cache) > 8:
                self._cache.clear()
            accountant = self.accountant
            if more_steps:
                accountant = copy.deepcopy(accountant)
                for _ in range(more_steps):
                    accountant.step(
                        noise_multiplier=self.noise_multiplier, sample_rate=self.sample_rate
                    )
            has_history = bool(getattr(accountant, "history", True))
            self._cache[key] = accountant.get_epsilon(self.delta) if has_history else 0.0
        return self._cache[key]


def with_privacy(
    metrics: dict[str, float] | None, budget: OpacusBudget | None
) -> dict[str, float] | None:
    """`metrics` and, with a budget, the privacy spent now and after one more step: what the
    control's privacy-budget policy reads at a step boundary."""
    if budget is None:
        return metrics
    return (metrics or {}) | {"epsilon": budget.epsilon(0), "next_epsilon": budget.epsilon(1)}
