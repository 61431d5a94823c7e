"""Use cases and ports of ffwd: what embedded callers, the CLI and the HTTP API drive."""

from ffwd.application.spec import GeneratorSpec
from ffwd.application.views import GeneratorSummary, GeneratorView, HistoryEntry

__all__ = ["GeneratorSpec", "GeneratorSummary", "GeneratorView", "HistoryEntry"]
