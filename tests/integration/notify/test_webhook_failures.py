"""Retries, timeouts, dead letters, and a hanging endpoint that commands never wait for."""

import threading
import time
from collections.abc import Callable
from typing import TypeVar

from ffwd.adapters.notify import start_delivery
from tests.integration.notify.conftest import (
    cancelled,
    notified_keys,
    stopped_then_failed,
    webhook,
)

T = TypeVar("T")


def eventually(read: Callable[[], T], done: Callable[[T], bool], timeout_s: float = 10) -> T:
    deadline = time.monotonic() + timeout_s
    while not done(value := read()):
        assert time.monotonic() < deadline, f"still {value}"
        time.sleep(0.01)
    return value


def test_server_errors_are_retried_until_the_endpoint_takes_the_notice(svc, sample_spec, receiver):
    receiver.answer(500, 503)
    with start_delivery(svc.store, webhook(receiver.url, events=["generator.created"])) as d:
        gid = svc.create_generator(sample_spec)
        requests = receiver.wait_for(3)
    assert [r.key for r in requests] == [f"{gid}:1"] * 3
    assert [r.headers["X-Ffwd-Attempt"] for r in requests] == ["1", "2", "3"]
    assert requests[0].at < requests[1].at < requests[2].at
    (record,) = d.status()
    assert (record.delivered, record.dead_lettered, record.failing) == (1, 0, False)


def test_a_timeout_is_retried(svc, sample_spec, receiver):
    receiver.answer(("sleep", 1.0))
    config = webhook(receiver.url, events=["generator.created"], timeout_s=0.3)
    with start_delivery(svc.store, config) as d:
        gid = svc.create_generator(sample_spec)
        requests = receiver.wait_for(2)
    assert [(r.key, r.headers["X-Ffwd-Attempt"]) for r in requests[:2]] == [
        (f"{gid}:1", "1"),
        (f"{gid}:1", "2"),
    ]
    assert d.status()[0].delivered == 1


def test_a_notice_that_keeps_failing_is_dead_lettered_reported_and_passed(
    svc, sample_spec, receiver, capsys
):
    receiver.answer(500, 500, 500)  # every attempt at the first notice (max_attempts: 3)
    config = webhook(receiver.url, events=["generator.created"])
    with start_delivery(svc.store, config) as d:
        first = svc.create_generator(sample_spec)
        receiver.wait_for(3)
        failing = eventually(lambda: d.status()[0], lambda r: r.dead_lettered == 1)
        second = svc.create_generator(sample_spec)
        requests = receiver.wait_for(4)
    assert [r.key for r in requests] == [f"{first}:1"] * 3 + [f"{second}:1"]
    (record,) = d.status()
    assert (record.delivered, record.dead_lettered, record.failing) == (1, 1, False)
    assert failing.failing and failing.last_error.startswith("HTTP 500")
    (letter,) = d.dead_letters("hook")
    assert (letter.key, letter.attempts, letter.type) == (f"{first}:1", 3, "generator.created")
    assert letter.error.startswith("HTTP 500")
    logged = capsys.readouterr().err
    for line in ("notify.attempt_failed", "notify.dead_lettered", "notify.endpoint_failing"):
        assert f'"event": "{line}"' in logged
    assert '"event": "notify.endpoint_recovered"' in logged


def test_a_refusal_is_not_retried(svc, sample_spec, receiver):
    receiver.answer(400)
    with start_delivery(svc.store, webhook(receiver.url, events=["generator.created"])) as d:
        first = svc.create_generator(sample_spec)
        second = svc.create_generator(sample_spec)
        requests = receiver.wait_for(2)
    assert [r.key for r in requests] == [f"{first}:1", f"{second}:1"]
    assert d.dead_letters("hook")[0].attempts == 1


def test_an_endpoint_nobody_listens_on_is_dead_lettered(svc, sample_spec, receiver):
    receiver.close()  # the port is now closed: connections are refused
    with start_delivery(svc.store, webhook(receiver.url, events=["generator.created"])) as d:
        gid = svc.create_generator(sample_spec)
        assert d.endpoints[0].stop(drain_s=5)
    (letter,) = d.dead_letters("hook")
    assert (letter.key, letter.attempts) == (f"{gid}:1", 3)
    assert "ConnectError" in letter.error


def test_a_hanging_endpoint_never_holds_up_commands(svc, sample_spec, receiver):
    receiver.answer("hang")
    with start_delivery(svc.store, webhook(receiver.url, timeout_s=30, lease_s=120)) as d:
        gids = [svc.create_generator(sample_spec)]
        (hanging,) = receiver.wait_for(1)
        commands = threading.Thread(
            target=lambda: gids.append(cancelled(svc, sample_spec)), daemon=True
        )
        commands.start()
        gids.append(stopped_then_failed(svc, sample_spec))  # on the test's own thread
        commands.join(timeout=20)
        # Every command returned while the endpoint still held the first delivery: delivery
        # runs in its own thread, and no listener of it sits in the service's command path.
        assert not commands.is_alive()
        assert len(receiver.requests) == 1 and hanging.key == f"{gids[0]}:1"
        assert d.endpoints[0].alive and svc._listeners == []
        receiver.release()
        expected = notified_keys(svc, gids)
        receiver.wait_until(lambda requests: {r.key for r in requests} == expected)
    assert len(receiver.requests) == len(expected)
