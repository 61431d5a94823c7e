"""The pure core of ffwd: the generator aggregate and its lifecycle rules."""

from ffwd.domain.errors import FfwdError

__all__ = ["FfwdError"]
