"""A trainable phase: groups of models over shared rows, one optimizer, one step at a time."""

from dataclasses import dataclass
from typing import Any

import numpy as np

from ffwd.adapters.engines.reference.chars import Sequences
from ffwd.adapters.engines.reference.optim import Adam
from ffwd.adapters.engines.reference.privacy import add_noise, clip_factors
from ffwd.adapters.engines.reference.tabular import TableModel
from ffwd.adapters.engines.reference.text import CharModel
from ffwd.application.privacy import held_out, sampling
from ffwd.application.spec import DifferentialPrivacySpec

Model = TableModel | CharModel


@dataclass
class Group:
    """Models that learn from the same rows: one table's tabular model, or its text models.

    A row is the unit of privacy: under DP its gradient over all the group's models is
    clipped as one.
    """

    table: str
    models: list[Model]
    data: list[np.ndarray | Sequences]
    train_rows: np.ndarray
    val_rows: np.ndarray

    def params(self) -> dict[str, np.ndarray]:
        return {k: v for m in self.models for k, v in m.params.items()}

    def validation_losses(self) -> list[float]:
        rows = self.val_rows if len(self.val_rows) else self.train_rows
        return [m.validation_loss(d, rows) for m, d in zip(self.models, self.data, strict=True)]


def split_rows(n: int, fraction: float, seed: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Train and validation rows, a seeded shuffle; a one-row table validates on itself."""
    order = np.random.default_rng(seed).permutation(n)
    if n < 2:
        return order, order
    held = held_out(n, fraction)
    return np.sort(order[held:]), np.sort(order[:held])


class Stream:
    """Shuffled mini-batches of row positions, reshuffled when exhausted."""

    def __init__(self, size: int, batch_size: int) -> None:
        self.size, self.batch_size = size, batch_size
        self.order, self.at = np.arange(size), size

    def restart(self, rng: np.random.Generator) -> None:
        self.order, self.at = rng.permutation(self.size), 0

    def next(self, rng: np.random.Generator) -> np.ndarray:
        if self.at >= self.size:
            self.restart(rng)
        batch = self.order[self.at : self.at + self.batch_size]
        self.at += self.batch_size
        return batch


class Phase:
    """Every group's models trained together: each step updates all of them, one mini-batch
    per group. An epoch is as many steps as the largest group needs to see its rows once."""

    def __init__(self, groups: list[Group], batch_size: int, learning_rate: float) -> None:
        self.groups = groups
        largest = max((len(g.train_rows) for g in groups), default=1)
        # Poisson sampling with one rate for all groups: every row is seen once per epoch
        # in expectation, and one accountant covers the whole phase.
        self.sampling = sampling(largest, batch_size)
        self.steps_per_epoch = self.sampling.steps_per_epoch
        self.sampling_rate = self.sampling.rate
        self.params = {k: v for g in groups for k, v in g.params().items()}
        self.masks = {k: v for g in groups for m in g.models for k, v in m.noise_masks().items()}
        models = [m for g in groups for m in g.models]
        scales = {k: m.lr_scale for m in models for k in m.params}
        decay = {k: v for m in models for k, v in m.weight_decay().items()}
        self.optimizer = Adam(self.params, learning_rate, scales, decay)
        self.streams = [Stream(len(g.train_rows), batch_size) for g in groups]

    def start_epoch(self, rng: np.random.Generator) -> None:
        for stream in self.streams:
            stream.restart(rng)

    def step(self, rng: np.random.Generator, dp: DifferentialPrivacySpec | None) -> float:
        """One optimizer step over every group; the mean training loss of its batches."""
        grads: dict[str, np.ndarray] = {}
        losses: list[float] = []
        for group, stream in zip(self.groups, self.streams, strict=True):
            if dp is None:
                rows = group.train_rows[stream.next(rng)]
            else:
                rows = group.train_rows[rng.random(len(group.train_rows)) < self.sampling_rate]
            group_grads, group_losses = self._group_grads(group, rows, dp, rng)
            grads |= group_grads
            losses += group_losses
        self.optimizer.update(grads)
        return float(np.mean(losses)) if losses else 0.0

    def _group_grads(self, group: Group, rows, dp, rng) -> tuple[dict, list[float]]:
        batches = [m.forward(d, rows) for m, d in zip(group.models, group.data, strict=True)]
        losses = [b.loss for b in batches] if len(rows) else []
        grads: dict[str, np.ndarray] = {}
        if dp is None:
            for b in batches:
                grads |= b.grads(b.mean_weights())
            return grads, losses
        expected = self.sampling_rate * len(group.train_rows)
        if len(rows):
            sq = sum(b.sq_norms() for b in batches)
            weights = clip_factors(sq, dp.max_grad_norm) / expected
            for b in batches:
                grads |= b.grads(weights)
        else:  # no row sampled: the step is noise alone
            grads = {k: np.zeros_like(v) for k, v in group.params().items()}
        add_noise(grads, self.masks, dp.noise_multiplier * dp.max_grad_norm / expected, rng)
        return grads, losses

    def validation_loss(self) -> float:
        """Mean over the phase's models (tables, or text columns) of their validation loss."""
        losses = [loss for g in self.groups for loss in g.validation_losses()]
        return float(np.mean(losses)) if losses else 0.0

    def arrays(self) -> dict[str, np.ndarray]:
        arrays = dict(self.params) | self.optimizer.state()
        for i, group in enumerate(self.groups):
            arrays[f"split{i}.val"] = group.val_rows
            arrays[f"split{i}.train"] = group.train_rows
        return arrays

    def meta(self) -> dict[str, Any]:
        return {
            "groups": [
                {"table": g.table, "models": [m.meta() for m in g.models]} for g in self.groups
            ]
        }
