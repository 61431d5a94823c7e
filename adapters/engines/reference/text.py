"""The text model of one column: a character-level MLP language model."""

from typing import Any

import numpy as np

from ffwd.adapters.engines.reference.chars import (
    BOS,
    CONTEXT,
    END,
    FIRST_CHAR,
    UNK,
    Sequences,
    to_sequences,
)
from ffwd.adapters.engines.reference.numerics import log_softmax, sample_rows

EMBED = 16
HIDDEN = 96
MAX_TRAIN_CHARS = 256
MAX_SAMPLE_CHARS = 512


class CharModel:
    """P(next character | previous CONTEXT characters) for one text column.

    Unconditioned on the row's tabular values: synthetic text is sampled independently
    of the other cells of its row.
    """

    # Adam steps the convex tabular model takes well make this tanh MLP jump about.
    lr_scale = 0.2

    def __init__(
        self, key: str, column: str, chars: list[str], longest: int, seed: list[int]
    ) -> None:
        self.key, self.column, self.chars, self.longest = key, column, chars, longest
        self._index = {ch: i + FIRST_CHAR for i, ch in enumerate(chars)}
        self.vocab = len(chars) + FIRST_CHAR
        rng = np.random.default_rng(seed)

        def normal(*shape: int, scale: float) -> np.ndarray:
            return (rng.standard_normal(shape) * scale).astype(np.float32)

        self.params = {
            f"{key}.E": normal(self.vocab, EMBED, scale=0.5),
            f"{key}.W1": normal(CONTEXT * EMBED, HIDDEN, scale=1 / np.sqrt(CONTEXT * EMBED)),
            f"{key}.b1": np.zeros(HIDDEN, np.float32),
            f"{key}.W2": normal(HIDDEN, self.vocab, scale=0.01),
            f"{key}.b2": np.zeros(self.vocab, np.float32),
        }

    def encode(self, texts: list[str]) -> Sequences:
        return to_sequences(
            [[self._index.get(ch, UNK) for ch in t[:MAX_TRAIN_CHARS]] + [END] for t in texts]
        )

    def forward(self, data: Sequences, rows: np.ndarray) -> "CharBatch":
        return CharBatch(self, *data.gather(rows))

    def validation_loss(self, data: Sequences, rows: np.ndarray) -> float:
        total, count = 0.0, 0
        for start in range(0, len(rows), 512):
            batch = self.forward(data, rows[start : start + 512])
            total += float(batch.nll.sum(dtype=np.float64))
            count += len(batch.nll)
        return total / max(count, 1)

    def hidden(self, context: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p = self.params
        x = p[f"{self.key}.E"][context].reshape(len(context), CONTEXT * EMBED)
        return x, np.tanh(x @ p[f"{self.key}.W1"] + p[f"{self.key}.b1"])

    def sample(self, n: int, rng: np.random.Generator) -> list[str]:
        limit = min(max(2 * self.longest, 1), MAX_SAMPLE_CHARS)
        context = np.full((n, CONTEXT), BOS, dtype=np.int32)
        out = np.full((n, limit), END, dtype=np.int32)
        alive = np.arange(n)
        for t in range(limit):
            if not len(alive):
                break
            _, h = self.hidden(context[alive])
            logits = h @ self.params[f"{self.key}.W2"] + self.params[f"{self.key}.b2"]
            logits[:, BOS] = -np.inf
            token = sample_rows(np.exp(log_softmax(logits.astype(np.float64))), rng)
            out[alive, t] = token
            context[alive] = np.concatenate([context[alive, 1:], token[:, None]], axis=1)
            alive = alive[token != END]
        return [self._decode(row) for row in out]

    def _decode(self, tokens: np.ndarray) -> str:
        chars = []
        for tok in tokens.tolist():
            if tok == END:
                break
            if tok > UNK:
                chars.append(self.chars[tok - FIRST_CHAR])
        return "".join(chars)

    def weight_decay(self) -> dict[str, float]:
        return {}

    def noise_masks(self) -> dict[str, np.ndarray]:
        return {}

    def meta(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "column": self.column,
            "chars": self.chars,
            "longest": self.longest,
        }

    @classmethod
    def from_meta(cls, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> "CharModel":
        model = cls(meta["key"], meta["column"], list(meta["chars"]), int(meta["longest"]), [0])
        for name, value in model.params.items():
            value[...] = arrays[name]
        return model


class CharBatch:
    """One forward pass over the characters of a batch of rows, and its gradients."""

    def __init__(self, model, context, target, seg, lengths) -> None:
        self.model, self.context, self.seg, self.lengths = model, context, seg, lengths
        self.x, self.h = model.hidden(context)
        p = model.params
        logp = log_softmax(self.h @ p[f"{model.key}.W2"] + p[f"{model.key}.b2"])
        at = np.arange(len(target))
        self.nll = -logp[at, target]
        self.losses = np.bincount(seg, self.nll, minlength=len(lengths)) / np.maximum(lengths, 1)
        self.loss = float(self.nll.mean()) if len(self.nll) else 0.0
        self.delta = np.exp(logp)  # d(nll of one position)/d(logits) = p - y
        self.delta[at, target] -= 1

    def mean_weights(self) -> np.ndarray:
        """Row weights that make the weighted row means the mean NLL per character."""
        return self.lengths / max(self.lengths.sum(), 1)

    def grads(self, weights: np.ndarray) -> dict[str, np.ndarray]:
        """The gradient of sum(weights * row losses), a row's loss being its mean NLL."""
        key, p = self.model.key, self.model.params
        d = self.delta * (weights / np.maximum(self.lengths, 1))[self.seg][:, None]
        d = d.astype(self.h.dtype)
        dh = (d @ p[f"{key}.W2"].T) * (1 - self.h * self.h)
        dx = dh @ p[f"{key}.W1"].T
        return {
            f"{key}.W2": self.h.T @ d,
            f"{key}.b2": d.sum(axis=0),
            f"{key}.W1": self.x.T @ dh,
            f"{key}.b1": dh.sum(axis=0),
            f"{key}.E": _embedding_grad(self.context.ravel(), dx, self.model.vocab),
        }

    def sq_norms(self) -> np.ndarray:
        """Each row's squared gradient norm, from per-row gradients (padded, einsum)."""
        key, p, B = self.model.key, self.model.params, len(self.lengths)
        d = (self.delta / np.maximum(self.lengths, 1)[self.seg][:, None]).astype(self.h.dtype)
        dh = (d @ p[f"{key}.W2"].T) * (1 - self.h * self.h)
        dx = (dh @ p[f"{key}.W1"].T).reshape(-1, EMBED)
        width = int(self.lengths.max()) if B else 0
        start = np.cumsum(self.lengths) - self.lengths
        valid = np.arange(width)[None, :] < self.lengths[:, None]
        index = np.where(valid, start[:, None] + np.arange(width)[None, :], 0)

        def padded(a: np.ndarray) -> np.ndarray:
            return a[index] * valid[:, :, None]

        hp, dp, xp, dhp = padded(self.h), padded(d), padded(self.x), padded(dh)
        total = np.einsum("blh,blv->bhv", hp, dp, optimize=True)
        sq = (total**2).sum(axis=(1, 2)) + (dp.sum(axis=1) ** 2).sum(axis=1)
        total = np.einsum("blx,blh->bxh", xp, dhp, optimize=True)
        sq += (total**2).sum(axis=(1, 2)) + (dhp.sum(axis=1) ** 2).sum(axis=1)
        owner = np.repeat(self.seg, CONTEXT) * self.model.vocab + self.context.ravel()
        emb = _embedding_grad(owner, dx, B * self.model.vocab)
        sq += (emb.reshape(B, -1) ** 2).sum(axis=1)
        return sq.astype(np.float64)


def _embedding_grad(index: np.ndarray, grads: np.ndarray, rows: int) -> np.ndarray:
    grads = grads.reshape(len(index), -1)
    out = np.empty((rows, grads.shape[1]), dtype=grads.dtype)
    for j in range(grads.shape[1]):
        out[:, j] = np.bincount(index, grads[:, j], minlength=rows)
    return out
