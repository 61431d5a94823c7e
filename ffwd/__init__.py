"""ffwd: stop, pre-queue, cancel and continue the training phases of synthetic-data
generators, event-sourced.

    from ffwd import build_service

    svc = build_service(store="sqlite:///ffwd.db", data="ffwd-data")
    gid = svc.create_generator(spec)

The names below load on first use: every `ffwd.*` module imports this package first, and the
command line must not pay for the container, the engines or pydantic where it needs none.
"""

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.2.0"

if TYPE_CHECKING:
    from ffwd.adapters.container import build_service
    from ffwd.application.service import GeneratorService
    from ffwd.application.spec import GeneratorSpec
    from ffwd.application.views import GeneratorSummary, GeneratorView, HistoryEntry
    from ffwd.domain.errors import FfwdError

_HOMES = {
    "build_service": "ffwd.adapters.container",
    "GeneratorService": "ffwd.application.service",
    "GeneratorSpec": "ffwd.application.spec",
    "GeneratorView": "ffwd.application.views",
    "GeneratorSummary": "ffwd.application.views",
    "HistoryEntry": "ffwd.application.views",
    "FfwdError": "ffwd.domain.errors",
}

__all__ = [
    "FfwdError",
    "GeneratorService",
    "GeneratorSpec",
    "GeneratorSummary",
    "GeneratorView",
    "HistoryEntry",
    "__version__",
    "build_service",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'ffwd' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_HOMES})
