"""Small numeric helpers shared by the reference models: softmax, sampling, one-hot."""

import numpy as np

MASKED = -1e30  # added to the logits of tokens a column does not have


def log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def sample_rows(probs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One token per row of `probs` (rows sum to one), by inverse CDF."""
    cum = probs.cumsum(axis=1)
    u = rng.random((len(probs), 1)) * cum[:, -1:]
    return np.minimum((cum < u).sum(axis=1), probs.shape[1] - 1)


def one_hot(index: np.ndarray, size: int, dtype=np.float64) -> np.ndarray:
    out = np.zeros((len(index), size), dtype=dtype)
    out[np.arange(len(index)), index] = 1
    return out
