"""The privacy accountant on dp_accounting's RDP accountant: epsilon of DP-SGD segments, the
noise multiplier a budget needs (the library's `calibrate_dp_mechanism`), and how many steps it
allows (ADR 0009, ADR 0022). dp_accounting (and scipy) load on first use."""

import functools
import math
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

from ffwd.application.privacy import LARGEST_NOISE, SMALLEST_NOISE, Segment

MOST_STEPS = 10**9  # "as many as anyone trains": the forecast of a budget that never runs out
_LOG_TOLERANCE = 1e-4  # a chosen noise multiplier is within 0.01 % of the smallest


@functools.cache
def accounting() -> SimpleNamespace:
    """dp_accounting, imported on first use: with scipy it takes about a second to import,
    which every command that trains without DP (or does not train) would otherwise pay."""
    from dp_accounting import (
        ComposedDpEvent,
        GaussianDpEvent,
        PoissonSampledDpEvent,
        SelfComposedDpEvent,
    )
    from dp_accounting.mechanism_calibration import ExplicitBracketInterval, calibrate_dp_mechanism
    from dp_accounting.rdp import RdpAccountant as Library
    from dp_accounting.rdp.rdp_privacy_accountant import DEFAULT_RDP_ORDERS, compute_epsilon

    return SimpleNamespace(
        ComposedDpEvent=ComposedDpEvent,
        GaussianDpEvent=GaussianDpEvent,
        PoissonSampledDpEvent=PoissonSampledDpEvent,
        SelfComposedDpEvent=SelfComposedDpEvent,
        ExplicitBracketInterval=ExplicitBracketInterval,
        calibrate_dp_mechanism=calibrate_dp_mechanism,
        RdpAccountant=Library,
        compute_epsilon=compute_epsilon,
        # The library's orders from 2 up: the ones below only matter for epsilons above ~20,
        # and at sampling rates near 0.1 its series for them fails to converge (warning each).
        orders=tuple(order for order in DEFAULT_RDP_ORDERS if order >= 2),
    )


# Opacus' RDP orders (`RDPAccountant.DEFAULT_ALPHAS`) from 2 up, spelled out so that choosing
# the noise for an engine that Opacus accounts for imports no torch. With them this accountant
# gives Opacus' epsilons, or higher where Opacus' orders below 2 would have lowered them
# (epsilons above ~20): a noise multiplier chosen with them is never too small for Opacus.
OPACUS_ORDERS = tuple([1 + x / 10 for x in range(10, 100)] + list(range(12, 64)))


class RdpAccountant:
    """The `PrivacyAccountant` port: each step is `PoissonSampledDpEvent(q,
    GaussianDpEvent(noise_multiplier))`, composed by dp_accounting's `RdpAccountant`.

    One event's RDP costs the library ~20-80 ms, so it is computed once per (q, noise) and n
    steps are the library's own `n * rdp` before its `compute_epsilon` (~0.2 ms).
    """

    def __init__(self, orders: Sequence[float] | None = None) -> None:
        self._orders = None if orders is None else tuple(orders)

    @property
    def orders(self) -> tuple[float, ...]:
        return self._orders if self._orders is not None else accounting().orders

    def unit(self, sampling_rate: float, noise_multiplier: float) -> Any:
        """The RDP of one step at these settings, per order."""
        return _unit(self.orders, float(sampling_rate), float(noise_multiplier))

    def rdp(self, segments: Sequence[Segment]) -> Any:
        return sum((int(n) * self.unit(q, s) for q, s, n in segments if n > 0), 0.0)

    def epsilon_of_rdp(self, rdp: Any, delta: float) -> float:
        if not hasattr(rdp, "__len__"):
            return 0.0  # no step taken
        return float(accounting().compute_epsilon(self.orders, rdp, delta)[0])

    def epsilon(self, segments: Sequence[Segment], delta: float) -> float:
        return self.epsilon_of_rdp(self.rdp(segments), delta)

    def noise_for(
        self,
        max_epsilon: float,
        delta: float,
        sampling_rate: float,
        steps: int,
        spent: Sequence[Segment] = (),
    ) -> float | None:
        def after(noise: float) -> float:
            return self.epsilon([*spent, (sampling_rate, noise, steps)], delta)

        if max_epsilon <= 0 or after(LARGEST_NOISE) > max_epsilon:
            return None
        if after(SMALLEST_NOISE) <= max_epsilon:
            return SMALLEST_NOISE
        dp = accounting()

        def event(log_noise: float) -> Any:
            step = dp.PoissonSampledDpEvent(sampling_rate, dp.GaussianDpEvent(math.exp(log_noise)))
            earlier = [
                dp.SelfComposedDpEvent(dp.PoissonSampledDpEvent(q, dp.GaussianDpEvent(s)), n)
                for q, s, n in spent
                if n > 0
            ]
            return dp.ComposedDpEvent([*earlier, dp.SelfComposedDpEvent(step, steps)])

        log_noise = dp.calibrate_dp_mechanism(
            lambda: dp.RdpAccountant(self.orders),
            event,
            max_epsilon,
            delta,
            dp.ExplicitBracketInterval(math.log(SMALLEST_NOISE), math.log(LARGEST_NOISE)),
            tol=_LOG_TOLERANCE,
        )
        return math.exp(log_noise)

    def steps_within(
        self,
        max_epsilon: float,
        delta: float,
        sampling_rate: float,
        noise_multiplier: float,
        spent: Sequence[Segment] = (),
    ) -> int:
        base, unit = self.rdp(spent), self.unit(sampling_rate, noise_multiplier)

        def fits(steps: int) -> bool:
            return self.epsilon_of_rdp(base + steps * unit, delta) <= max_epsilon

        if not fits(1):
            return 0
        if fits(MOST_STEPS):
            return MOST_STEPS
        low, high = 1, MOST_STEPS  # fits(low), not fits(high)
        while high - low > 1:
            middle = (low + high) // 2
            low, high = (middle, high) if fits(middle) else (low, middle)
        return low


@functools.lru_cache(maxsize=256)
def _unit(orders: tuple[float, ...], sampling_rate: float, noise_multiplier: float) -> Any:
    dp = accounting()
    accountant = dp.RdpAccountant(list(orders))
    accountant.compose(
        dp.PoissonSampledDpEvent(sampling_rate, dp.GaussianDpEvent(noise_multiplier))
    )
    return accountant.rdp
