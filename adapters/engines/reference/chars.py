"""Text as tokens for the character model: the vocabulary and (context, next) sequences."""

from dataclasses import dataclass

import numpy as np

BOS, END, UNK = 0, 1, 2  # BOS pads the context before the first character
FIRST_CHAR = 3
CONTEXT = 5
MAX_CHARS = 200
MIN_CHAR_ROWS_PRIVATE = 20  # with DP, a character seen in few rows is not learnt


def fit_vocabulary(texts: list[str], private: bool = False) -> list[str]:
    """The characters the model writes, most frequent first; the rest become UNK."""
    rows: dict[str, int] = {}
    for text in texts:
        for ch in set(text):
            rows[ch] = rows.get(ch, 0) + 1
    minimum = MIN_CHAR_ROWS_PRIVATE if private else 1
    ranked = sorted((ch for ch in rows if rows[ch] >= minimum), key=lambda c: (-rows[c], c))
    return ranked[:MAX_CHARS]


@dataclass(frozen=True)
class Sequences:
    """Every row's (context, next token) pairs, rows laid end to end."""

    context: np.ndarray  # (positions, CONTEXT)
    target: np.ndarray  # (positions,)
    offsets: np.ndarray  # (rows + 1,)

    def gather(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Context, target, owning batch row of each position, and each row's length."""
        lengths = self.offsets[rows + 1] - self.offsets[rows]
        seg = np.repeat(np.arange(len(rows)), lengths)
        starts = np.repeat(self.offsets[rows] - (np.cumsum(lengths) - lengths), lengths)
        index = starts + np.arange(len(seg))
        return self.context[index], self.target[index], seg, lengths


def to_sequences(tokens: list[list[int]]) -> Sequences:
    """Each row's tokens (ending in END) as contexts of the CONTEXT tokens before each."""
    lengths = np.array([len(t) for t in tokens], dtype=np.int64)
    flat = np.array([BOS] * CONTEXT + [tok for t in tokens for tok in t], dtype=np.int32)
    ends = np.cumsum(lengths)
    positions = np.arange(int(lengths.sum()))
    back = np.arange(CONTEXT, 0, -1)[None, :]  # CONTEXT..1 tokens back
    context = flat[positions[:, None] + CONTEXT - back]
    # Earlier rows' characters are not this row's context: pad them with BOS.
    row_start = np.repeat(ends - lengths, lengths)
    context = np.where(positions[:, None] - back < row_start[:, None], BOS, context)
    offsets = np.concatenate([[0], ends]).astype(np.int64)
    return Sequences(context.astype(np.int32), flat[CONTEXT:].copy(), offsets)
