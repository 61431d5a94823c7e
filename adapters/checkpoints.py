"""Model checkpoints as files: numpy arrays in an `.npz` plus a small JSON meta.

numpy loads with the first save or load: a process that only deletes a cancelled
generator's checkpoints (`ffwd cancel`) never needs it.
"""

import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

_COMPONENT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_PHASE = re.compile(r"^[a-z]+(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,63})?$")
_ARRAY_KEY = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.]{0,127}$")
# np.savez takes these as its own arguments, so they cannot name an array.
_RESERVED_KEYS = {"file", "allow_pickle"}


def safe_component(value: str, what: str = "path component") -> str:
    """`value` if it is safe as one file name (no separators, no `..`), else ValueError."""
    if not isinstance(value, str) or not _COMPONENT.fullmatch(value):
        raise ValueError(f"unsafe {what}: {value!r}")
    return value


def phase_dir(phase_id: str) -> str:
    """The phase id as a folder name: `text:customers` -> `text-customers`."""
    if not isinstance(phase_id, str) or not _PHASE.fullmatch(phase_id):
        raise ValueError(f"unsafe phase id: {phase_id!r}")
    return phase_id.replace(":", "-")


class FileCheckpointStore:
    """Checkpoints under `{root}/checkpoints/{generator_id}/{phase_dir}/{checkpoint_id}.npz`.

    The JSON meta is written after the arrays, each atomically, so a checkpoint whose
    meta exists is complete.
    """

    def __init__(self, root: str) -> None:
        self.root = Path(root) / "checkpoints"

    def save(
        self,
        generator_id: str,
        phase_id: str,
        checkpoint_id: str,
        arrays: dict[str, "np.ndarray"],
        meta: dict[str, Any],
    ) -> None:
        import numpy as np

        for key in arrays:
            if not _ARRAY_KEY.fullmatch(key) or key in _RESERVED_KEYS:
                raise ValueError(f"unsafe array name: {key!r}")
            if np.asarray(arrays[key]).dtype.hasobject:
                raise ValueError(f"array {key!r} holds Python objects; only plain dtypes")
        npz, meta_file = self._files(generator_id, phase_id, checkpoint_id)
        npz.parent.mkdir(parents=True, exist_ok=True)
        _atomic_write(npz, lambda f: np.savez(f, **arrays))
        text = json.dumps(meta, allow_nan=True, sort_keys=True).encode()
        _atomic_write(meta_file, lambda f: f.write(text))

    def load(
        self, generator_id: str, phase_id: str, checkpoint_id: str
    ) -> tuple[dict[str, "np.ndarray"], dict[str, Any]]:
        import numpy as np

        npz, meta_file = self._files(generator_id, phase_id, checkpoint_id)
        if not meta_file.is_file():
            raise FileNotFoundError(
                f"no checkpoint {checkpoint_id} for phase {phase_id} of {generator_id}"
            )
        meta = json.loads(meta_file.read_text())
        with np.load(npz, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
        return arrays, meta

    def delete(self, generator_id: str, phase_id: str, checkpoint_id: str) -> None:
        npz, meta_file = self._files(generator_id, phase_id, checkpoint_id)
        meta_file.unlink(missing_ok=True)
        npz.unlink(missing_ok=True)

    def delete_generator(self, generator_id: str) -> None:
        folder = self.root / safe_component(generator_id, "generator id")
        shutil.rmtree(folder, ignore_errors=True)

    def checkpoint_ids(self, generator_id: str, phase_id: str) -> list[str]:
        """The complete checkpoints kept for one phase, sorted by id."""
        folder = self.root / safe_component(generator_id, "generator id") / phase_dir(phase_id)
        return sorted(p.stem for p in folder.glob("*.json")) if folder.is_dir() else []

    def _files(self, generator_id: str, phase_id: str, checkpoint_id: str) -> tuple[Path, Path]:
        folder = self.root / safe_component(generator_id, "generator id") / phase_dir(phase_id)
        name = safe_component(checkpoint_id, "checkpoint id")
        return folder / f"{name}.npz", folder / f"{name}.json"


def _atomic_write(target: Path, write) -> None:
    fd, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
