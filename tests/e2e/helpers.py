"""Helpers of the end-to-end tests: the spec, reading views and histories, and acting while
a pipeline runs (in the training thread at a precise event, or from the test's thread)."""

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from ffwd.application.service import GeneratorService
from ffwd.application.views import GeneratorView, HistoryEntry, PhaseView

TIMEOUT_S = 60.0
PHASES = ["tabular", "text:customers", "text:orders"]
STEPS = ["synthesis", "report"]
ROWS = {"customers": 200, "orders": 150}
STEPS_PER_EPOCH = 9  # 300 rows, 30 held out for validation, batches of 32


def make_spec(
    *, engine: str = "reference", kind: str = "training", **training: Any
) -> dict[str, Any]:
    """The two tables, each with one declared text column; small, fast training."""
    spec: dict[str, Any] = {
        "name": "e2e-shop",
        "kind": kind,
        "engine": engine,
        "tables": [
            {"name": "customers", "path": "customers.csv", "text_columns": ["bio"]},
            {"name": "orders", "path": "orders.csv", "text_columns": ["review"]},
        ],
        "synthesis": {"rows": dict(ROWS)},
    }
    if kind == "training":
        spec["training"] = {"batch_size": 32, "early_stopping_patience": None, **training}
    return spec


# Reading views and histories.


def phase(view: GeneratorView, phase_id: str) -> PhaseView:
    return next(p for p in view.phases if p.id == phase_id)


def step_states(view: GeneratorView) -> dict[str, str]:
    return {s.id: s.state for s in view.steps}


def entries(
    history: list[HistoryEntry], type_: str, phase_id: str | None = None
) -> list[HistoryEntry]:
    return [e for e in history if e.type == type_ and (phase_id is None or e.phase == phase_id)]


def files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def wait_for(
    svc: GeneratorService,
    gid: UUID,
    condition: Callable[[GeneratorView], bool],
    timeout_s: float = TIMEOUT_S,
) -> GeneratorView:
    deadline = time.monotonic() + timeout_s
    while True:
        view = svc.get_view(gid)
        if condition(view):
            return view
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting; last view: {view.model_dump_json(indent=1)}")
        time.sleep(0.01)


# Acting while a pipeline runs.


class OnEvent:
    """Calls `action` once, in the thread that stored it, right after the first stored event
    named `event` (of `phase_id`, if given): e.g. a stop as soon as a phase's first progress
    is saved. The action's result (or error) is kept for the test."""

    def __init__(
        self,
        svc: GeneratorService,
        event: str,
        phase_id: str | None,
        action: Callable[[], Any],
    ) -> None:
        self.event, self.phase_id, self.action = event, phase_id, action
        self.fired = threading.Event()
        self._lock = threading.Lock()
        self._result: Any = None
        self._error: BaseException | None = None
        self.unsubscribe = svc.subscribe(self)

    def __call__(self, events: Any) -> None:
        match = any(
            type(e).__name__ == self.event
            and (self.phase_id is None or getattr(e, "phase", None) == self.phase_id)
            for e in events
        )
        if not match:
            return
        with self._lock:
            if self.fired.is_set():
                return
            self.fired.set()
        try:
            self._result = self.action()
        except BaseException as e:  # handed to the test, not to the training thread
            self._error = e

    def result(self) -> Any:
        assert self.fired.is_set(), f"no {self.event} event of {self.phase_id} was stored"
        if self._error is not None:
            raise self._error
        return self._result


class Background:
    """`svc.run(gid)` in a thread, so the test can act while the pipeline runs."""

    def __init__(self, svc: GeneratorService, gid: UUID, progress_interval_s: float) -> None:
        self.view: GeneratorView | None = None
        self.error: BaseException | None = None

        def run() -> None:
            try:
                self.view = svc.run(gid, progress_interval_s=progress_interval_s)
            except BaseException as e:
                self.error = e

        self.thread = threading.Thread(target=run, name=f"run-{gid}", daemon=True)
        self.thread.start()

    def join(self, timeout_s: float = TIMEOUT_S) -> GeneratorView:
        self.thread.join(timeout_s)
        assert not self.thread.is_alive(), f"the pipeline did not end within {timeout_s} s"
        if self.error is not None:
            raise self.error
        assert self.view is not None
        return self.view
