"""Embedded use: `svc.subscribe(listener)` tells the listener of "every batch of events this
service stores" (application/service.py): each event once, also while `run` follows the
store for other processes' requests."""

from collections import Counter

from tests.e2e.helpers import PHASES


def test_a_subscriber_hears_each_stored_event_exactly_once(svc, create):
    heard: list[tuple] = []
    unsubscribe = svc.subscribe(
        lambda events: heard.extend((e.originator_id, e.originator_version) for e in events)
    )
    gid = create(max_epochs=2)
    svc.request_stop(gid, "text:orders", requested_by="alice")
    final = svc.run(gid, progress_interval_s=0.05)
    unsubscribe()
    assert final.state == "succeeded"
    assert [p.state for p in final.phases] == ["succeeded"] * len(PHASES)
    stored = [(gid, e.version) for e in svc.history(gid)]
    heard_twice = sorted(v for (_, v), n in Counter(heard).items() if n > 1)
    assert heard_twice == []
    assert sorted(heard) == stored
