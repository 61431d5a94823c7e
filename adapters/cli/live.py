"""Running a generator in the terminal: the live panel, and Ctrl-C as stop, then cancel."""

import getpass
import sys
import threading
import time
from collections.abc import Callable
from uuid import UUID

from rich.console import Console
from rich.live import Live

from adapters.cli.panel import render
from application.service import GeneratorService
from application.views import GeneratorView

REFRESH_S = 0.25


def who() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "cli"


class PipelineThread(threading.Thread):
    """Runs the pipeline in the background, so the foreground can draw and take Ctrl-C."""

    def __init__(self, svc: GeneratorService, gid: UUID, progress_interval_s: float) -> None:
        super().__init__(name="pipeline", daemon=True)
        self.svc, self.gid, self.interval = svc, gid, progress_interval_s
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.svc.run(self.gid, progress_interval_s=self.interval)
        except BaseException as e:  # handed to the foreground, which reports it
            self.error = e


def run_in_terminal(
    svc: GeneratorService,
    gid: UUID,
    console: Console,
    *,
    on_tick: Callable[[GeneratorView], None] | None = None,
    progress_interval_s: float = 1.0,
) -> GeneratorView:
    """Run and draw until the generator ends. First Ctrl-C stops the running phases,
    the second cancels the generator."""
    pipeline = PipelineThread(svc, gid, progress_interval_s)
    pipeline.start()
    hint = "Ctrl-C stops the running phase(s) gracefully; twice cancels the generator"
    interrupts = 0
    live = (
        Live(render(svc.get_view(gid), hint), console=console, auto_refresh=False, transient=False)
        if console.is_terminal
        else None
    )
    if live:
        live.start()
    try:
        while pipeline.is_alive():
            try:
                pipeline.join(REFRESH_S)
                view = svc.get_view(gid)
                if on_tick:
                    on_tick(view)
                if live:
                    live.update(render(view, hint), refresh=True)
            except KeyboardInterrupt:
                interrupts += 1
                hint = _interrupt(svc, gid, interrupts)
                if not live:
                    print(hint, file=sys.stderr)
    finally:
        if live:
            live.stop()
    if pipeline.error:
        raise pipeline.error
    return svc.get_view(gid)


def _interrupt(svc: GeneratorService, gid: UUID, interrupts: int) -> str:
    if interrupts > 1:
        svc.cancel(gid, requested_by=who())
        return "Cancel requested: the generator is being aborted, nothing will be kept."
    running = [p.id for p in svc.get_view(gid).phases if p.state == "running"]
    for phase in running:
        svc.request_stop(gid, phase, requested_by=who())
    if not running:
        return "No phase is training right now; Ctrl-C again cancels the generator."
    return (
        f"Stop requested for {', '.join(running)}: ends at the next step boundary, "
        "the pipeline goes on. Ctrl-C again cancels the generator."
    )


def watch(svc: GeneratorService, gid: UUID, console: Console) -> GeneratorView:
    """Follow a generator run by any process, redrawn from stored events, until it ends."""
    view = svc.get_view(gid)
    with Live(render(view), console=console, auto_refresh=False) as live:
        while view.state not in ("succeeded", "failed", "cancelled"):
            time.sleep(REFRESH_S)
            view = svc.get_view(gid)
            live.update(render(view), refresh=True)
    return view
