"""The PostgreSQL server restarts while four workers run generators: once at once
(`pg_ctl restart -m fast`, every connection cut), once staying down longer than a lease. The
same worker processes reconnect and carry on; every generator ends, and succeeds."""

from datetime import UTC, datetime
from pathlib import Path

from tests.integration.workers.conftest import (
    WORKER_LEASE_S,
    all_ended,
    views,
    wait_until,
)
from tests.integration.workers.histories import check_history

WORKERS = 4
GENERATORS = 12
CLAIMS = ("PhaseStarted", "StepStarted", "TakenOver")


def test_workers_reconnect_after_the_server_restarts(
    postgres_server, tmp_path: Path, tables, open_service, workers_on, feed_log
) -> None:
    url = postgres_server.create_database()
    data = tmp_path / "data"
    svc = open_service(url, data)
    feed = feed_log(svc)
    gids = [
        svc.create_generator(tables.spec(f"g{i}", phases=2 + i % 2, seconds=1.0))
        for i in range(GENERATORS)
    ]
    pool = workers_on(url, data)
    started = pool.start(WORKERS)

    def succeeded() -> int:
        return sum(v.state == "succeeded" for v in views(svc, gids))

    wait_until(lambda: succeeded() >= 2, 120, "two generators to succeed")
    postgres_server.restart()
    restarted = datetime.now(UTC)
    wait_until(lambda: succeeded() >= 5, 120, "three more generators after the restart")
    postgres_server.restart(down_s=WORKER_LEASE_S * 1.5)
    down_again = datetime.now(UTC)

    wait_until(lambda: all_ended(svc, gids), 180, "every generator to end")
    assert [p.poll() for p in started] == [None] * WORKERS, "a worker died with the server"
    codes = pool.terminate()
    assert set(codes.values()) == {0}, f"workers did not exit cleanly on SIGTERM: {codes}"

    final = {v.id: v for v in views(svc, gids)}
    assert {g: v.error for g, v in final.items() if v.state != "succeeded"} == {}
    stored, claims = [], []
    for gid in gids:
        events = list(svc.store.events(gid))
        check_history(events, live=svc.store.get(gid))
        stored += [(gid, e.originator_version) for e in events]
        claims += [(e.worker, e.timestamp) for e in events if type(e).__name__ in CLAIMS]
    # Every worker process claimed work again after each restart: they carried on.
    for proc in started:
        name = pool.name(proc)
        after = [when for worker, when in claims if worker == name]
        assert any(when > restarted for when in after), f"{name} idle after the restart"
    assert any(when > down_again for _, when in claims), "nothing claimed after the outage"

    # The test process's own feed reconnected too: every event, exactly once.
    wait_until(lambda: len(feed.delivered) >= len(stored), 15, "the feed to catch up")
    feed.stop()
    assert feed.duplicates() == []
    assert sorted(feed.delivered) == sorted(stored)
