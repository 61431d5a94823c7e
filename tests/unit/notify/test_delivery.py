"""One endpoint's delivery on a memory store with the in-memory notifier: order, bounded
retries, dead letters, restarts from the recorded position, one owner at a time, and a
delivery thread apart from the commands."""

import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ffwd.adapters.notify.delivery import EndpointDelivery, LogSource, RetryPolicy
from ffwd.adapters.notify.logs import LogNotifier
from ffwd.adapters.notify.memory import InMemoryNotifier
from ffwd.adapters.notify.notices import ALL_TYPES, DEFAULT_EVENTS
from ffwd.adapters.notify.recorder import delivery_recorder
from ffwd.adapters.storage.event_store import EventSourcedStore
from ffwd.domain.generator import Generator

FAST = RetryPolicy(max_attempts=3, backoff_s=0.001, max_backoff_s=0.002)


@pytest.fixture
def store() -> Iterator[EventSourcedStore]:
    s = EventSourcedStore("memory://")
    yield s
    s.close()


def delivery(store: EventSourcedStore, notifier: Any, **options: Any) -> EndpointDelivery:
    options = {"types": ALL_TYPES, "policy": FAST, "poll_s": 0.005, "start": "earliest"} | options
    return EndpointDelivery(notifier, LogSource(store.app), delivery_recorder(store.app), **options)


def lifecycle(store: EventSourcedStore) -> Generator:
    """Created, Started, PhaseStarted, StopRequested, PhaseSucceeded: five events."""
    g = Generator.create(name="g", kind="training", spec={}, text_tables=[])
    g.start_phase("tabular", "w1")
    g.request_stop("tabular", "alice")
    g.finish_phase("tabular", 1, reasons=[], checkpoint={"id": "c"}, epoch=1, step=1, elapsed_s=1)
    store.save(g)
    return g


def eventually(done: Callable[[], bool], timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not done():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_notices_go_out_in_order_once_each(store) -> None:
    notifier = InMemoryNotifier(events=ALL_TYPES)
    d = delivery(store, notifier).start()
    gens = [lifecycle(store) for _ in range(3)]
    assert d.stop(drain_s=5)
    assert notifier.keys == [f"{g.id}:{v}" for g in gens for v in range(1, 6)]
    assert d.record().position == 15 and d.record().delivered == 15


def test_only_wanted_types_are_sent(store) -> None:
    notifier = InMemoryNotifier(events=DEFAULT_EVENTS)
    d = delivery(store, notifier).start()
    lifecycle(store)
    assert d.stop(drain_s=5)
    assert [n.type for n in notifier.notices] == [
        "phase.started",
        "phase.stop_requested",
        "phase.succeeded",
    ]


def test_failures_are_retried_then_dead_lettered_and_delivery_moves_on(store) -> None:
    notifier = InMemoryNotifier(events=["generator.created"])
    notifier.fail_next(3 + 1)  # all three attempts at the first, and the first at the second
    d = delivery(store, notifier).start()
    first, second = lifecycle(store), lifecycle(store)
    assert d.stop(drain_s=5)
    assert notifier.attempts == [(f"{first.id}:1", n) for n in (1, 2, 3)] + [
        (f"{second.id}:1", 1),
        (f"{second.id}:1", 2),
    ]
    assert notifier.keys == [f"{second.id}:1"]
    (letter,) = d.recorder.dead_letters("memory")
    assert (letter.key, letter.attempts) == (f"{first.id}:1", 3)
    record = d.record()
    assert (record.delivered, record.dead_lettered, record.failing) == (1, 1, False)


def test_dead_letters_are_redelivered_oldest_first_and_leave_the_dead_letters(store) -> None:
    notifier = InMemoryNotifier(events=["generator.created"])
    notifier.fail_next(3 + 3)  # every attempt at the first two notices
    d = delivery(store, notifier).start()
    first, second, third = lifecycle(store), lifecycle(store), lifecycle(store)
    assert d.stop(drain_s=5)
    assert notifier.keys == [f"{third.id}:1"]
    assert d.record().failing is False and d.record().dead_lettered == 2

    notifier.fail_next(3)  # the oldest fails again, the next goes out
    results = d.redeliver()
    assert [(letter.key, error is None) for letter, error in results] == [
        (f"{first.id}:1", False),
        (f"{second.id}:1", True),
    ]
    assert notifier.keys == [f"{third.id}:1", f"{second.id}:1"]
    (left,) = d.recorder.dead_letters("memory")
    assert left.key == f"{first.id}:1"
    record = d.record()
    assert (record.delivered, record.dead_lettered, record.failing) == (2, 1, False)
    assert record.last_dead_id == left.notification_id
    assert [error for _, error in d.redeliver()] == [None]
    assert d.recorder.dead_letters("memory") == [] and d.record().last_dead_id is None
    assert d.recorder.redelivered("memory", left.notification_id) is False  # counted once


def test_a_refusal_is_tried_once(store) -> None:
    notifier = InMemoryNotifier(events=["generator.created"])
    notifier.fail_next(1, retryable=False)
    d = delivery(store, notifier).start()
    lifecycle(store)
    assert d.stop(drain_s=5)
    assert len(notifier.attempts) == 1 and d.record().failing


def test_a_restart_goes_on_from_the_recorded_position(store) -> None:
    first = InMemoryNotifier(events=ALL_TYPES)
    d = delivery(store, first).start()
    lifecycle(store)
    assert d.stop(drain_s=5)
    later = lifecycle(store)  # stored while nobody delivers
    again = InMemoryNotifier(events=ALL_TYPES)
    d = delivery(store, again).start()
    assert d.stop(drain_s=5)
    assert again.keys == [f"{later.id}:{v}" for v in range(1, 6)]


def test_a_new_endpoint_starts_at_the_latest_by_default(store) -> None:
    lifecycle(store)
    notifier = InMemoryNotifier(events=ALL_TYPES)
    d = delivery(store, notifier, start="latest").start()
    g = lifecycle(store)
    assert d.stop(drain_s=5)
    assert notifier.keys == [f"{g.id}:{v}" for v in range(1, 6)]


def test_one_owner_delivers_to_an_endpoint_at_a_time(store) -> None:
    a, b = InMemoryNotifier(events=ALL_TYPES), InMemoryNotifier(events=ALL_TYPES)
    first = delivery(store, a, owner="a", lease_s=60).start()
    second = delivery(store, b, owner="b", lease_s=60).start()
    lifecycle(store)
    assert first.stop(drain_s=5)
    assert len(a.notices) == 5 and b.notices == []
    lifecycle(store)  # `a` released its lease when it stopped: `b` takes over
    eventually(lambda: len(b.notices) == 5)
    second.stop()


def test_a_held_delivery_runs_in_its_own_thread_and_commands_go_on(store) -> None:
    notifier = InMemoryNotifier(events=ALL_TYPES)
    notifier.hold()
    d = delivery(store, notifier).start()
    lifecycle(store)
    assert notifier.waiting.wait(5)
    gens = [lifecycle(store) for _ in range(5)]  # saved while delivery is stuck
    assert all(store.get(g.id).version == 5 for g in gens)
    assert notifier.threads and threading.get_ident() not in notifier.threads
    notifier.release()
    assert d.stop(drain_s=5) and len(notifier.notices) == 30


def test_stop_without_drain_leaves_the_rest_for_next_time(store) -> None:
    notifier = InMemoryNotifier(events=ALL_TYPES)
    notifier.fail_next(100)
    d = delivery(store, notifier, policy=RetryPolicy(5, backoff_s=10, max_backoff_s=10)).start()
    g = lifecycle(store)
    eventually(lambda: len(notifier.attempts) == 1)
    assert not d.stop()  # interrupts the backoff: nothing recorded for the notice
    assert d.record().position == 0 and d.record().dead_lettered == 0
    again = InMemoryNotifier(events=ALL_TYPES)
    assert delivery(store, again).start().stop(drain_s=5)
    assert again.keys[0] == f"{g.id}:1"


def test_backoff_doubles_with_jitter_up_to_the_cap() -> None:
    policy = RetryPolicy(max_attempts=10, backoff_s=1.0, max_backoff_s=8.0)
    for attempt, cap in [(1, 1), (2, 2), (3, 4), (4, 8), (7, 8)]:
        delays = [policy.delay(attempt) for _ in range(200)]
        assert all(cap / 2 <= d <= cap for d in delays)
        assert max(delays) - min(delays) > cap / 10  # jittered, not one fixed delay
    assert policy.delay(1, retry_after_s=5) >= 5
    assert policy.delay(1, retry_after_s=600) <= 8


def test_the_log_notifier_writes_one_json_line_per_notice(store, tmp_path) -> None:
    path = tmp_path / "notify.log"
    notifier = LogNotifier("audit", DEFAULT_EVENTS, str(path))
    d = delivery(store, notifier, types=DEFAULT_EVENTS).start()
    g = lifecycle(store)
    assert d.stop(drain_s=5)
    notifier.close()
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [x["notification"]["type"] for x in lines] == list(DEFAULT_EVENTS[:3])
    first = lines[0]
    assert (first["event"], first["level"], first["endpoint"]) == (
        "ffwd.notification",
        "info",
        "audit",
    )
    assert first["notification"]["id"] == f"{g.id}:3" and first["timestamp"].endswith("Z")
