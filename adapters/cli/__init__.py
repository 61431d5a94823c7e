"""The `ffwd` command line."""

from ffwd.adapters.cli.app import main

__all__ = ["main"]
