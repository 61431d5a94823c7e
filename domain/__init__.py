"""The pure core of ffwd: the generator aggregate and its lifecycle rules."""

from domain.errors import FfwdError

__all__ = ["FfwdError"]
