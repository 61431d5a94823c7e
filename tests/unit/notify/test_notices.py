"""Which events notify under which names, and the payload built from a stored event."""

from uuid import uuid4

import pytest

from ffwd.adapters.notify.notices import (
    ALL_TYPES,
    DEFAULT_EVENTS,
    TOPICS,
    matching,
    notice_of,
    payload,
    topics_of,
)
from ffwd.domain.generator import Generator


def test_every_event_class_but_heartbeats_has_a_notice_type() -> None:
    events = {
        v.TOPIC
        for v in vars(Generator).values()
        if isinstance(v, type) and issubclass(v, Generator.Event) and v is not Generator.Event
    }
    assert events - set(TOPICS) == {Generator.Heartbeat.TOPIC}
    assert len(set(ALL_TYPES)) == len(ALL_TYPES)


def test_defaults_are_phase_boundaries_stops_and_generator_outcomes() -> None:
    assert set(DEFAULT_EVENTS) == {
        "phase.started",
        "phase.stop_requested",
        "phase.succeeded",
        "phase.failed",
        "generator.succeeded",
        "generator.failed",
        "generator.cancelled",
    }
    assert "phase.progressed" not in DEFAULT_EVENTS


def test_patterns_select_types_and_a_typo_is_an_error() -> None:
    assert matching(["generator.*"]) == tuple(t for t in ALL_TYPES if t.startswith("generator."))
    assert matching(["*"]) == ALL_TYPES
    assert matching(["phase.started", "phase.*"])[0] == "phase.started"
    with pytest.raises(ValueError, match="matches no notice type"):
        matching(["phase.stoped"])
    assert topics_of(["phase.started"]) == [Generator.PhaseStarted.TOPIC]


def test_a_phase_succeeded_event_as_payload() -> None:
    g = Generator.create(name="g", kind="training", spec={}, text_tables=[], parent=uuid4())
    g.start_phase("tabular", "w1")
    g.request_stop("tabular", "alice")
    g.finish_phase(
        "tabular",
        1,
        reasons=[],
        checkpoint={"id": "c1", "epoch": 1, "step": 9},
        epoch=1,
        step=9,
        elapsed_s=2.0,
    )
    events = g.collect_events()
    created = payload(notice_of(events[0], "http://x/"))
    assert created["data"]["parent"] == str(g.parent) and created["state"] == "queued"
    body = payload(notice_of(events[-1], "http://x/"))
    assert body == {
        "schema": "ffwd.notification/1",
        "id": f"{g.id}:{g.version}",
        "type": "phase.succeeded",
        "event": "PhaseSucceeded",
        "generator_id": str(g.id),
        "version": g.version,
        "occurred_at": body["occurred_at"],
        "phase": "tabular",
        "step": None,
        "state": "succeeded",
        "reasons": ["manually_stopped"],
        "checkpoint": {"id": "c1", "epoch": 1, "step": 9},
        "requested_by": None,
        "error": None,
        "link": f"http://x/generators/{g.id}",
        "data": body["data"],
    }
    assert body["occurred_at"].endswith("Z") and body["data"]["elapsed_s"] == 2.0
