"""`python -m adapters.cli` is `ffwd`."""

from adapters.cli import main

main()
