"""The tabular model of one table: P(column i | columns before i), softmax regression."""

from typing import Any

import numpy as np

from adapters.engines.reference.encoding import Encoder, encoder_from_meta
from adapters.engines.reference.keys import KeyFormat
from adapters.engines.reference.numerics import MASKED, log_softmax, sample_rows

SAMPLE_CHUNK = 8192  # rows per forward pass when validating or sampling
WEIGHT_DECAY = 1e-4  # a little: more smooths the strong dependencies away


class TableModel:
    """An autoregressive model over one table's modelled columns, in their original order.

    Each column has one logit per token (`sizes[i]` of them, at `offsets[i]` of the flat
    token axis): a bias plus one weight row per token of every earlier column. `W` is
    (tokens, tokens), kept block lower-triangular (earlier tokens -> later columns) by `mask`;
    unpadded, so a column with many tokens costs its own size, not the widest column's
    times the number of columns. The softmax runs per column on a padded (rows, columns,
    width) view.

    Key columns (`keys`: column -> KeyFormat) are not modelled and condition nothing: as
    inputs they would only let the model memorize rows. Sampling writes fresh keys.
    """

    lr_scale = 1.0

    def __init__(
        self,
        key: str,
        columns: list[str],
        encoders: list[Encoder],
        keys: dict[str, KeyFormat] | None = None,
    ) -> None:
        self.key, self.columns, self.encoders = key, columns, encoders
        self.keys = dict(keys or {})
        sizes = np.array([e.size for e in encoders], dtype=np.int64)
        m, depth = len(columns), int(sizes.sum())
        self.width = int(sizes.max()) if m else 1
        self.offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        owner = np.repeat(np.arange(m), sizes)  # the column each token belongs to
        valid = np.concatenate([e.present for e in encoders]) if m else np.zeros(0, bool)
        self.logit_mask = np.where(valid, 0.0, MASKED)
        self.mask = (owner[:, None] < owner[None, :]) & valid[:, None] & valid[None, :]
        # each row's one-hot input to column i has one 1 per earlier column
        self.fan_in = np.arange(m, dtype=float)
        # the padded view: position (i, j) is token offsets[i] + j, or `depth` (padding)
        slot = np.arange(self.width)[None, :]
        self.padded = np.where(
            slot < sizes[:, None], self.offsets[:, None] + slot, depth
        ).astype(np.int64)
        self.unpadded = (owner * self.width + (np.arange(depth) - self.offsets[owner])).astype(
            np.int64
        )
        self.params = {
            f"{key}.W": np.zeros((depth, depth)),
            f"{key}.b": np.zeros(depth),
        }

    @property
    def size(self) -> int:
        return len(self.columns)

    @property
    def depth(self) -> int:
        return len(self.logit_mask)

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
        cells = {c: e.decode(tokens[:, i], rng) for i, (c, e) in enumerate(self._pairs())}
        return cells | {c: key.generate(n, rng) for c, key in self.keys.items()}

    def _sample_tokens(self, n: int, rng: np.random.Generator) -> np.ndarray:
        W, b = self.params[f"{self.key}.W"], self.params[f"{self.key}.b"]
        x = np.zeros((n, self.depth))
        tokens = np.zeros((n, self.size), dtype=np.int64)
        for i, e in enumerate(self.encoders):
            block = slice(self.offsets[i], self.offsets[i] + e.size)
            logits = x @ W[:, block] + b[block] + self.logit_mask[block]
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
            "keys": {c: k.to_meta() for c, k in self.keys.items()},
        }

    @classmethod
    def from_meta(cls, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> "TableModel":
        encoders = [encoder_from_meta(e) for e in meta["encoders"]]
        keys = {c: KeyFormat.from_meta(k) for c, k in meta.get("keys", {}).items()}
        model = cls(meta["key"], meta["columns"], encoders, keys)
        for name, value in model.params.items():
            if arrays[name].shape != value.shape:
                raise ValueError(
                    f"checkpoint array {name} has shape {arrays[name].shape}, this engine's "
                    f"model {value.shape}: the checkpoint is from an older engine version"
                )
            value[...] = arrays[name]
        return model

    def _pairs(self):
        return zip(self.columns, self.encoders, strict=True)


class TableBatch:
    """One forward pass over a batch of rows, with the gradients it implies."""

    def __init__(self, model: TableModel, tokens: np.ndarray) -> None:
        self.model = model
        n, m = len(tokens), model.size
        self.x = np.zeros((n, model.depth))
        self.x[np.arange(n)[:, None], tokens + model.offsets] = 1
        W, b = model.params[f"{model.key}.W"], model.params[f"{model.key}.b"]
        flat = np.empty((n, model.depth + 1))
        flat[:, :-1] = self.x @ W
        flat[:, :-1] += b + model.logit_mask
        flat[:, -1] = MASKED
        logp = log_softmax(flat[:, model.padded])  # (n, m, width)
        picked = np.take_along_axis(logp, tokens[:, :, None], axis=2)[:, :, 0]
        self.losses = -picked.sum(axis=1) / max(m, 1)  # mean NLL per column, per row
        self.loss = float(self.losses.mean()) if n else 0.0
        # d(loss of one row)/d(logits) = (p - y) / m; padding has p = 0 and no gradient
        delta = np.exp(logp)
        np.put_along_axis(delta, tokens[:, :, None], np.exp(picked)[:, :, None] - 1, axis=2)
        delta /= max(m, 1)
        self.sq_columns = (delta**2).sum(axis=2)  # (n, m)
        self.delta = delta.reshape(n, -1)[:, model.unpadded]  # (n, depth)

    def sq_norms(self) -> np.ndarray:
        """Each row's squared gradient norm: per column, ||x||^2 ||p - y||^2 plus the bias's
        ||p - y||^2, where ||x||^2 is the column's number of one-hot inputs."""
        return self.sq_columns @ (self.model.fan_in + 1.0)

    def mean_weights(self) -> np.ndarray:
        return np.full(len(self.losses), 1.0 / max(len(self.losses), 1))

    def grads(self, weights: np.ndarray) -> dict[str, np.ndarray]:
        """The gradient of sum(weights * row losses)."""
        key = self.model.key
        d = self.delta * weights[:, None]
        return {
            f"{key}.W": (self.x.T @ d) * self.model.mask,
            f"{key}.b": d.sum(axis=0),
        }
