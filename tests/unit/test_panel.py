"""The terminal panel: why each phase ended is shown in any terminal, even 80 columns wide."""

import re
from pathlib import Path

import pytest
from rich.console import Console

from ffwd.adapters.cli.panel import render
from ffwd.adapters.container import build_service

CSV = "id,age,bio\n" + "".join(f"{i},{20 + i},writes about cats number {i}\n" for i in range(40))
CHECKPOINT = {"id": "a1-e1-s3", "epoch": 1, "step": 3, "val_loss": 1.5}


def shown(view, width: int) -> str:
    console = Console(width=width, record=True, color_system=None)
    console.print(render(view))
    # Words in reading order, whatever the wrapping: without the panel's borders.
    return " ".join(re.sub("[│╭╮╰╯─]", " ", console.export_text()).split())


@pytest.fixture
def view(tmp_path: Path):
    (tmp_path / "people.csv").write_text(CSV)
    svc = build_service("memory://")
    gid = svc.create_generator(
        {"name": "g", "tables": [{"name": "people", "path": str(tmp_path / "people.csv")}]}
    )
    svc.request_stop(gid, "text:people", requested_by="ann")
    attempt = svc.start_phase(gid, "tabular", "w1")
    svc.request_stop(gid, "tabular", requested_by="ann")
    reasons = ["early_stopped"]
    outcome = {"checkpoint": CHECKPOINT, "epoch": 1, "step": 4, "elapsed_s": 0.5}
    svc.finish_phase(gid, "tabular", attempt, reasons=reasons, **outcome)
    return svc.get_view(gid)


@pytest.mark.parametrize("width", [80, 100, 160])
def test_reasons_and_queued_stops_show_at_every_width(view, width) -> None:
    text = shown(view, width)
    assert "Manually stopped" in text and "Early stopped" in text
    assert "stop requested (pre-queued)" in text
    assert ("━" in text) == (width >= 100)  # the epochs bar is what gives way


def test_an_anonymization_generator_says_it_has_no_phase(tmp_path: Path) -> None:
    (tmp_path / "people.csv").write_text(CSV)
    svc = build_service("memory://")
    spec = {
        "name": "a",
        "kind": "anonymization",
        "tables": [{"name": "people", "path": "people.csv"}],
    }
    text = shown(svc.get_view(svc.create_generator(spec, base_dir=tmp_path)), 100)
    assert "No training phase" in text and "anonymize" in text and "reasons" not in text
