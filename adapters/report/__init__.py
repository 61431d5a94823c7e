"""The quality report: how closely synthetic tables follow the user's original tables."""

from ffwd.adapters.report.writer import QualityReport

__all__ = ["QualityReport"]
