"""The summary of a generator: what lists and the work queue read, kept by the store beside
the generator's events and written in the same transaction (ADR 0020)."""

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

if TYPE_CHECKING:  # readers of summaries need no aggregate (nor its libraries)
    from ffwd.domain.generator import Generator

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
# Not a generator's state: the summary of one whose history this version cannot read.
UNREADABLE = "unreadable"


@dataclass(frozen=True)
class Summary:
    id: UUID
    name: str
    kind: str
    state: str
    parent: UUID | None
    created_at: datetime
    updated_at: datetime
    version: int
    phases: tuple[tuple[str, str], ...]  # (phase id, state), in pipeline order
    steps: tuple[tuple[str, str], ...]  # (step id, state)
    ready: bool  # a part may be claimed now (a pending one whose turn it is)
    lease_expires_at: datetime | None  # when the first running part's lease runs out
    position: int = field(default=0, compare=False)  # creation order, given by the store


def summarize(g: "Generator") -> Summary:
    return Summary(
        id=g.id,
        name=g.name,
        kind=g.kind,
        state=g.state,
        parent=g.parent,
        created_at=g.created_on,
        updated_at=g.modified_on,
        version=g.version,
        phases=tuple((p.id, p.state) for p in g.phases.values()),
        steps=tuple((s.id, s.state) for s in g.steps.values()),
        ready=bool(g.ready_parts()),
        lease_expires_at=g.lease_expiry(),
    )


def unreadable(readable: "Generator | None", generator_id: UUID, rows: list) -> Summary:
    """The summary of a generator whose history holds an event that cannot be read: what the
    events before it say, marked unreadable and out of the work queue."""
    if readable is None:
        epoch = datetime(1970, 1, 1, tzinfo=UTC)
        return Summary(generator_id, "(unreadable)", "unknown", UNREADABLE, None, epoch, epoch,
                       len(rows), (), (), False, None)  # fmt: skip
    s = summarize(readable)
    return replace(s, state=UNREADABLE, version=len(rows), ready=False, lease_expires_at=None)


@dataclass(frozen=True)
class SummaryQuery:
    """A page of a list, newest first: `before` is the position the previous page ended at."""

    state: str | None = None
    name: str | None = None
    limit: int = DEFAULT_LIMIT
    before: int | None = None
    parent: UUID | None = None  # only the generators that continue this one


def utc_seconds(moment: datetime) -> str:
    """A time as the contract writes it in JSON, e.g. "2026-11-26T21:54:26Z"."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def summary_json(s: Summary) -> dict[str, Any]:
    """A generator in a list as JSON (`GeneratorSummary` of the views, field for field),
    built without pydantic: `ffwd list --json` answers without loading it."""
    return {
        "id": str(s.id),
        "name": s.name,
        "kind": s.kind,
        "state": s.state,
        "created_at": utc_seconds(s.created_at),
        "updated_at": utc_seconds(s.updated_at),
        "parent": None if s.parent is None else str(s.parent),
        "version": s.version,
        "phases": [{"id": part, "state": state} for part, state in s.phases],
        "steps": [{"id": part, "state": state} for part, state in s.steps],
    }
