"""What every `ffwd` command shares: its options, who is asking, and its service.

Only typer and the standard library are imported here: `ffwd --help` and the quick
commands load nothing else (ADR 0019).
"""

import getpass
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from ffwd.application.service import GeneratorService

DEFAULT_STORE = "sqlite:///.ffwd/store.db"  # the same as adapters.storage.urls.DEFAULT_STORE
DEFAULT_DATA = ".ffwd/data"  # the same as adapters.container.DEFAULT_DATA
NOTIFY_ENV = "FFWD_NOTIFY"  # the same as adapters.notify.config.ENV_VAR
# How long a command waits for another process's lock on an SQLite store (`--lock-timeout`,
# set for the whole command line before a command runs).
settings = {"lock_timeout_s": 5.0}

Store = Annotated[
    str,
    typer.Option(
        "--store",
        envvar="FFWD_STORE",
        help="memory://, sqlite:///PATH or postgresql://user:pass@host:port/db",
        show_default=True,
    ),
]
Data = Annotated[
    str,
    typer.Option(
        "--data",
        envvar="FFWD_DATA",
        help="Where checkpoints, synthetic data and reports go.",
        show_default=True,
    ),
]
Generator = Annotated[
    str, typer.Argument(help="Generator id, or a unique prefix of 8+ characters.")
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of a panel.")]
NotifyOption = Annotated[
    str | None,
    typer.Option(
        "--notify",
        envvar=NOTIFY_ENV,
        metavar="CONFIG",
        help="Deliver lifecycle notices per this YAML/JSON file while running (see README).",
    ),
]


def who() -> str:
    """The person asking, for `requested_by`: the login name."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "cli"


def service(store: str, data: str) -> "GeneratorService":
    from ffwd.adapters.container import build_service

    return build_service(store=store, data=data, lock_timeout_s=settings["lock_timeout_s"])


def console() -> "Console":
    from rich.console import Console

    return Console()
