"""One BLAS thread: the reference models multiply small matrices, where threads only wait."""

import ctypes
import os
from pathlib import Path

import numpy as np

_SETTERS = (
    "scipy_openblas_set_num_threads64_",
    "scipy_openblas_set_num_threads",
    "openblas_set_num_threads64_",
    "openblas_set_num_threads",
)


def single_thread_blas() -> bool:
    """Set numpy's bundled OpenBLAS to one thread, process-wide, unless the environment
    already chose (OPENBLAS_NUM_THREADS / OMP_NUM_THREADS). True if it was set.

    Measured on 2 busy cores: a tabular step took 32 ms of CPU with OpenBLAS threads and
    0.8 ms with one. Without numpy's bundled OpenBLAS this is a no-op.
    """
    if os.environ.get("OPENBLAS_NUM_THREADS") or os.environ.get("OMP_NUM_THREADS"):
        return False
    root = Path(np.__file__).parent
    for lib in [*root.parent.glob("numpy.libs/*openblas*"), *root.glob(".dylibs/*openblas*")]:
        try:
            handle = ctypes.CDLL(str(lib))
        except OSError:
            continue
        for name in _SETTERS:
            setter = getattr(handle, name, None)
            if setter is not None:
                setter(1)
                return True
    return False
