"""`kill -9` of a worker in the middle of a phase, ten times over a run, on PostgreSQL and on
SQLite (several processes on one machine): a replacement starts each time, the dead worker's
phase is taken over when its lease runs out and resumes from its last kept checkpoint, and
every generator still succeeds, with nothing lost and no phase run by two attempts at once."""

import time
from pathlib import Path

import pytest

from tests.integration.workers.conftest import (
    all_ended,
    views,
    wait_until,
)
from tests.integration.workers.histories import check_history

KILLS = 10
WORKERS = 4
GENERATORS = 16


@pytest.fixture(params=["postgresql", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return request.getfixturevalue("fresh_postgres_url")


def test_kill_9_in_the_middle_of_phases(
    store: str, tmp_path: Path, tables, open_service, workers_on, feed_log
) -> None:
    data = tmp_path / "data"
    svc = open_service(store, data)
    feed = feed_log(svc)
    gids = [
        svc.create_generator(tables.spec(f"g{i}", phases=2 + i % 2, seconds=1.2))
        for i in range(GENERATORS)
    ]
    pool = workers_on(store, data)
    pool.start(WORKERS)

    killed: list[tuple[str, object, str, int]] = []  # worker, generator, phase, attempt
    deadline = time.monotonic() + 150
    while len(killed) < KILLS and time.monotonic() < deadline:
        # A phase in the middle of its training (it has reported progress), held by a live
        # worker of ours: kill that worker, and start another in its place.
        mid_phase = [
            (v.id, p)
            for v in views(svc, gids)
            for p in v.phases
            if p.state == "running" and p.step > 0
        ]
        holders = {}
        for gid, p in mid_phase:
            worker = svc.get_generator(gid).phases[p.id].worker
            proc = pool.by_name(worker)
            if proc is not None and proc.poll() is None:
                holders[worker] = (gid, p.id, p.attempt, proc)
        if not holders:
            time.sleep(0.05)
            continue
        worker, (gid, phase, attempt, proc) = sorted(holders.items())[0]
        pool.kill(proc)
        pool.start(1)
        after = svc.get_generator(gid).phases[phase]
        if after.state in ("running", "stopping") and after.attempt == attempt:
            killed.append((worker, gid, phase, attempt))  # it died holding the phase
        time.sleep(0.5)
    assert len(killed) == KILLS, f"only {len(killed)} kills before the run ended"

    wait_until(lambda: all_ended(svc, gids), 180, "every generator to end")
    codes = pool.terminate()
    assert set(codes.values()) == {0}, f"workers did not exit cleanly on SIGTERM: {codes}"

    # Every generator succeeded, every history keeps every invariant (among them: after a
    # takeover, only the new attempt reports; counters never go back).
    final = {v.id: v for v in views(svc, gids)}
    assert {g: v.error for g, v in final.items() if v.state != "succeeded"} == {}
    takeovers = []
    stored = []
    for gid in gids:
        events = list(svc.store.events(gid))
        facts = check_history(events, live=svc.store.get(gid))
        takeovers += [(gid, part, attempt, prev) for part, attempt, prev in facts["takeovers"]]
        stored += [(gid, e.originator_version) for e in events]
        # A resumed attempt started from the checkpoint the dead one had kept last.
        g = None
        for e in events:
            if type(e).__name__ == "TakenOver" and e.part in g.phases:
                kept = g.phases[e.part].last_kept
                assert (e.resume_from or {}).get("id") == (kept or {}).get("id")
            g = e.mutate(g)

    # Each killed worker's phase was taken over from it: visible in the history.
    for worker, gid, phase, attempt in killed:
        assert any(
            (g, part, prev) == (gid, phase, worker) and new > attempt
            for g, part, new, prev in takeovers
        ), f"{phase} of {gid} held by killed {worker} was never taken over"
    assert len(takeovers) >= KILLS

    # No data lost: every phase's checkpoint and every output is on disk and readable.
    for gid, view in final.items():
        for p in view.phases:
            folder = data / "checkpoints" / str(gid) / p.id.replace(":", "-")
            assert (folder / f"{p.checkpoint.id}.json").is_file(), (gid, p.id)
        synthetic = view.outputs["synthetic"]
        for path in [view.outputs["report"], *synthetic.values()]:
            assert Path(path).is_file(), path
        assert all(len(Path(p).read_text().splitlines()) > 1 for p in synthetic.values())

    # The feed of the test process delivered every stored event exactly once.
    wait_until(lambda: len(feed.delivered) >= len(stored), 10, "the feed to catch up")
    feed.stop()
    assert feed.duplicates() == []
    assert sorted(feed.delivered) == sorted(stored)
