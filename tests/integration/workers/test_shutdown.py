"""SIGTERM to a worker in the middle of a phase: it claims nothing more, hands the phase in
hand back at its next step boundary with its checkpoint (no takeover needed, nothing lost)
and exits 0."""

import signal
from datetime import UTC, datetime
from pathlib import Path

from tests.integration.workers.conftest import wait_until
from tests.integration.workers.histories import check_history

CLAIMS = ("PhaseStarted", "StepStarted", "TakenOver")


def test_sigterm_hands_the_phase_in_hand_back_and_claims_nothing_more(
    tmp_path: Path, tables, open_service, workers_on
) -> None:
    store, data = f"sqlite:///{tmp_path / 'store.db'}", tmp_path / "data"
    svc = open_service(store, data)
    gids = [svc.create_generator(tables.spec(f"g{i}", seconds=30)) for i in range(2)]
    pool = workers_on(store, data)
    (proc,) = pool.start(1)
    wait_until(lambda: svc.get_view(gids[0]).phases[0].step > 0, 60, "the phase to train")
    proc.send_signal(signal.SIGTERM)
    asked = datetime.now(UTC)
    assert proc.wait(timeout=30) == 0

    tabular = svc.get_view(gids[0]).phases[0]
    assert (tabular.state, tabular.attempt, tabular.preemptions) == ("pending", 1, 1)
    assert tabular.resumed_from is not None, "the checkpoint reached was not kept"
    events = [e for g in gids for e in svc.store.events(g)]
    claims = [e for e in events if type(e).__name__ in CLAIMS]
    assert claims and all(e.timestamp < asked for e in claims), "claimed after SIGTERM"
    assert not [e for e in events if type(e).__name__ == "TakenOver"]
    assert svc.get_view(gids[1]).state == "queued"
    for gid in gids:
        check_history(list(svc.store.events(gid)), live=svc.store.get(gid))
