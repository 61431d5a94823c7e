"""Keep the engine's Hugging Face `datasets` cache inside the phase's workspace.

The engine loads its encoded parquet files with `datasets.load_dataset(...)` and no
`cache_dir`, which copies the user's (encoded) rows into `~/.cache/huggingface/datasets`, out of
reach of cancel and discard. The engine's training modules get a `load_dataset` that adds the
`cache_dir` of the phase running in the calling thread (phases may train in parallel threads).
"""

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

_local = threading.local()
_lock = threading.Lock()
_MODULES = ("mostlyai.engine._tabular.training", "mostlyai.engine._language.training")


@contextmanager
def cache_in(folder: Path) -> Iterator[None]:
    """While inside, `load_dataset` calls of the engine in this thread cache under `folder`."""
    _install()
    previous = getattr(_local, "folder", None)
    _local.folder = str(folder)
    try:
        yield
    finally:
        _local.folder = previous


def _install() -> None:
    import importlib

    with _lock:
        for name in _MODULES:
            module = importlib.import_module(name)
            original = module.load_dataset
            if getattr(original, "_ffwd", False):
                continue
            module.load_dataset = _redirected(original)


def _redirected(original):
    def load_dataset(*args: Any, **kwargs: Any):
        folder = getattr(_local, "folder", None)
        if folder is not None:
            kwargs.setdefault("cache_dir", folder)
        return original(*args, **kwargs)

    load_dataset._ffwd = True
    return load_dataset
