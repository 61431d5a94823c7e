"""Every event type, delivered to a real HTTP endpoint on loopback, signed and in order."""

import json
from collections import defaultdict

import pytest

from ffwd.adapters.notify import start_delivery, verify_headers
from ffwd.adapters.notify.notices import ALL_TYPES, DEFAULT_EVENTS
from ffwd.adapters.notify.signing import InvalidSignature
from tests.integration.notify.conftest import (
    SECRET,
    cancelled,
    failed_step,
    preempted,
    private,
    stopped_then_failed,
    succeeded,
    webhook,
)


def test_every_event_type_is_delivered_signed_with_its_payload(svc, sample_spec, receiver):
    delivery = start_delivery(svc.store, webhook(receiver.url))
    try:
        makers = (stopped_then_failed, succeeded, cancelled, failed_step, private, preempted)
        gids = [make(svc, sample_spec) for make in makers]
        histories = [svc.history(g) for g in gids]
        expected = sum(1 for h in histories for e in h if e.type != "Heartbeat")
        requests = receiver.wait_for(expected)
    finally:
        assert delivery.stop()
    assert all(r.verified for r in requests)
    bodies = [r.json for r in requests]
    # Every lifecycle type notified here; heartbeats (bookkeeping) never do.
    assert {b["type"] for b in bodies} == set(ALL_TYPES)
    assert any(e.type == "Heartbeat" for h in histories for e in h)
    assert len(bodies) == expected
    for r, b in zip(requests, bodies, strict=True):
        assert r.headers["Idempotency-Key"] == b["id"] == f"{b['generator_id']}:{b['version']}"
        assert r.headers["X-Ffwd-Event"] == b["type"]
        assert b["schema"] == "ffwd.notification/1"
        assert b["link"] == f"http://ffwd.test/generators/{b['generator_id']}"
        assert b["occurred_at"].endswith("Z")
    by_type = {b["type"]: b for b in bodies if b["generator_id"] == gids[0]}
    stop = by_type["phase.stop_requested"]
    assert (stop["phase"], stop["requested_by"], stop["state"]) == ("tabular", "alice", "stopping")
    ended = by_type["phase.succeeded"]
    assert ended["reasons"] == ["manually_stopped"]
    assert ended["checkpoint"] == {"id": "ckpt-tabular", "epoch": 2, "step": 20, "val_loss": 1.5}
    assert (ended["data"]["epoch"], ended["data"]["step"]) == (2, 20)
    failed = by_type["phase.failed"]
    assert (failed["phase"], failed["state"], failed["error"]) == (
        "text:customers",
        "failed",
        "out of memory",
    )
    taken = by_type["part.taken_over"]
    assert (taken["phase"], taken["step"]) == ("text:customers", None)
    assert (taken["data"]["worker"], taken["data"]["previous_worker"]) == ("w2", "w1")
    waiting = by_type["part.waiting"]
    assert (waiting["phase"], waiting["data"]["resources"]) == ("text:customers", "1 CPU, 1 GPU")
    assert by_type["generator.failed"]["state"] == "failed"
    gone = next(b for b in bodies if b["type"] == "generator.cancelled")
    assert (gone["requested_by"], gone["state"]) == ("bob", "cancelled")
    step = next(b for b in bodies if b["type"] == "step.failed")
    assert (step["step"], step["error"]) == ("synthesis", "disk full")
    assert next(b for b in bodies if b["type"] == "generator.succeeded")["state"] == "succeeded"
    planned = next(b for b in bodies if b["type"] == "phase.privacy_planned")
    assert (planned["phase"], planned["data"]["noise_multiplier"]) == ("tabular", 2.0)
    # Order per generator is the order of its history.
    versions = defaultdict(list)
    for b in bodies:
        versions[b["generator_id"]].append(b["version"])
    assert all(v == sorted(v) and len(v) == len(set(v)) for v in versions.values())


def test_by_default_only_phase_boundaries_and_outcomes_notify(svc, sample_spec, receiver):
    config = webhook(receiver.url)
    del config["endpoints"][0]["events"]
    with start_delivery(svc.store, config):
        gid = stopped_then_failed(svc, sample_spec)
        receiver.wait_for(6)
    requests = receiver.requests
    assert [r.json["type"] for r in requests] == [
        "phase.started",
        "phase.stop_requested",
        "phase.succeeded",
        "phase.started",
        "phase.failed",
        "generator.failed",
    ]
    assert {r.json["generator_id"] for r in requests} == {gid}
    assert set(DEFAULT_EVENTS).isdisjoint({"phase.progressed", "step.started"})


def test_a_filter_selects_per_endpoint(svc, sample_spec, receiver):
    with start_delivery(svc.store, webhook(receiver.url, events=["generator.*"])):
        stopped_then_failed(svc, sample_spec)
        cancelled(svc, sample_spec)
        receiver.wait_for(6)
    assert [r.json["type"] for r in receiver.requests] == [
        "generator.created",
        "generator.started",
        "generator.failed",
        "generator.created",
        "generator.started",
        "generator.cancelled",
    ]


def test_the_shipped_verifier_rejects_tampering_and_replays(svc, sample_spec, receiver):
    with start_delivery(svc.store, webhook(receiver.url, events=["generator.created"])):
        svc.create_generator(sample_spec)
        (request,) = receiver.wait_for(1)
    verify_headers(SECRET, request.body, request.headers)
    tampered = json.dumps({**request.json, "type": "generator.succeeded"}).encode()
    with pytest.raises(InvalidSignature):
        verify_headers(SECRET, tampered, request.headers)
    with pytest.raises(InvalidSignature):
        verify_headers("another-secret", request.body, request.headers)
    replayed_at = int(request.headers["X-Ffwd-Timestamp"]) + 301
    with pytest.raises(InvalidSignature, match="tolerance"):
        verify_headers(SECRET, request.body, request.headers, now=replayed_at)
