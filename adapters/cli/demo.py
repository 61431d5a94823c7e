"""`ffwd demo`: the seed page's story on shipped sample data, in about a minute."""

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

import ffwd.adapters.sample_data
from ffwd.adapters.cli.live import run_in_terminal
from ffwd.adapters.cli.panel import reason_labels
from ffwd.application.service import GeneratorService
from ffwd.application.views import GeneratorView

SAMPLE = Path(ffwd.adapters.sample_data.__file__).parent
PRE_QUEUED = "text:orders"


def run_demo(svc: GeneratorService, console: Console) -> GeneratorView:
    spec = json.loads((SAMPLE / "demo.json").read_text())
    gid = svc.create_generator(spec, base_dir=SAMPLE)
    console.print(f"Generator {gid}: {spec['name']} on {SAMPLE}")
    svc.request_stop(gid, PRE_QUEUED, requested_by="demo")
    console.print(f"Pre-queued a stop on {PRE_QUEUED}: it is applied as soon as the phase begins.")
    said = []

    def stop_tabular_once_it_has_a_usable_checkpoint(events: Sequence[Any]) -> None:
        # What the seed page advises: stop when a usable checkpoint is already available. The
        # first kept checkpoint is stored (and heard here, in the training thread) before the
        # phase's next step boundary, so the stop lands there on any machine: a timed progress
        # report could come after the phase's own policies have ended it.
        for e in events:
            if not said and getattr(e, "phase", None) == "tabular" and getattr(e, "kept", None):
                said.append(e.epoch)
                svc.request_stop(gid, "tabular", requested_by="demo")

    unsubscribe = svc.subscribe(stop_tabular_once_it_has_a_usable_checkpoint)
    try:
        view = run_in_terminal(svc, gid, console, progress_interval_s=0.05)
    finally:
        unsubscribe()
    if said and not console.is_terminal:
        console.print(f"Stop requested for tabular at epoch {said[0]}: a usable checkpoint exists.")
    console.print(timeline(view))
    for table, path in (view.outputs.get("synthetic") or {}).items():
        console.print(f"Synthetic {table}: {path}")
    if "report_html" in view.outputs:
        accuracy = json.loads(Path(view.outputs["report"]).read_text())["accuracy"]
        console.print(f"Quality report (accuracy {accuracy:.1%}): {view.outputs['report_html']}")
    console.print(f"Audit history: ffwd history {str(gid)[:8]}")
    return view


def timeline(view: GeneratorView) -> Table:
    table = Table(title=f"Timeline of {view.name} ({view.state})")
    table.add_column("phase / step", no_wrap=True)
    for column in ("state", "reasons", "epochs", "steps", "elapsed", "val loss"):
        table.add_column(column)
    for p in view.phases:
        table.add_row(
            p.id,
            p.state,
            reason_labels(p.reasons),
            str(p.epoch),
            str(p.step),
            f"{p.elapsed_s:.1f}s",
            "" if p.val_loss is None else f"{p.val_loss:.3f}",
        )
    for s in view.steps:
        took = (s.ended_at - s.started_at).total_seconds() if s.ended_at and s.started_at else 0
        table.add_row(s.id, s.state, "", "", "", f"{took:.1f}s", "")
    return table
