"""Lists of generators, a page at a time, from the summaries the store keeps (ADR 0020)."""

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Literal
from uuid import UUID

from ffwd.application.summaries import MAX_LIMIT, UNREADABLE, Summary, SummaryQuery
from ffwd.domain.errors import InvalidQuery
from ffwd.domain.states import GENERATOR_STATES

if TYPE_CHECKING:  # the views need pydantic: `ffwd list` answers without it (find_page)
    from ffwd.application.views import GeneratorPage

Summaries = Callable[[SummaryQuery], list[Summary]]
LIST_STATES = (*GENERATOR_STATES, UNREADABLE)
ListState = Literal["queued", "running", "succeeded", "failed", "cancelled", "unreadable"]
CURSOR_PATTERN = r"^[0-9]{1,18}$"


def list_page(
    summaries: Summaries,
    *,
    state: str | None,
    name: str | None,
    limit: int,
    after: str | None,
    parent: UUID | None = None,
) -> "GeneratorPage":
    """The page of generators in `state`, whose name contains `name` (any case), that
    continue `parent`, newest first; `after` is the `next` cursor of the page before.
    InvalidQuery for a filter, limit or cursor that cannot be used."""
    from ffwd.application.views import GeneratorPage, summary_view

    page, after = find_page(
        summaries, state=state, name=name, limit=limit, after=after, parent=parent
    )
    return GeneratorPage(items=[summary_view(s) for s in page], next=after)


def find_page(
    summaries: Summaries,
    *,
    state: str | None,
    name: str | None,
    limit: int,
    after: str | None,
    parent: UUID | None = None,
) -> tuple[list[Summary], str | None]:
    """`list_page`'s summaries and its `next` cursor."""
    if state is not None and state not in LIST_STATES:
        known = ", ".join(LIST_STATES)
        raise InvalidQuery(f"state: {state!r} is not a generator state ({known})")
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidQuery(f"limit: {limit} is not between 1 and {MAX_LIMIT}")
    found = summaries(SummaryQuery(state, name or None, limit + 1, _position(after), parent))
    page = found[:limit]
    return page, str(page[-1].position) if len(found) > limit else None


def _position(cursor: str | None) -> int | None:
    """The position a `next` cursor names (a page ends just before it)."""
    if cursor is None:
        return None
    if not re.fullmatch(CURSOR_PATTERN, cursor):
        raise InvalidQuery(f"cursor: {cursor[:40]!r} is not a cursor a list gave out")
    return int(cursor)
