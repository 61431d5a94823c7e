"""Adam's state round trip, seeded splits, batch streams, and the DP-SGD step."""

import numpy as np
import pytest

from ffwd.adapters.engines.reference.encoding import fit_encoder
from ffwd.adapters.engines.reference.optim import Adam
from ffwd.adapters.engines.reference.phases import Group, Phase, Stream, split_rows
from ffwd.adapters.engines.reference.tabular import TableModel
from ffwd.application.spec import DifferentialPrivacySpec


def test_adam_state_round_trips():
    params = {"w": np.zeros(3)}
    adam = Adam(params, 0.1)
    adam.update({"w": np.array([1.0, -2.0, 0.5])})
    adam.update({"w": np.array([0.5, -1.0, 0.0])})

    again = Adam({"w": params["w"].copy()}, 0.1)
    again.restore(adam.state())
    adam.update({"w": np.ones(3)})
    again.update({"w": np.ones(3)})
    assert np.array_equal(adam.params["w"], again.params["w"])
    assert again.t == 3


def test_adam_moves_against_the_gradient():
    params = {"w": np.array([1.0])}
    adam = Adam(params, 0.1)
    for _ in range(100):
        adam.update({"w": 2 * params["w"]})  # d/dw of w^2
    assert abs(params["w"][0]) < 0.1


def test_splits_are_seeded_disjoint_and_complete():
    train, val = split_rows(100, 0.1, [7, 0])
    again = split_rows(100, 0.1, [7, 0])
    assert np.array_equal(train, again[0]) and np.array_equal(val, again[1])
    assert len(val) == 10
    assert sorted([*train, *val]) == list(range(100))
    assert not np.array_equal(val, split_rows(100, 0.1, [8, 0])[1])
    assert split_rows(1, 0.1, [0]) == (np.array([0]), np.array([0]))


def test_a_stream_covers_every_row_once_per_pass():
    stream = Stream(10, 4)
    rng = np.random.default_rng(0)
    stream.restart(rng)
    seen = np.concatenate([stream.next(rng) for _ in range(3)])
    assert sorted(seen) == list(range(10))
    assert len(stream.next(rng)) == 4  # reshuffled for the next pass


def dp_phase() -> Phase:
    rng = np.random.default_rng(0)
    rows = [{"a": str(i % 10), "b": str(int(rng.integers(0, 20)))} for i in range(200)]
    cells = {c: [r[c] for r in rows] for c in ("a", "b")}
    model = TableModel("t0", ["a", "b"], [fit_encoder(v) for v in cells.values()])
    train, val = split_rows(200, 0.1, [0])
    return Phase([Group("t", [model], [model.encode(rows)], train, val)], 20, 0.05)


def captured_step(phase: Phase, dp: DifferentialPrivacySpec) -> dict[str, np.ndarray]:
    captured = {}
    phase.optimizer.update = captured.update
    phase.step(np.random.default_rng(1), dp)
    return captured


def test_dp_steps_add_gaussian_noise_of_the_promised_scale_to_real_parameters_only():
    phase = dp_phase()
    dp = DifferentialPrivacySpec(noise_multiplier=50.0, max_grad_norm=2.0)
    grads = captured_step(phase, dp)

    expected_batch = phase.sampling_rate * 180
    mask = phase.masks["t0.W"]
    noise = grads["t0.W"][mask]
    assert np.std(noise) == pytest.approx(50.0 * 2.0 / expected_batch, rel=0.25)
    assert np.all(grads["t0.W"][~mask] == 0)


def test_dp_steps_clip_each_rows_gradient():
    phase = dp_phase()
    dp = DifferentialPrivacySpec(noise_multiplier=1e-9, max_grad_norm=0.01)
    grads = captured_step(phase, dp)

    total = np.sqrt(sum(float((g**2).sum()) for g in grads.values()))
    # at most every training row sampled, each contributing at most max_grad_norm
    assert total <= 180 * 0.01 / (phase.sampling_rate * 180) + 1e-9
    assert total > 0
