"""The tabular model of one table: P(column i | columns before i), softmax regression."""

from typing import Any

import numpy as np

from adapters.engines.reference.encoding import Encoder, encoder_from_meta
from adapters.engines.reference.numerics import MASKED, log_softmax, sample_rows

SAMPLE_CHUNK = 8192  # rows per forward pass when validating or sampling
WEIGHT_DECAY = 1e-4  # a little: more smooths the strong dependencies away


class TableModel:
    """An autoregressive model over one table's non-text columns, in their original order.

    The logits of column i are a bias plus one weight row per token of every earlier
    column: `W` holds all columns' blocks side by side, `mask` keeps it block-triangular.
    Columns marked not `conditioning` (identifiers) are modelled but condition nothing:
    as inputs they would only let the model memorize rows.
    """

    lr_scale = 1.0

    def __init__(
        self,
        key: str,
        columns: list[str],
        encoders: list[Encoder],
        conditioning: list[bool] | None = None,
    ) -> None:
        self.key, self.columns, self.encoders = key, columns, encoders
        self.conditioning = conditioning or [True] * len(columns)
        sizes = np.array([e.size for e in encoders], dtype=np.int64)
        self.width = int(sizes.max()) if len(sizes) else 1
        self.offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        m, depth = len(columns), int(sizes.sum())
        valid = np.zeros((m, self.width), dtype=bool)
        for i, e in enumerate(encoders):
            valid[i, : e.size] = e.present
        self.logit_mask = np.where(valid, 0.0, MASKED)
        owner = np.repeat(np.arange(m), sizes)  # the column each input row belongs to
        earlier = owner[:, None] < np.arange(m)[None, :]
        earlier &= np.asarray(self.conditioning, dtype=bool)[owner][:, None]
        # each row's one-hot input to column i has one 1 per conditioning earlier column
        self.fan_in = np.concatenate([[0], np.cumsum(self.conditioning)[:-1]]).astype(float)
        self.mask = (earlier[:, :, None] & valid[None, :, :]).reshape(depth, m * self.width)
        self.params = {
            f"{key}.W": np.zeros((depth, m * self.width)),
            f"{key}.b": np.zeros((m, self.width)),
        }

    @property
    def size(self) -> int:
        return len(self.columns)

    def encode(self, rows: list[dict[str, str]]) -> np.ndarray:
        tokens = [e.encode([r.get(c) or "" for r in rows]) for c, e in self._pairs()]
        return np.stack(tokens, axis=1) if tokens else np.zeros((len(rows), 0), np.int64)

    def forward(self, tokens: np.ndarray, rows: np.ndarray) -> "TableBatch":
        return TableBatch(self, tokens[rows])

    def validation_loss(self, tokens: np.ndarray, rows: np.ndarray) -> float:
        """Mean NLL per column (nats) over the rows."""
        total = sum(
            float(self.forward(tokens, rows[s : s + SAMPLE_CHUNK]).losses.sum())
            for s in range(0, len(rows), SAMPLE_CHUNK)
        )
        return total / max(len(rows), 1)

    def sample(self, n: int, rng: np.random.Generator) -> dict[str, list[str]]:
        """`n` rows, column by column; a column's cells in a list."""
        chunks = [
            self._sample_tokens(min(SAMPLE_CHUNK, n - s), rng) for s in range(0, n, SAMPLE_CHUNK)
        ]
        tokens = np.concatenate(chunks) if chunks else np.zeros((0, self.size), np.int64)
        return {c: e.decode(tokens[:, i], rng) for i, (c, e) in enumerate(self._pairs())}

    def _sample_tokens(self, n: int, rng: np.random.Generator) -> np.ndarray:
        W, b = self.params[f"{self.key}.W"], self.params[f"{self.key}.b"]
        x = np.zeros((n, W.shape[0]))
        tokens = np.zeros((n, self.size), dtype=np.int64)
        for i in range(self.size):
            block = slice(i * self.width, (i + 1) * self.width)
            logits = x @ W[:, block] + b[i] + self.logit_mask[i]
            tokens[:, i] = sample_rows(np.exp(log_softmax(logits)), rng)
            x[np.arange(n), self.offsets[i] + tokens[:, i]] = 1
        return tokens

    def weight_decay(self) -> dict[str, float]:
        return {f"{self.key}.W": WEIGHT_DECAY}

    def noise_masks(self) -> dict[str, np.ndarray]:
        """Where the parameters are real: DP noise goes there only."""
        return {f"{self.key}.W": self.mask, f"{self.key}.b": self.logit_mask == 0}

    def meta(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "columns": self.columns,
            "encoders": [e.to_meta() for e in self.encoders],
            "conditioning": self.conditioning,
        }

    @classmethod
    def from_meta(cls, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> "TableModel":
        encoders = [encoder_from_meta(e) for e in meta["encoders"]]
        model = cls(meta["key"], meta["columns"], encoders, meta["conditioning"])
        for name, value in model.params.items():
            value[...] = arrays[name]
        return model

    def _pairs(self):
        return zip(self.columns, self.encoders, strict=True)


class TableBatch:
    """One forward pass over a batch of rows, with the gradients it implies."""

    def __init__(self, model: TableModel, tokens: np.ndarray) -> None:
        self.model = model
        n, m, width = len(tokens), model.size, model.width
        self.x = np.zeros((n, model.mask.shape[0]))
        self.x[np.arange(n)[:, None], tokens + model.offsets] = 1
        W, b = model.params[f"{model.key}.W"], model.params[f"{model.key}.b"]
        logits = (self.x @ W).reshape(n, m, width) + b + model.logit_mask
        logp = log_softmax(logits)
        picked = np.take_along_axis(logp, tokens[:, :, None], axis=2)[:, :, 0]
        self.losses = -picked.mean(axis=1)  # mean NLL per column, per row
        self.loss = float(self.losses.mean()) if n else 0.0
        # d(loss of one row)/d(logits) = (p - y) / m
        self.delta = np.exp(logp)
        np.put_along_axis(self.delta, tokens[:, :, None], np.exp(picked)[:, :, None] - 1, axis=2)
        self.delta /= max(m, 1)

    def sq_norms(self) -> np.ndarray:
        """Each row's squared gradient norm: per column, ||x||^2 ||p - y||^2 plus the bias's
        ||p - y||^2, where ||x||^2 is the column's number of one-hot inputs."""
        per_column = (self.delta**2).sum(axis=2)
        return per_column @ (self.model.fan_in + 1.0)

    def mean_weights(self) -> np.ndarray:
        return np.full(len(self.losses), 1.0 / max(len(self.losses), 1))

    def grads(self, weights: np.ndarray) -> dict[str, np.ndarray]:
        """The gradient of sum(weights * row losses)."""
        key, n = self.model.key, len(self.losses)
        d = self.delta * weights[:, None, None]
        return {
            f"{key}.W": (self.x.T @ d.reshape(n, -1)) * self.model.mask,
            f"{key}.b": d.sum(axis=0),
        }
