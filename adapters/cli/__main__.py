"""`python -m ffwd.adapters.cli` is `ffwd`."""

from ffwd.adapters.cli import main

main()
