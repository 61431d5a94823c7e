"""The reference engines: numpy models with real validation loss and DP-SGD."""

from ffwd.adapters.engines.reference.engine import ReferenceEngine

__all__ = ["ReferenceEngine"]
