"""Privacy with Opacus in a PyTorch loop: the noise multiplier a phase's budget needs
(`calibrated_noise`), and the privacy spent now and after more steps, for the control's
privacy-budget policy (`metrics["epsilon"]`, `metrics["next_epsilon"]`)."""

import copy
from dataclasses import dataclass, field
from typing import Any

from opacus import PrivacyEngine
from opacus.accountants import IAccountant

from ffwd.adapters.privacy.rdp import OPACUS_ORDERS, RdpAccountant
from ffwd.application.privacy import PrivacyPlan, Sampling, Segment, plan_privacy
from ffwd.application.training import PhaseJob


def opacus_accountant() -> RdpAccountant:
    """dp_accounting's RDP accountant at Opacus' orders: Opacus' epsilons (ADR 0022)."""
    return RdpAccountant(OPACUS_ORDERS)


def segments(accountant: IAccountant) -> list[Segment]:
    """An Opacus RDP accountant's history, (noise, rate, steps) each, as our segments."""
    return [(float(q), float(noise), int(n)) for noise, q, n in getattr(accountant, "history", [])]


def calibrated_noise(
    job: PhaseJob, data_loader: Any, resumed: dict[str, Any] | None = None
) -> float:
    """The noise multiplier to make `data_loader` private with: the spec's, or the smallest at
    which the phase's planned training (its epoch limit, or `planned_steps`) stays within what
    its lineage left of the budget, at the Poisson rate Opacus gives the loader (one over its
    batches). `resumed`: the state of the checkpoint the phase resumes from (with its
    accountant), e.g. `TorchCheckpoints.load(...)`."""
    dp = job.training.differential_privacy
    if dp is None:
        raise ValueError("the phase trains without differential privacy: no noise to choose")
    batches = max(1, len(data_loader))
    saved = (resumed or {}).get("checkpoint", {})
    history = (resumed or {}).get("accountant", {}).get("history", [])
    plan = plan_privacy(
        dp,
        job.training,
        Sampling(1 / batches, batches),
        opacus_accountant(),
        epoch=saved.get("epoch", 0),
        step=saved.get("step", 0),
        spent=[(float(q), float(noise), int(n)) for noise, q, n in history],
    )
    return plan.noise_multiplier


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
    steps_per_epoch: int | None = None
    _cache: dict = field(default_factory=dict, init=False, repr=False)

    @classmethod
    def of(cls, engine: PrivacyEngine, optimizer, data_loader, delta: float) -> "OpacusBudget":
        """From a PrivacyEngine and the DPOptimizer and DPDataLoader its `make_private` made."""
        return cls(
            engine.accountant,
            optimizer.noise_multiplier,
            data_loader.sample_rate,
            delta,
            len(data_loader),
        )

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

    def plan(self, max_epsilon: float, calibrated: bool, step: int) -> PrivacyPlan:
        """The loop's settings and the step count (`step` now) after which the budget allows
        no more step: the forecast the view shows."""
        spent = segments(self.accountant)
        allowed = opacus_accountant().steps_within(
            max_epsilon, self.delta, self.sample_rate, self.noise_multiplier, spent
        )
        per_epoch = self.steps_per_epoch or max(1, round(1 / self.sample_rate))
        return PrivacyPlan(
            self.noise_multiplier, calibrated, self.sample_rate, per_epoch, step + allowed
        )


def with_privacy(
    metrics: dict[str, float] | None, budget: OpacusBudget | None
) -> dict[str, float] | None:
    """`metrics` and, with a budget, the privacy spent now and after one more step: what the
    control's privacy-budget policy reads at a step boundary."""
    if budget is None:
        return metrics
    return (metrics or {}) | {"epsilon": budget.epsilon(0), "next_epsilon": budget.epsilon(1)}
