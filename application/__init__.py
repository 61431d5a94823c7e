"""Use cases and ports of ffwd: what embedded callers, the CLI and the HTTP API drive."""

from application.spec import GeneratorSpec
from application.views import GeneratorSummary, GeneratorView, HistoryEntry

__all__ = ["GeneratorSpec", "GeneratorSummary", "GeneratorView", "HistoryEntry"]
