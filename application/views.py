"""Read models: the generator view (the Model Training panel) and the audit history."""

import math
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, PlainSerializer

from ffwd.application.summaries import utc_seconds
from ffwd.domain.parts import TABULAR, TEXT, Phase, Step

if TYPE_CHECKING:  # lists need no aggregate (nor its libraries): `ffwd list` stays quick
    from ffwd.application.summaries import Summary
    from ffwd.domain.generator import Generator


# In JSON as the contract writes them, e.g. "2026-11-26T21:54:26Z"; a datetime in Python.
Timestamp = Annotated[datetime, PlainSerializer(utc_seconds, when_used="json")]


class View(BaseModel):
    # Built at first use: `ffwd list` needs one of these models, not all of them.
    model_config = ConfigDict(defer_build=True)


class CheckpointView(View):
    id: str
    epoch: int
    step: int
    val_loss: float | None = None


class PrivacyView(View):
    """A private phase's budget: spent, allowed, and how many more epochs it pays for at the
    phase's settings (null before the phase chose its noise multiplier)."""

    epsilon: float | None
    max_epsilon: float
    delta: float
    noise_multiplier: float | None
    epochs_left: float | None


class PhaseView(View):
    id: str
    kind: str
    table: str | None
    state: str
    stop_requested: bool
    reasons: list[str]
    epoch: int
    step: int
    elapsed_s: float
    val_loss: float | None
    epsilon: float | None
    privacy: PrivacyView | None
    checkpoint: CheckpointView | None
    attempt: int
    started_at: Timestamp | None
    ended_at: Timestamp | None
    resumed_from: str | None
    error: str | None
    epoch_limit: int
    best: CheckpointView | None  # what it would keep if it stopped now
    epochs_since_best: int | None
    last_report_at: Timestamp | None  # the runner's last sign of life
    lease_expires_at: Timestamp | None
    stale: bool  # running, and silent for longer than it reports, plus a margin
    preemptions: int  # attempts handed back by a worker shutting down
    waiting_for: str | None = None  # claimed, its runner waiting for a cluster's resources


class StepView(View):
    id: str
    state: str
    started_at: Timestamp | None
    ended_at: Timestamp | None
    error: str | None
    waiting_for: str | None = None  # claimed, its runner waiting for a cluster's resources


class GeneratorView(View):
    id: UUID
    name: str
    kind: str
    state: str
    version: int
    parent: UUID | None
    created_at: Timestamp
    updated_at: Timestamp
    phases: list[PhaseView]
    steps: list[StepView]
    outputs: dict[str, Any]
    error: str | None
    spec: dict[str, Any]


class PartState(View):
    id: str
    state: str


class GeneratorSummary(View):
    """A generator in a list: who it is, where it stands, and each part's state."""

    id: UUID
    name: str
    kind: str
    state: str
    created_at: Timestamp
    updated_at: Timestamp
    parent: UUID | None
    version: int
    phases: list[PartState]
    steps: list[PartState]


class GeneratorPage(View):
    """One page of a list, newest first; `next` is the cursor of the page after it."""

    items: list[GeneratorSummary]
    next: str | None


class MetricRow(View):
    """One completed epoch of a phase, as its engine measured it at the epoch's end;
    `generator` trained it (a continued phase's curve begins in its parent's)."""

    epoch: int
    step: int
    elapsed_s: float
    val_loss: float | None
    train_loss: float | None
    epsilon: float | None
    generator: UUID


class HistoryEntry(View):
    version: int
    timestamp: Timestamp
    type: str
    phase: str | None = None
    pipeline_step: str | None = None
    requested_by: str | None = None
    data: dict[str, Any]


# A running phase reports at least every third of its lease; silent for that long plus this
# margin, its worker may be gone (a takeover comes when the lease ends).
STALE_MARGIN_S = 5.0
LIVE = ("running", "stopping")


def _checkpoint_view(c: dict | None) -> CheckpointView | None:
    if not c:
        return None
    return CheckpointView(
        id=c["id"], epoch=c.get("epoch", 0), step=c.get("step", 0), val_loss=c.get("val_loss")
    )


def _checkpoint(p: Phase) -> CheckpointView | None:
    return _checkpoint_view(p.checkpoint)


def _best(p: Phase) -> CheckpointView | None:
    """The checkpoint the phase would keep if it stopped now."""
    if p.state == "succeeded":
        return _checkpoint_view(p.checkpoint)
    if p.state in LIVE:
        return _checkpoint_view(p.last_kept or p.resume_from)
    if p.state == "pending":
        return _checkpoint_view(p.resume_from)
    return None  # failed or cancelled: nothing is kept


def stale(p: Phase, now: datetime) -> bool:
    if p.state not in LIVE or p.reported_at is None:
        return False
    return (now - p.reported_at).total_seconds() > p.lease_s / 3 + STALE_MARGIN_S


def _privacy(p: Phase, dp: dict[str, Any] | None) -> PrivacyView | None:
    if not dp:
        return None
    plan = p.privacy or {}
    left = None
    if plan:
        steps = max(0, plan["last_step"] - p.step)
        left = math.floor(steps * 100 / max(1, plan["steps_per_epoch"])) / 100
    return PrivacyView(
        epsilon=p.epsilon,
        max_epsilon=dp["max_epsilon"],
        delta=dp["delta"],
        noise_multiplier=plan.get("noise_multiplier", dp.get("noise_multiplier")),
        epochs_left=left,
    )


def _phase(
    p: Phase, epoch_limit: int, now: datetime, dp: dict[str, Any] | None, waiting: str | None
) -> PhaseView:
    best = _best(p)
    return PhaseView(
        id=p.id,
        kind=p.kind,
        table=p.table,
        state=p.state,
        stop_requested=p.stop_requested,
        reasons=list(p.reasons),
        epoch=p.epoch,
        step=p.step,
        elapsed_s=p.elapsed_s,
        val_loss=p.val_loss,
        epsilon=p.epsilon,
        privacy=_privacy(p, dp),
        checkpoint=_checkpoint(p),
        attempt=p.attempt,
        started_at=p.started_at,
        ended_at=p.ended_at,
        resumed_from=(p.resume_from or {}).get("id"),
        error=p.error,
        epoch_limit=epoch_limit if p.epoch_limit is None else p.epoch_limit,
        best=best,
        epochs_since_best=None if best is None else max(0, p.epoch - best.epoch),
        last_report_at=p.reported_at,
        lease_expires_at=p.lease_expires_at if p.state in LIVE else None,
        stale=stale(p, now),
        preemptions=p.preemptions,
        waiting_for=waiting,
    )


def _step(s: Step, waiting: str | None) -> StepView:
    return StepView(
        id=s.id,
        state=s.state,
        started_at=s.started_at,
        ended_at=s.ended_at,
        error=s.error,
        waiting_for=waiting,
    )


def _copied(value: Any) -> Any:
    """A copy of state recorded from events, so that a caller who changes a view in place
    cannot change the aggregate: its dicts and lists are new, the rest (immutable) is shared.
    `copy.deepcopy` did the same at five times the cost."""
    if isinstance(value, dict):
        return {k: _copied(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copied(v) for v in value]
    return value


def view_of(g: "Generator", now: datetime | None = None) -> GeneratorView:
    """The view as of `now` (staleness); by default as of the generator's last event, so
    that the view at a version is a function of the events alone."""
    now = g.modified_on if now is None else now
    epoch_limit = ((g.spec or {}).get("training") or {}).get("max_epochs", 0)
    dp = _private(g.spec)
    return GeneratorView(
        id=g.id,
        name=g.name,
        kind=g.kind,
        state=g.state,
        version=g.version,
        parent=g.parent,
        created_at=g.created_on,
        updated_at=g.modified_on,
        phases=[_phase(p, epoch_limit, now, dp, g.waiting_for(p.id)) for p in g.phases.values()],
        steps=[_step(s, g.waiting_for(s.id)) for s in g.steps.values()],
        outputs=_copied(g.outputs),
        error=g.error,
        spec=_copied(g.spec),
    )


def _private(spec: dict[str, Any]) -> dict[str, Any] | None:
    """The spec's differential privacy settings, or None."""
    return (spec.get("training") or {}).get("differential_privacy")


def summary_view(s: "Summary") -> GeneratorSummary:
    return GeneratorSummary(
        id=s.id,
        name=s.name,
        kind=s.kind,
        state=s.state,
        created_at=s.created_at,
        updated_at=s.updated_at,
        parent=s.parent,
        version=s.version,
        phases=[PartState(id=part, state=state) for part, state in s.phases],
        steps=[PartState(id=part, state=state) for part, state in s.steps],
    )


_ENVELOPE = {"originator_id", "originator_version", "timestamp", "originator_topic"}


def history_entry(event: Any) -> HistoryEntry:
    fields = {k: v for k, v in vars(event).items() if k not in _ENVELOPE}
    part = fields.get("part")  # heartbeats and takeovers name a phase or a step as a part
    is_phase = part is not None and (part == TABULAR or part.startswith(f"{TEXT}:"))
    return HistoryEntry(
        version=event.originator_version,
        timestamp=event.timestamp,
        type=type(event).__name__,
        phase=fields.get("phase", part if is_phase else None),
        pipeline_step=fields.get("pipeline_step", None if is_phase else part),
        requested_by=fields.get("requested_by"),
        data=fields,
    )
