"""The `ffwd` command line."""

from adapters.cli.app import main

__all__ = ["main"]
