"""Running a generator in the terminal: the live panel, and Ctrl-C as stop, then cancel."""

import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any
from uuid import UUID

from rich.console import Console
from rich.live import Live

from ffwd.adapters.cli.facts import curves
from ffwd.adapters.cli.options import who
from ffwd.adapters.cli.panel import render
from ffwd.application.service import GeneratorService
from ffwd.application.views import GeneratorView

REFRESH_S = 0.25


class PipelineThread(threading.Thread):
    """Runs the pipeline in the background, so the foreground can draw and take Ctrl-C."""

    def __init__(self, svc: GeneratorService, gid: UUID, progress_interval_s: float) -> None:
        super().__init__(name="pipeline", daemon=True)
        self.svc, self.gid, self.interval = svc, gid, progress_interval_s
        self.error: BaseException | None = None
        self.ended = threading.Event()
        self.wake = threading.Event()  # set when it ends, and by each Ctrl-C

    def run(self) -> None:
        try:
            self.svc.run(self.gid, progress_interval_s=self.interval)
        except BaseException as e:  # handed to the foreground, which reports it
            self.error = e
        finally:
            self.ended.set()
            self.wake.set()


class CtrlC:
    """Counts Ctrl-C presses instead of raising KeyboardInterrupt, while inside.

    A KeyboardInterrupt can land anywhere, e.g. inside `Thread.join`, after which Python 3.11
    may report a running thread as ended (the CLI then exited and stranded the generator), or
    inside the handling of the previous press. Counting in a signal handler and acting in the
    loop avoids both. Outside the main thread (no signals there), or where Ctrl-C is ignored,
    it counts nothing.
    """

    def __init__(self, wake: threading.Event) -> None:
        self.wake, self.presses, self._previous = wake, 0, None
        self.terminated, self._previous_term = False, None

    def __enter__(self) -> "CtrlC":
        main = threading.current_thread() is threading.main_thread()
        if main and signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:  # e.g. nohup
            self._previous = signal.signal(signal.SIGINT, self._pressed)
        if main:  # SIGTERM (a preemption) too: counted here, acted on in the loop
            self._previous_term = signal.signal(signal.SIGTERM, self._terminated)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
        if self._previous_term is not None:
            signal.signal(signal.SIGTERM, self._previous_term)

    def _pressed(self, signum: int, frame: object) -> None:
        self.presses += 1
        self.wake.set()

    def _terminated(self, signum: int, frame: object) -> None:
        self.terminated = True
        self.wake.set()


def run_in_terminal(
    svc: GeneratorService,
    gid: UUID,
    console: Console,
    *,
    on_tick: Callable[[GeneratorView], None] | None = None,
    progress_interval_s: float = 1.0,
) -> GeneratorView:
    """Run and draw until the generator ends. First Ctrl-C stops the running phases,
    the second cancels the generator; SIGTERM hands the running phases back (preemption)
    for a worker to resume, and returns once they are."""
    pipeline = PipelineThread(svc, gid, progress_interval_s)
    hint = "Ctrl-C stops the running phase(s) gracefully; twice cancels the generator"
    handled, preempted = 0, False
    draw = Drawing(svc)
    live = (
        Live(draw(svc.get_view(gid), hint), console=console, auto_refresh=False, transient=False)
        if console.is_terminal
        else None
    )
    with CtrlC(pipeline.wake) as ctrl_c:
        pipeline.start()
        if live:
            live.start()
        try:
            while True:
                pipeline.wake.wait(REFRESH_S)
                pipeline.wake.clear()
                if ctrl_c.terminated and not preempted:
                    preempted = True
                    svc.preempt()
                    hint = "Terminated: the running phases are handed back for a worker to resume."
                    if not live:
                        print(hint, file=sys.stderr)
                while handled < ctrl_c.presses:
                    handled += 1
                    hint = _interrupt(svc, gid, handled)
                    if not live:
                        print(hint, file=sys.stderr)
                if pipeline.ended.is_set():
                    break
                view = svc.get_view(gid)
                if on_tick:
                    on_tick(view)
                if live:
                    live.update(draw(view, hint), refresh=True)
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
    view, draw = svc.get_view(gid), Drawing(svc)
    with Live(draw(view), console=console, auto_refresh=False) as live:
        while view.state not in ("succeeded", "failed", "cancelled"):
            time.sleep(REFRESH_S)
            view = svc.get_view(gid)
            live.update(draw(view), refresh=True)
    return view


class Drawing:
    """Draws the panel with each phase's curve, read again only when the view changed."""

    def __init__(self, svc: GeneratorService) -> None:
        self.svc = svc
        self._version = -1
        self._curves: dict = {}

    def __call__(self, view: GeneratorView, hint: str = "") -> Any:
        if view.version != self._version:
            self._version, self._curves = view.version, curves(self.svc, view)
        return render(view, hint, self._curves)
