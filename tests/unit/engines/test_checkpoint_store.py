"""The file checkpoint store: round trips, atomic files, and no path from outside unchecked."""

import numpy as np
import pytest

from ffwd.adapters.checkpoints import FileCheckpointStore, phase_dir

ARRAYS = {
    "t0.W": np.arange(12, dtype=np.float64).reshape(3, 4),
    "c0.E": np.ones((2, 2), dtype=np.float32),
    "adam_t": np.array(7, dtype=np.int64),
}


@pytest.fixture
def store(tmp_path) -> FileCheckpointStore:
    return FileCheckpointStore(str(tmp_path))


def test_save_then_load_returns_equal_arrays_and_meta(store, tmp_path):
    meta = {"epoch": 3, "val_loss": 1.25, "groups": [{"table": "customers"}]}
    store.save("0b5f9a3e-1c2d-4e5f-8a9b-0c1d2e3f4a5b", "text:customers", "e3-s27", ARRAYS, meta)

    arrays, loaded = store.load("0b5f9a3e-1c2d-4e5f-8a9b-0c1d2e3f4a5b", "text:customers", "e3-s27")
    assert loaded == meta
    assert set(arrays) == set(ARRAYS)
    for key, value in ARRAYS.items():
        assert np.array_equal(arrays[key], value)
        assert arrays[key].dtype == value.dtype
    folder = tmp_path / "checkpoints" / "0b5f9a3e-1c2d-4e5f-8a9b-0c1d2e3f4a5b" / "text-customers"
    assert sorted(p.name for p in folder.iterdir()) == ["e3-s27.json", "e3-s27.npz"]


def test_phase_ids_become_folder_names():
    assert phase_dir("tabular") == "tabular"
    assert phase_dir("text:customers") == "text-customers"


@pytest.mark.parametrize(
    ("generator", "phase", "checkpoint"),
    [
        ("../etc", "tabular", "e1"),
        ("..", "tabular", "e1"),
        ("gen/1", "tabular", "e1"),
        ("gen", "text:../x", "e1"),
        ("gen", "../tabular", "e1"),
        ("gen", "text-customers", "e1"),
        ("gen", "tabular", "../../e1"),
        ("gen", "tabular", ".hidden"),
        ("gen", "tabular", ""),
        ("gen", "tabular", "a\\b"),
    ],
)
def test_unsafe_path_components_are_rejected(store, generator, phase, checkpoint):
    with pytest.raises(ValueError, match="unsafe"):
        store.save(generator, phase, checkpoint, ARRAYS, {})
    with pytest.raises(ValueError, match="unsafe"):
        store.load(generator, phase, checkpoint)
    with pytest.raises(ValueError, match="unsafe"):
        store.delete(generator, phase, checkpoint)


def test_delete_generator_rejects_traversal(store):
    with pytest.raises(ValueError, match="unsafe"):
        store.delete_generator("../..")


def test_object_arrays_and_odd_names_are_refused(store):
    with pytest.raises(ValueError, match="objects"):
        store.save("gen", "tabular", "e1", {"x": np.array([{}], dtype=object)}, {})
    with pytest.raises(ValueError, match="unsafe array name"):
        store.save("gen", "tabular", "e1", {"../x": np.zeros(1)}, {})
    with pytest.raises(ValueError, match="unsafe array name"):
        store.save("gen", "tabular", "e1", {"file": np.zeros(1)}, {})


def test_no_temporary_file_is_left_behind(store, tmp_path):
    store.save("gen", "tabular", "e1", ARRAYS, {"a": 1})
    store.save("gen", "tabular", "e1", ARRAYS, {"a": 2})  # overwrite in place
    folder = tmp_path / "checkpoints" / "gen" / "tabular"
    assert sorted(p.name for p in folder.iterdir()) == ["e1.json", "e1.npz"]
    assert store.load("gen", "tabular", "e1")[1] == {"a": 2}


def test_delete_and_delete_generator_remove_the_files(store, tmp_path):
    store.save("gen", "tabular", "e1", ARRAYS, {})
    store.save("gen", "tabular", "e2", ARRAYS, {})
    store.save("gen", "text:t", "e1", ARRAYS, {})
    store.save("other", "tabular", "e1", ARRAYS, {})

    store.delete("gen", "tabular", "e1")
    assert store.checkpoint_ids("gen", "tabular") == ["e2"]
    with pytest.raises(FileNotFoundError):
        store.load("gen", "tabular", "e1")

    store.delete_generator("gen")
    assert not (tmp_path / "checkpoints" / "gen").exists()
    assert store.checkpoint_ids("other", "tabular") == ["e1"]
    store.delete_generator("gen")  # idempotent
