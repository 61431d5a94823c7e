"""The terminal panel: why each phase ended is shown in any terminal, even 80 columns wide."""

import re
from pathlib import Path

import pytest
from rich.console import Console

from ffwd.adapters.cli.panel import history_table, render
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


def test_the_privacy_budget_in_words(tmp_path: Path) -> None:
    (tmp_path / "people.csv").write_text(CSV)
    svc = build_service("memory://")
    training = {"max_epochs": 50, "differential_privacy": {"max_epsilon": 1.0}}
    spec = {"name": "p", "tables": [{"name": "people", "path": "people.csv"}], "training": training}
    gid = svc.create_generator(spec, base_dir=tmp_path)
    text = shown(svc.get_view(gid), 100)
    assert "Privacy budget" in text
    assert "tabular: ε budget 1 (δ 1e-05); noise multiplier chosen for the budget when" in text

    attempt = svc.start_phase(gid, "tabular", "w1")
    plan = {"calibrated": True, "sampling_rate": 0.1, "steps_per_epoch": 10}
    svc.record_privacy(gid, "tabular", attempt, noise_multiplier=4.2, last_step=300, **plan)
    svc.record_progress(gid, "tabular", attempt, epoch=5, step=50, elapsed_s=1.0, epsilon=0.25)
    text = shown(svc.get_view(gid), 100)
    assert "tabular: ε 0.25 of 1 spent (δ 1e-05); noise multiplier 4.2, chosen for the" in text
    assert "the budget ends it in 25 epochs" in text

    svc.record_privacy(gid, "tabular", attempt, noise_multiplier=4.2, last_step=5000, **plan)
    assert "the budget allows 495 more epochs: its epoch limit ends it first" in shown(
        svc.get_view(gid), 100
    )
    svc.record_privacy(gid, "tabular", attempt, noise_multiplier=4.2, last_step=50, **plan)
    assert "the budget is spent: it ends at its next step" in shown(svc.get_view(gid), 100)


def test_no_privacy_budget_without_differential_privacy(view) -> None:
    assert "Privacy budget" not in shown(view, 100)
    assert all(p.privacy is None for p in view.phases)


def test_a_wait_for_resources_in_the_history_in_words(tmp_path: Path) -> None:
    (tmp_path / "people.csv").write_text(CSV)
    svc = build_service("memory://")
    gid = svc.create_generator(
        {"name": "g", "tables": [{"name": "people", "path": str(tmp_path / "people.csv")}]}
    )
    attempt = svc.start_phase(gid, "tabular", "w1")
    svc.wait_for_resources(gid, "tabular", attempt, "1 GPU")
    svc.wait_for_resources(gid, "tabular", attempt, None)
    console = Console(width=160, record=True, color_system=None)
    console.print(history_table(svc.history(gid)))
    rows = [line for line in console.export_text().splitlines() if "PartWaiting" in line]
    assert len(rows) == 2
    assert "waiting for resources: 1 GPU" in rows[0] and "resources=" not in rows[0]
    assert "its resources came free: began" in rows[1]
