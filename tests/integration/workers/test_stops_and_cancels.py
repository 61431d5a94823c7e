"""Four `ffwd worker` processes on one PostgreSQL run thirty generators while the test process
(another process, its own service) pre-queues stops, stops running phases and cancels whole
generators: everything ends, every history keeps every invariant, nothing is lost or doubled."""

import random
import time
from pathlib import Path

from ffwd.domain.errors import FfwdError
from tests.integration.workers.conftest import (
    TERMINAL,
    all_ended,
    files_of,
    views,
    wait_until,
)
from tests.integration.workers.histories import check_history

GENERATORS = 30
WORKERS = 4
# Rejections a command may meet because the phase or generator moved on meanwhile.
LATE = {"phase_already_finished", "generator_cancelled", "generator_already_finished"}


def test_stops_and_cancels_from_another_process_reach_four_workers(
    fresh_postgres_url, tmp_path: Path, tables, open_service, workers_on, feed_log
) -> None:
    data = tmp_path / "data"
    svc = open_service(fresh_postgres_url, data)
    feed = feed_log(svc)
    rng = random.Random(6)
    gids = [
        svc.create_generator(tables.spec(f"g{i}", phases=2 + i % 2, seconds=0.8))
        for i in range(GENERATORS)
    ]
    issued: list[tuple[str, object, str | None, str, str]] = []  # kind, gid, phase, by, outcome

    def command(kind: str, gid, phase: str | None) -> None:
        by = f"tester-{len(issued)}"
        try:
            if kind == "stop":
                svc.request_stop(gid, phase, requested_by=by)
            else:
                svc.cancel(gid, requested_by=by)
            outcome = "accepted"
        except FfwdError as e:
            assert e.code in LATE, f"{kind} {phase} of {gid}: unexpected {e.code}: {e}"
            outcome = e.code
        issued.append((kind, gid, phase, by, outcome))

    # Before any worker runs: stops pre-queued on pending phases, two queued generators
    # cancelled.
    late = gids[GENERATORS // 2 :]
    for gid in rng.sample(late, 8):
        command("stop", gid, rng.choice([p.id for p in svc.get_view(gid).phases]))
    for gid in rng.sample(late, 2):
        command("cancel", gid, None)

    pool = workers_on(fresh_postgres_url, data)
    pool.start(WORKERS)

    # While they run: stop running phases, cancel running generators.
    running_stops, running_cancels = 10, 3
    deadline = time.monotonic() + 150
    while (running_stops or running_cancels) and time.monotonic() < deadline:
        if all_ended(svc, gids):
            break
        live = [(v.id, p.id) for v in views(svc, gids) for p in v.phases if p.state == "running"]
        if live:
            gid, phase = rng.choice(live)
            if running_cancels and rng.random() < 0.25:
                command("cancel", gid, None)
                running_cancels -= 1
            elif running_stops:
                command("stop", gid, phase)
                running_stops -= 1
        time.sleep(rng.uniform(0.1, 0.4))

    wait_until(lambda: all_ended(svc, gids), 180, "every generator to end")
    codes = pool.terminate()
    assert set(codes.values()) == {0}, f"workers did not exit cleanly on SIGTERM: {codes}"

    # Every generator ended; none failed.
    final = {v.id: v for v in views(svc, gids)}
    failed = {
        str(g): v.error for g, v in final.items() if v.state not in ("succeeded", "cancelled")
    }
    assert failed == {}

    # Every history keeps every invariant; replay equals the live state and the store's view
    # at past versions.
    stored: list[tuple[object, int]] = []
    stops_by_tag: dict[str, list] = {}
    for gid in gids:
        events = list(svc.store.events(gid))
        facts = check_history(
            events,
            live=svc.store.get(gid),
            view_at=lambda n, gid=gid: svc.get_view(gid, at_version=n),
        )
        assert facts["state"] in TERMINAL
        stored += [(gid, e.originator_version) for e in events]
        for phase, state_then, by in facts["stops"]:
            stops_by_tag.setdefault(by, []).append((gid, phase, state_then))
        if facts["cancelled_by"]:
            stops_by_tag.setdefault(facts["cancelled_by"], []).append((gid, None, "cancel"))

    # Every accepted command is in its history exactly once; no rejected one wrote anything;
    # a phase that was asked to stop and then succeeded says manually_stopped.
    for kind, gid, phase, by, outcome in issued:
        recorded = stops_by_tag.get(by, [])
        if outcome != "accepted":
            assert recorded == [], f"rejected {kind} by {by} was recorded"
            continue
        if kind == "cancel":
            assert recorded == [(gid, None, "cancel")], (by, recorded)
            continue
        assert [(g, p) for g, p, _ in recorded] == [(gid, phase)], (kind, by, recorded)
        ended = next(p for p in final[gid].phases if p.id == phase)
        if ended.state == "succeeded":
            assert "manually_stopped" in ended.reasons, (gid, phase, ended.reasons)
    cancels = [i for i in issued if i[0] == "cancel" and i[4] == "accepted"]
    assert len(cancels) == sum(1 for v in final.values() if v.state == "cancelled")
    kinds = [state for recs in stops_by_tag.values() for _, _, state in recs]
    assert {"pending", "running", "cancel"} <= set(kinds), f"the test missed a kind: {kinds}"

    # What the workers left: every succeeded generator's outputs and checkpoints are there;
    # a cancelled one keeps no file.
    for gid, view in final.items():
        if view.state == "succeeded":
            synthetic = view.outputs["synthetic"]
            outputs = [Path(view.outputs["report"]), *map(Path, synthetic.values())]
            assert len(synthetic) == len(view.spec["tables"]), view.outputs
            assert all(p.is_file() for p in outputs), view.outputs
            for p in view.phases:
                ckpt = data / "checkpoints" / str(gid) / p.id.replace(":", "-")
                assert (ckpt / f"{p.checkpoint.id}.json").is_file(), (gid, p.id)
    cancelled = [g for g, v in final.items() if v.state == "cancelled"]
    wait_until(
        lambda: not any(files_of(data, g) for g in cancelled),
        10,
        "the files of cancelled generators to be removed",
    )

    # The feed delivered every stored event to this process exactly once.
    wait_until(lambda: len(feed.delivered) >= len(stored), 10, "the feed to catch up")
    feed.stop()
    assert feed.duplicates() == []
    assert sorted(feed.delivered) == sorted(stored)
