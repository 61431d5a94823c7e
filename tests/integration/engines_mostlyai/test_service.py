"""The whole pipeline on mostlyai-engine through the service: the engine is registered by the
container when installed; a stop while running, a pre-queued stop, synthesis, the report, and
continue training."""

import csv
import threading
import time
from pathlib import Path

from ffwd.adapters.container import build_service


def test_stop_pre_queued_stop_synthesis_and_continue_through_the_service(
    customers_csv: Path, tmp_path: Path
) -> None:
    svc = build_service("memory://", str(tmp_path / "data"))
    assert "mostlyai" in svc.engines
    spec = {
        "name": "mostlyai",
        "engine": "mostlyai",
        "tables": [{"name": "customers", "path": str(customers_csv), "text_columns": ["bio"]}],
        "training": {
            "max_epochs": 30,
            "batch_size": 16,
            "early_stopping_patience": None,
            "max_training_time_s": None,
        },
    }
    gid = svc.create_generator(spec)
    svc.request_stop(gid, "text:customers", requested_by="test")  # pre-queued

    stopped_at: list[int] = []

    def stop_while_running() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            tabular = svc.get_view(gid).phases[0]
            if tabular.state == "running" and tabular.step >= 2:
                stopped_at.append(tabular.step)
                svc.request_stop(gid, "tabular", requested_by="test")
                return
            time.sleep(0.01)

    stopper = threading.Thread(target=stop_while_running)
    stopper.start()
    view = svc.run(gid, progress_interval_s=0)
    stopper.join()

    assert view.state == "succeeded", view
    tabular, text = view.phases
    assert tabular.reasons == ["manually_stopped"] and tabular.step > stopped_at[0]
    assert tabular.step < 90  # it did not train its 30 epochs
    assert (text.reasons, text.step) == (["manually_stopped"], 1)
    assert [s.state for s in view.steps] == ["succeeded", "succeeded"]
    out = tmp_path / "data" / "outputs" / str(gid) / "customers.csv"
    with open(out, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 60 and list(rows[0]) == ["age", "city", "bio"]

    child = svc.continue_training(gid, {"training": {"max_epochs": 2}})
    view = svc.run(child)
    assert view.state == "succeeded", view
    assert all(p.resumed_from for p in view.phases)
    assert view.phases[1].step > 1  # the text phase went on from its one-step checkpoint
