"""The mostlyai-engine adapter (extra `ffwd[mostlyai]`, ADR 0015).

Importing this package imports neither torch nor the engine: they load when a phase trains.
"""

from ffwd.adapters.engines.mostlyai.engine import SUPPORTED, MostlyAIEngine, installed

__all__ = ["SUPPORTED", "MostlyAIEngine", "installed"]
