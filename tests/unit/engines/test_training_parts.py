"""Adam's state round trip, seeded splits, and batch streams."""

import numpy as np

from adapters.engines.reference.optim import Adam
from adapters.engines.reference.phases import Stream, split_rows


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
