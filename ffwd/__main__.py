"""`python -m ffwd` is `ffwd`."""

from ffwd.adapters.cli import main

main()
