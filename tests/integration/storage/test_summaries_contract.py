"""The summaries each store keeps beside the events (ADR 0020), one contract for every
adapter: memory, SQLite and PostgreSQL. A summary is the generator's, after every command;
lists page through them newest first; the work queue finds only what is claimable; a
rebuild from the events gives the same summaries; a store written before summaries existed
opens with them."""

import sqlite3
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from uuid import UUID

import pytest
from eventsourcing.application import Application

from ffwd.adapters.storage.event_store import EventSourcedStore
from ffwd.adapters.storage.urls import persistence_env
from ffwd.application.summaries import SummaryQuery, summarize
from ffwd.domain.generator import Generator
from tests.integration.storage.conftest import PERSISTENT_STORES
from tests.integration.storage.test_store_contract import SCRIPT, new_generator


class OldRelease(Application[UUID]):
    """The release before summaries: the library's application and recorder, ffwd's name."""

    name = "ffwd"


def page(store: EventSourcedStore, **query) -> list[UUID]:
    return [s.id for s in store.summaries(SummaryQuery(**query))]


def saved(store: EventSourcedStore, name: str, *commands: Callable[[Generator], object]) -> UUID:
    generator = new_generator(name)
    store.save(generator)
    for command in commands:
        current = store.get(generator.id)
        command(current)
        store.save(current)
    return generator.id


def test_the_summary_follows_every_command(store: EventSourcedStore) -> None:
    generator = new_generator("followed")
    store.save(generator)
    assert store.summary(generator.id) == summarize(store.get(generator.id))
    for command, _ in SCRIPT:
        current = store.get(generator.id)
        command(current)
        store.save(current)
        assert store.summary(generator.id) == summarize(store.get(generator.id))
    last = store.summary(generator.id)
    assert (last.state, last.version, last.ready, last.lease_expires_at) == (
        "cancelled",
        9,
        False,
        None,
    )
    assert last.phases == (("tabular", "succeeded"), ("text:customers", "cancelled"))
    assert last.steps == (("synthesis", "cancelled"), ("report", "cancelled"))
    assert store.summary(UUID(int=7)) is None


def test_updates_keep_summaries_too(store: EventSourcedStore) -> None:
    gid = saved(store, "updated")
    store.update(gid, lambda g: g.start_phase("tabular", "w1", lease_s=30))
    summary = store.summary(gid)
    assert (summary.state, summary.phases[0], summary.ready) == (
        "running",
        ("tabular", "running"),
        False,  # text waits behind tabular; synthesis and report behind both
    )
    assert summary.lease_expires_at == store.get(gid).phases["tabular"].lease_expires_at


def test_pages_are_newest_first_and_filtered(store: EventSourcedStore) -> None:
    ids = [saved(store, f"shop_{i}") for i in range(5)]
    other = saved(store, "Other 100%", lambda g: g.cancel("x"))
    assert page(store) == [other, *reversed(ids)]
    first = store.summaries(SummaryQuery(limit=2))
    assert [s.id for s in first] == [other, ids[4]]
    assert page(store, limit=2, before=first[-1].position) == [ids[3], ids[2]]
    assert page(store, state="cancelled") == [other]
    assert page(store, state="queued", limit=2) == [ids[4], ids[3]]
    assert page(store, name="SHOP_") == list(reversed(ids))
    assert page(store, name="100%") == [other]
    assert page(store, name="%") == [other]  # a literal %, not a wildcard
    assert page(store, name="_1") == [ids[1]]  # a literal _
    assert page(store, state="running") == []


def test_ids_are_found_by_prefix(store: EventSourcedStore) -> None:
    ids = [saved(store, f"g{i}") for i in range(20)]
    for gid in ids:
        assert store.ids_starting_with(str(gid)[:8], 2) == [gid]
        assert store.ids_starting_with(str(gid), 2) == [gid]
    assert store.ids_starting_with("ffffffff-ffff", 2) == [] or all(
        str(i).startswith("ffffffff-ffff") for i in store.ids_starting_with("ffffffff-ffff", 2)
    )


def test_the_work_queue_holds_only_what_can_be_claimed(store: EventSourcedStore) -> None:
    done = saved(store, "done", lambda g: g.cancel("x"))
    older = saved(store, "older")
    running = saved(store, "running", lambda g: g.start_phase("tabular", "w1", lease_s=30))
    newer = saved(store, "newer")
    now = store.get(running).phases["tabular"].started_at
    assert store.claimable(now, 10) == [older, newer]
    assert store.claimable(now, 1) == [older]
    later = now + timedelta(seconds=31)  # the running phase's lease has run out
    assert store.claimable(later, 10) == [older, newer, running]
    assert done not in store.claimable(later, 10)


def test_recent_cancels_are_found_for_sweeping(store: EventSourcedStore) -> None:
    live = saved(store, "live")
    gone = saved(store, "gone", lambda g: g.cancel("x"))
    cancelled_at = store.summary(gone).updated_at
    assert store.cancelled_since(cancelled_at - timedelta(minutes=10), 10) == [gone]
    assert store.cancelled_since(cancelled_at + timedelta(seconds=1), 10) == []
    assert live not in store.cancelled_since(cancelled_at - timedelta(days=1), 10)


def test_a_rebuild_gives_the_same_summaries(store: EventSourcedStore) -> None:
    for i in range(30):
        commands = [lambda g: g.request_stop("tabular", "x")] if i % 3 else []
        if i % 5 == 0:
            commands.append(lambda g: g.cancel("y"))
        saved(store, f"g{i}", *commands)
    before = store.summaries(SummaryQuery(limit=100))
    assert store.rebuild_summaries() == (30, 30 + 20 + 6)
    after = store.summaries(SummaryQuery(limit=100))
    assert after == before  # positions aside: a rebuild may number them anew, in order
    assert [s.position for s in after] == sorted({s.position for s in after}, reverse=True)
    fresh = saved(store, "after the rebuild")
    assert page(store, limit=1) == [fresh]


@pytest.mark.parametrize("kind", PERSISTENT_STORES)
def test_a_store_written_before_summaries_existed_opens_with_them(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """Today's events, stored by the library alone (no summaries table, as the release
    before them wrote): opening the store rebuilds the summaries."""
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path}/old.db"
    else:
        url = request.getfixturevalue("fresh_postgres_url")
    env = persistence_env(url)
    env.pop("APPLICATION_RECORDER_TOPIC", None)  # the library's own recorder
    old = OldRelease(env=env)
    made = []
    for i in range(3):
        generator = new_generator(f"old{i}")
        if i == 1:
            generator.cancel("x")
        old.save(generator)
        made.append(generator.id)
    old.close()
    if kind == "sqlite":
        tables = sqlite3.connect(f"{tmp_path}/old.db").execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'"
        )
        assert "ffwd_summaries" not in {name for (name,) in tables}

    store = EventSourcedStore(url)
    try:
        assert page(store) == list(reversed(made))
        assert page(store, state="cancelled") == [made[1]]
        assert store.summary(made[0]) == summarize(store.get(made[0]))
        assert store.ids_starting_with(str(made[2])[:8], 2) == [made[2]]
    finally:
        store.close()


def test_an_older_layout_is_rebuilt_when_opened(shared_url: str, open_store) -> None:
    first = open_store(shared_url)
    gid = saved(first, "kept")
    first.close()
    if shared_url.startswith("sqlite"):
        path = shared_url.removeprefix("sqlite:///")
        with sqlite3.connect(path) as db:
            db.execute("UPDATE ffwd_meta SET value = '0'")
            db.execute("DELETE FROM ffwd_summaries")
    else:
        import psycopg

        with psycopg.connect(shared_url, autocommit=True) as db:
            db.execute("UPDATE ffwd_meta SET value = '0'")
            db.execute("DELETE FROM ffwd_summaries")
    second = open_store(shared_url)
    assert page(second) == [gid]
