"""Many clicks at once on one fast-forward button: every request is accepted, and exactly
one StopRequested event is stored."""

import threading
from pathlib import Path
from uuid import UUID

import pytest

from ffwd.adapters.container import build_service
from ffwd.adapters.http import create_app
from tests.integration.http.helpers import TestClient

CLICKS = 16


@pytest.mark.parametrize("store", ["memory", "sqlite"])
@pytest.mark.parametrize("phase_id", ["tabular", "text:customers"])
def test_concurrent_stops_store_exactly_one_stop_requested(
    store: str, phase_id: str, spec, data_dir: Path, tmp_path: Path
):
    url = "memory://" if store == "memory" else f"sqlite:///{tmp_path / 'store.db'}"
    svc = build_service(store=url, data=str(data_dir))
    gid = svc.create_generator(spec)
    svc.start_phase(gid, "tabular", "w")  # tabular running, text:customers pending
    barrier = threading.Barrier(CLICKS)
    answers: list[tuple[int, bool]] = []
    lock = threading.Lock()

    with TestClient(create_app(svc, api_token="")) as client:

        def click() -> None:
            barrier.wait()
            response = client.post(f"/api/generators/{gid}/phases/{phase_id}/stop")
            phase = next(p for p in response.json()["phases"] if p["id"] == phase_id)
            with lock:
                answers.append((response.status_code, phase["stop_requested"]))

        threads = [threading.Thread(target=click) for _ in range(CLICKS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)

    try:
        assert answers == [(202, True)] * CLICKS
        stops = [e for e in svc.history(UUID(str(gid))) if e.type == "StopRequested"]
        assert len(stops) == 1
        assert stops[0].phase == phase_id
    finally:
        svc.store.close()
