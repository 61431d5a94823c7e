"""The fast-forward and cancel buttons act from another process than the one training (the
web page, `ffwd stop` in a second terminal): a second service on the same SQLite store
stands for it. Its requests reach the running phases only through the store."""

from pathlib import Path

import pytest

from ffwd.adapters.container import build_service
from tests.e2e.helpers import PHASES, Background, files_under, phase, step_states, wait_for

pytestmark = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)


@pytest.fixture
def other(store_url: str, data_dir: Path):
    """Another process's service: same store and data directory, nothing shared in memory."""
    service = build_service(store=store_url, data=str(data_dir))
    try:
        yield service
    finally:
        service.store.close()


def test_a_stop_from_another_process_reaches_the_running_phase(svc, other, create):
    gid = create(max_epochs=100)
    run = Background(svc, gid, progress_interval_s=0.0)
    try:
        wait_for(other, gid, lambda v: phase(v, "tabular").step > 0)
        accepted = other.request_stop(gid, "tabular", requested_by="dana")
        assert phase(accepted, "tabular").state == "stopping"
        queued = other.request_stop(gid, "text:orders", requested_by="dana")
        assert phase(queued, "text:orders").state == "pending"
        wait_for(other, gid, lambda v: phase(v, "text:customers").step > 0)
        other.request_stop(gid, "text:customers", requested_by="dana")
    except BaseException:
        other.cancel(gid, requested_by="cleanup")  # end the run quickly whatever failed
        raise
    final = run.join()
    assert final.state == "succeeded"
    assert [phase(final, p).reasons for p in PHASES] == [["manually_stopped"]] * 3
    assert phase(final, "tabular").epoch < 100
    assert phase(final, "text:customers").epoch < 100
    assert phase(final, "text:orders").step == 1
    assert step_states(final) == {"synthesis": "succeeded", "report": "succeeded"}
    assert other.get_view(gid) == final


def test_a_cancel_from_another_process_aborts_the_run(svc, other, create, data_dir: Path):
    gid = create(max_epochs=100)
    run = Background(svc, gid, progress_interval_s=0.0)
    wait_for(other, gid, lambda v: phase(v, "tabular").step > 0)
    assert other.cancel(gid, requested_by="dana").state == "cancelled"
    final = run.join()
    assert final.state == "cancelled"
    assert {p.id: p.state for p in final.phases} == dict.fromkeys(PHASES, "cancelled")
    assert step_states(final) == {"synthesis": "cancelled", "report": "cancelled"}
    assert [e.type for e in svc.history(gid)][-1] == "Cancelled"
    assert files_under(data_dir) == []
