"""`ffwd list --json` writes summaries without pydantic: exactly what the views' model writes."""

import json
from datetime import UTC, datetime, timedelta, timezone
from uuid import uuid4

from hypothesis import given
from hypothesis import strategies as st

from ffwd.application.summaries import Summary, summary_json
from ffwd.application.views import GeneratorPage, summary_view

PARTS = st.lists(st.tuples(st.text(max_size=12), st.sampled_from(["pending", "running"])))
MOMENTS = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)


@given(
    name=st.text(max_size=30),
    parent=st.none() | st.uuids(),
    created=MOMENTS,
    offset_h=st.integers(-12, 12),
    phases=PARTS,
    steps=PARTS,
    version=st.integers(1, 10**6),
)
def test_a_summary_as_json_is_what_the_view_model_writes(
    name, parent, created, offset_h, phases, steps, version
) -> None:
    summary = Summary(
        id=uuid4(),
        name=name,
        kind="training",
        state="running",
        parent=parent,
        created_at=created,
        updated_at=created.astimezone(timezone(timedelta(hours=offset_h))),
        version=version,
        phases=tuple(phases),
        steps=tuple(steps),
        ready=False,
        lease_expires_at=None,
    )
    quick = json.dumps(
        {"items": [summary_json(summary)], "next": "7"}, indent=2, ensure_ascii=False
    )
    model = GeneratorPage(items=[summary_view(summary)], next="7").model_dump_json(indent=2)
    assert quick == model
