"""The tabular model of one table: P(column i | columns before i), softmax regression."""

from typing import Any

import numpy as np

from ffwd.adapters.engines.reference.encoding import Encoder, encoder_from_meta
from ffwd.adapters.engines.reference.keys import KeyFormat
from ffwd.adapters.engines.reference.numerics import MASKED, log_softmax, sample_rows

SAMPLE_CHUNK = 8192  # rows per forward pass when validating or sampling
WEIGHT_DECAY = 1e-4  # a little: more smooths the strong dependencies away


class TableModel:
    """An autoregressive model over one table's modelled columns, in their original order.

    Column i has one logit per token (`sizes[i]` of them, at `offsets[i]` of the flat token
    axis): a bias plus one weight per token of every earlier column. `W` stores, for each
    column j, only its tokens' weights towards the later columns' logits, a (sizes[j],
    tokens after column j) block (`block(W, j)`), the blocks end to end in one flat array:
    no weight that the autoregressive order forces to zero is stored, updated or noised,
    and the inputs are looked up by token rather than multiplied as one-hot rows.

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
        depth = int(sizes.sum())
        self.offsets = np.cumsum(sizes) - sizes
        self.ends = self.offsets + sizes
        self.owner = np.repeat(np.arange(len(sizes)), sizes)  # the column of each token
        valid = np.concatenate([e.present for e in encoders]) if len(sizes) else np.zeros(0, bool)
        self.logit_mask = np.where(valid, 0.0, MASKED)
        # each row's input to column i is one token of each earlier column
        self.fan_in = np.arange(len(sizes), dtype=float)
        self.blocks, masks, at = [], [], 0
        for j in range(len(sizes)):
            shape = (int(sizes[j]), depth - int(self.ends[j]))
            self.blocks.append((at, shape))
            at += shape[0] * shape[1]
            rows, later = valid[self.offsets[j] : self.ends[j]], valid[self.ends[j] :]
            masks.append((rows[:, None] & later[None, :]).ravel())
        self.mask = np.concatenate(masks) if masks else np.zeros(0, bool)
        self.params = {f"{key}.W": np.zeros(at), f"{key}.b": np.zeros(depth)}

    @property
    def size(self) -> int:
        return len(self.columns)

    @property
    def depth(self) -> int:
        return len(self.logit_mask)

    def block(self, W: np.ndarray, j: int) -> np.ndarray:
        """Column j's weights in the flat `W` (or a gradient like it), as a writable view:
        one row per token of column j, one column per token of the later columns."""
        start, (rows, later) = self.blocks[j]
        return W[start : start + rows * later].reshape(rows, later)

    def logits(self, tokens: np.ndarray) -> np.ndarray:
        """Every column's logits given the earlier columns' tokens: (rows, depth)."""
        W = self.params[f"{self.key}.W"]
        out = np.empty((len(tokens), self.depth))
        out[:] = self.params[f"{self.key}.b"] + self.logit_mask
        for j in range(self.size - 1):
            out[:, self.ends[j] :] += self.block(W, j)[tokens[:, j]]
        return out

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
        W = self.params[f"{self.key}.W"]
        logits = np.tile(self.params[f"{self.key}.b"] + self.logit_mask, (n, 1))
        tokens = np.zeros((n, self.size), dtype=np.int64)
        for i in range(self.size):
            column = logits[:, self.offsets[i] : self.ends[i]]
            tokens[:, i] = sample_rows(np.exp(log_softmax(column)), rng)
            if i < self.size - 1:
                logits[:, self.ends[i] :] += self.block(W, i)[tokens[:, i]]
        return tokens

    def start_from_marginals(self, tokens: np.ndarray) -> None:
        """Set the biases to the log frequencies of the tokens in `tokens` (the training
        rows): the model starts as independent columns and only has to learn how they depend
        on each other. From zero, Adam's bounded steps take a hundred of them to give a pooled
        rare token (most rows of a foreign key) its share. Reads the data: not under DP."""
        counts = np.bincount((tokens + self.offsets).ravel(), minlength=self.depth)
        smoothed = np.where(self.logit_mask == 0, counts + 0.5, 1.0)
        totals = np.add.reduceat(smoothed, self.offsets) if self.size else smoothed
        self.params[f"{self.key}.b"][...] = np.log(smoothed / totals[self.owner])

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
        self.model, self.tokens = model, tokens
        n, m = tokens.shape
        logp = _column_log_softmax(model.logits(tokens), model.offsets, model.owner)
        at = (np.arange(n)[:, None], tokens + model.offsets)
        picked = logp[at]  # (n, m)
        self.losses = -picked.sum(axis=1) / max(m, 1)  # mean NLL per column, per row
        self.loss = float(self.losses.mean()) if n else 0.0
        # d(loss of one row)/d(logits) = (p - y) / m; tokens a column lacks have p = 0
        self.delta = np.exp(logp, out=logp)
        self.delta[at] -= 1.0
        self.delta /= max(m, 1)
        self.sq_columns = (
            np.add.reduceat(self.delta**2, model.offsets, axis=1) if m else np.zeros((n, 0))
        )
        self._groups: list[tuple[np.ndarray, np.ndarray, np.ndarray]] | None = None

    def sq_norms(self) -> np.ndarray:
        """Each row's squared gradient norm: per column, ||x||^2 ||p - y||^2 plus the bias's
        ||p - y||^2, where ||x||^2 is the column's number of (one-hot) inputs."""
        return self.sq_columns @ (self.model.fan_in + 1.0)

    def mean_weights(self) -> np.ndarray:
        return np.full(len(self.losses), 1.0 / max(len(self.losses), 1))

    def grads(self, weights: np.ndarray) -> dict[str, np.ndarray]:
        """The gradient of sum(weights * row losses)."""
        model, key = self.model, self.model.key
        d = self.delta * weights[:, None]
        gW = np.zeros_like(model.params[f"{key}.W"])
        if len(d):
            for j, (order, starts, tokens) in enumerate(self._token_groups()):
                rows = d[order, model.ends[j] :]
                model.block(gW, j)[tokens] = np.add.reduceat(rows, starts, axis=0)
        return {f"{key}.W": gW, f"{key}.b": d.sum(axis=0)}

    def _token_groups(self) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Per conditioning column: the rows sorted by its token, where each token's run
        starts, and the token of each run; the batch's rows summed by token."""
        if self._groups is None:
            self._groups = []
            for j in range(self.model.size - 1):
                order = np.argsort(self.tokens[:, j], kind="stable")
                sorted_tokens = self.tokens[order, j]
                starts = np.flatnonzero(np.diff(sorted_tokens, prepend=-1))
                self._groups.append((order, starts, sorted_tokens[starts]))
        return self._groups


def _column_log_softmax(logits: np.ndarray, offsets: np.ndarray, owner: np.ndarray) -> np.ndarray:
    """log_softmax, in place, within each column's segment of the token axis: the segments
    start at `offsets`, `owner` is each token's column."""
    if not len(offsets):
        return logits
    logits -= np.maximum.reduceat(logits, offsets, axis=1)[:, owner]
    sums = np.add.reduceat(np.exp(logits), offsets, axis=1)
    logits -= np.log(sums)[:, owner]
    return logits
