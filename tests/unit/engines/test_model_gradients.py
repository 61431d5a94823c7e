"""The models' gradients are right, and their per-row norms (for DP clipping) are exact."""

import numpy as np
import pytest

from ffwd.adapters.engines.reference.chars import fit_vocabulary
from ffwd.adapters.engines.reference.encoding import fit_encoder
from ffwd.adapters.engines.reference.keys import fit_key
from ffwd.adapters.engines.reference.tabular import TableModel
from ffwd.adapters.engines.reference.text import CharModel

RNG = np.random.default_rng(3)


@pytest.fixture(autouse=True)
def same_draws_whatever_ran_before() -> None:
    """A test draws the same values alone, in the suite, or run again in one process (as
    mutmut runs it): the module's generator starts afresh for each."""
    global RNG
    RNG = np.random.default_rng(3)


ROWS = np.array([0, 3, 4, 8, 11])


def table_model() -> tuple[TableModel, np.ndarray]:
    rows = [
        {
            "id": str(i),
            "kind": "ab"[i % 2],
            "size": f"{RNG.normal(10 + 5 * (i % 2), 2):.1f}",
            "day": f"2024-01-{1 + i % 28:02d}",
        }
        for i in range(40)
    ]
    cells = {c: [r[c] for r in rows] for c in rows[0]}
    keys = {c: fit_key(c, v) for c, v in cells.items() if fit_key(c, v)}
    modelled = [c for c in cells if c not in keys]
    model = TableModel("t0", modelled, [fit_encoder(cells[c]) for c in modelled], keys)
    assert list(keys) == ["id"] and modelled == ["kind", "size", "day"]
    for value in model.params.values():
        value += RNG.normal(0, 0.3, value.shape)
    model.params["t0.W"] *= model.mask
    return model, model.encode(rows)


def char_model() -> tuple[CharModel, object]:
    texts = [f"item {i} is {'red' if i % 2 else 'blue'}" for i in range(20)] + [""]
    model = CharModel("c0", "note", fit_vocabulary(texts), max(map(len, texts)), [1])
    for key, value in model.params.items():  # float64, for exact finite differences
        model.params[key] = value.astype(np.float64) + RNG.normal(0, 0.1, value.shape)
    return model, model.encode(texts)


@pytest.mark.parametrize("build", [table_model, char_model])
def test_per_row_squared_norms_equal_the_materialized_per_row_gradients(build):
    model, data = build()
    batch = model.forward(data, ROWS)
    expected = []
    for i in range(len(ROWS)):
        grads = batch.grads(np.eye(len(ROWS))[i])
        expected.append(sum(float((g.astype(np.float64) ** 2).sum()) for g in grads.values()))
    assert batch.sq_norms() == pytest.approx(expected, rel=1e-4)


@pytest.mark.parametrize("build", [table_model, char_model])
def test_gradients_match_finite_differences(build):
    model, data = build()
    weights = RNG.random(len(ROWS))
    grads = model.forward(data, ROWS).grads(weights)

    def loss() -> float:
        return float(weights @ model.forward(data, ROWS).losses.astype(np.float64))

    for key, value in model.params.items():
        direction, eps = RNG.standard_normal(value.shape), 1e-6
        if key == "t0.W":
            direction *= model.mask
        value += eps * direction
        up = loss()
        value -= 2 * eps * direction
        down = loss()
        value += eps * direction
        analytic = float((grads[key].astype(np.float64) * direction).sum())
        assert (up - down) / (2 * eps) == pytest.approx(analytic, rel=1e-5, abs=1e-8), key


def test_mean_weights_give_the_mean_loss():
    for model, data in (table_model(), char_model()):
        batch = model.forward(data, ROWS)
        assert float(batch.mean_weights() @ batch.losses) == pytest.approx(batch.loss, rel=1e-5)


def test_text_contexts_never_reach_into_the_previous_row():
    _, data = char_model()
    for start in data.offsets[:-1]:
        assert (data.context[start] == 0).all()  # BOS only
