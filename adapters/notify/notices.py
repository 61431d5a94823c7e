"""Which stored events notify, under which names, and the JSON payload every notifier sends."""

import fnmatch
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from ffwd.application.ports import Notice
from ffwd.domain.generator import ANONYMIZATION_STEPS, TRAINING_STEPS, Generator

SCHEMA = "ffwd.notification/1"

# Notice type per event class: the names receivers filter on, stable across refactorings.
TYPES: dict[type, str] = {
    Generator.Created: "generator.created",
    Generator.Started: "generator.started",
    Generator.PhaseStarted: "phase.started",
    Generator.TakenOver: "part.taken_over",
    Generator.PartWaiting: "part.waiting",
    Generator.StopRequested: "phase.stop_requested",
    Generator.PhaseProgressed: "phase.progressed",
    Generator.PrivacyPlanned: "phase.privacy_planned",
    Generator.PhaseSucceeded: "phase.succeeded",
    Generator.PhaseFailed: "phase.failed",
    Generator.PhaseReleased: "phase.released",
    Generator.StepStarted: "step.started",
    Generator.StepSucceeded: "step.succeeded",
    Generator.StepFailed: "step.failed",
    Generator.StepReleased: "step.released",
    Generator.Succeeded: "generator.succeeded",
    Generator.Failed: "generator.failed",
    Generator.Cancelled: "generator.cancelled",
}
# Never told: heartbeats (a lease renewed; bookkeeping of the workers, many per phase).
TOPICS: dict[str, str] = {cls.TOPIC: name for cls, name in TYPES.items()}
ALL_TYPES = tuple(TYPES.values())

# Told by default: a phase begins, is asked to stop, ends; the generator ends. Progress and
# steps are opt-in (a phase records tens of progress events).
DEFAULT_EVENTS = (
    "phase.started",
    "phase.stop_requested",
    "phase.succeeded",
    "phase.failed",
    "generator.succeeded",
    "generator.failed",
    "generator.cancelled",
)

# The generator's state after an event that does not carry one itself.
_GENERATOR_STATES = {
    "generator.created": "queued",
    "generator.started": "running",
    "generator.succeeded": "succeeded",
    "generator.failed": "failed",
    "generator.cancelled": "cancelled",
}
_STEPS = frozenset(TRAINING_STEPS + ANONYMIZATION_STEPS)
_ENVELOPE = {"originator_id", "originator_version", "timestamp", "originator_topic"}


def matching(patterns: Iterable[str]) -> tuple[str, ...]:
    """The notice types that any of the patterns (`phase.*`, `*`, exact names) select;
    ValueError for a pattern that selects nothing (a typo would silently mute an endpoint)."""
    chosen: list[str] = []
    for pattern in patterns:
        found = fnmatch.filter(ALL_TYPES, pattern)
        if not found:
            raise ValueError(f"{pattern!r} matches no notice type (known: {', '.join(ALL_TYPES)})")
        chosen += [t for t in found if t not in chosen]
    return tuple(chosen)


def topics_of(types: Iterable[str]) -> list[str]:
    """The stored event topics of these notice types (to select only them from the log)."""
    wanted = set(types)
    return [topic for topic, name in TOPICS.items() if name in wanted]


def notice_of(event: Any, link_base: str | None = None) -> Notice | None:
    """The notice for a stored generator event; None for an event that never notifies."""
    kind = TYPES.get(type(event))
    if kind is None:
        return None
    data = {k: _plain(v) for k, v in vars(event).items() if k not in _ENVELOPE}
    generator_id = str(event.originator_id)
    link = f"{link_base.rstrip('/')}/generators/{generator_id}" if link_base else None
    return Notice(
        key=f"{generator_id}:{event.originator_version}",
        type=kind,
        event=type(event).__name__,
        generator_id=generator_id,
        version=event.originator_version,
        occurred_at=_iso(event.timestamp),
        phase=data.get("phase") or _part(data, phases=True),
        data=data,
        link=link,
    )


def _part(data: dict[str, Any], *, phases: bool) -> str | None:
    """The phase (or step) a part-level event such as `part.taken_over` is about."""
    part = data.get("part")
    if part is None or (part in _STEPS) == phases:
        return None
    return part


def payload(notice: Notice) -> dict[str, Any]:
    """The JSON body of a delivery (schema `ffwd.notification/1`, see the README)."""
    data = notice.data
    return {
        "schema": SCHEMA,
        "id": notice.key,
        "type": notice.type,
        "event": notice.event,
        "generator_id": notice.generator_id,
        "version": notice.version,
        "occurred_at": notice.occurred_at,
        "phase": notice.phase,
        "step": data.get("pipeline_step") or _part(data, phases=False),
        "state": data.get("state", _GENERATOR_STATES.get(notice.type)),
        "reasons": list(data.get("reasons") or []),
        "checkpoint": data.get("checkpoint"),
        "requested_by": data.get("requested_by"),
        "error": data.get("error"),
        "link": notice.link,
        "data": data,
    }


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _plain(value: Any) -> Any:
    """JSON-ready values: UUIDs and datetimes as text, containers copied."""
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, datetime):
        return _iso(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


SAMPLE_GENERATOR = "00000000-0000-4000-8000-000000000000"


def sample_notice(link_base: str | None = None) -> Notice:
    """A made-up `phase.succeeded` notice (`ffwd notify test`): the shape of a real one."""
    data = {
        "phase": "tabular",
        "attempt": 1,
        "epoch": 3,
        "step": 120,
        "elapsed_s": 12.4,
        "val_loss": 1.93,
        "epsilon": None,
        "reasons": ["manually_stopped"],
        "checkpoint": {"id": "sample-checkpoint", "epoch": 3, "step": 118, "val_loss": 1.93},
        "state": "succeeded",
        "test": True,
    }
    link = f"{link_base.rstrip('/')}/generators/{SAMPLE_GENERATOR}" if link_base else None
    return Notice(
        key=f"{SAMPLE_GENERATOR}:5",
        type="phase.succeeded",
        event="PhaseSucceeded",
        generator_id=SAMPLE_GENERATOR,
        version=5,
        occurred_at=_iso(datetime.now(UTC)),
        phase="tabular",
        data=data,
        link=link,
    )
