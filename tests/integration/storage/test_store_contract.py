"""The GeneratorStore contract, run against every adapter: memory, SQLite and PostgreSQL.

Each test gets a fresh store (a new SQLite file, a new PostgreSQL database), so every
assertion can be exact. The service is driven end to end on each store as well.
"""

from collections.abc import Callable
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from ffwd.adapters.storage.event_store import EventSourcedStore, project_generator
from ffwd.application.ports import ConcurrentWrite, GeneratorStore
from ffwd.application.service import GeneratorService
from ffwd.application.views import view_of
from ffwd.domain import errors
from ffwd.domain.generator import Generator
from tests.integration.storage.conftest import PERSISTENT_STORES

PERSISTENT = PERSISTENT_STORES


def new_generator(name: str = "g") -> Generator:
    return Generator.create(
        name=name,
        kind="training",
        spec={"name": name, "nested": {"list": [1, 2.5, None, "x"], "flag": True}},
        text_tables=["customers"],
        parent=UUID("12345678-1234-5678-1234-567812345678"),
        resume_from={"tabular": {"id": "ck-parent", "epoch": 3, "step": 30, "val_loss": 1.5}},
    )


CHECKPOINT = {"id": "ck-1", "epoch": 1, "step": 9, "val_loss": 1.875}

# (command on the aggregate, the event types it stores), applied one save at a time.
SCRIPT: list[tuple[Callable[[Generator], Any], list[str]]] = [
    (lambda g: g.request_stop("text:customers", "alice"), ["StopRequested"]),
    (lambda g: g.start_phase("tabular", "w1"), ["Started", "PhaseStarted"]),
    (
        lambda g: g.record_progress(
            "tabular", 1, epoch=1, step=10, elapsed_s=1.5, val_loss=2.5, epsilon=0.25
        ),
        ["PhaseProgressed"],
    ),
    (lambda g: g.request_stop("tabular", "bob"), ["StopRequested"]),
    (
        lambda g: g.finish_phase(
            "tabular",
            1,
            reasons=["early_stopped"],
            checkpoint=CHECKPOINT,
            epoch=1,
            step=12,
            elapsed_s=2.0,
            val_loss=2.25,
        ),
        ["PhaseSucceeded"],
    ),
    (lambda g: g.start_phase("text:customers", "w2"), ["PhaseStarted"]),
    (lambda g: g.cancel("carol"), ["Cancelled"]),
]
SCRIPT_TYPES = ["Created"] + [t for _, types in SCRIPT for t in types]


def run_script(store: GeneratorStore) -> UUID:
    """Create a generator and apply SCRIPT through `store`, one get/command/save per step."""
    generator = new_generator()
    assert [type(e).__name__ for e in store.save(generator)] == ["Created"]
    for command, types in SCRIPT:
        current = store.get(generator.id)
        command(current)
        assert [type(e).__name__ for e in store.save(current)] == types
    return generator.id


def state_of(g: Generator) -> dict[str, Any]:
    """Everything an aggregate holds, pending events aside."""
    return {k: v for k, v in vars(g).items() if k != "_pending_events"}


# The store port.


def test_every_adapter_is_a_generator_store(store: EventSourcedStore) -> None:
    assert isinstance(store, GeneratorStore)


def test_round_trip_keeps_the_whole_state(store: EventSourcedStore) -> None:
    generator = new_generator()
    generator.request_stop("text:customers", "alice")
    generator.start_phase("tabular", "w1")
    saved = store.save(generator)
    assert [e.originator_version for e in saved] == [1, 2, 3, 4]
    assert store.save(generator) == []  # nothing pending, nothing written

    loaded = store.get(generator.id)
    assert state_of(loaded) == state_of(generator)
    assert loaded.version == 4
    assert loaded.parent == UUID("12345678-1234-5678-1234-567812345678")
    assert loaded.spec == {"name": "g", "nested": {"list": [1, 2.5, None, "x"], "flag": True}}
    assert loaded.phases["tabular"].resume_from == {
        "id": "ck-parent",
        "epoch": 3,
        "step": 30,
        "val_loss": 1.5,
    }
    assert loaded.phases["tabular"].state == "running"
    assert loaded.phases["text:customers"].stop_requested is True
    assert loaded.created_on.utcoffset() == timedelta(0)


def test_get_at_version_is_the_state_of_the_first_n_events(store: EventSourcedStore) -> None:
    gid = run_script(store)
    events = store.events(gid)
    assert len(events) == len(SCRIPT_TYPES) == 9
    for n in range(1, 10):
        at_n = store.get(gid, version=n)
        assert at_n.version == n
        assert state_of(at_n) == state_of(project_generator(None, events[:n]))
    assert store.get(gid, version=1).state == "queued"
    assert store.get(gid, version=1).phases["text:customers"].stop_requested is False
    assert store.get(gid, version=2).phases["text:customers"].stop_requested is True
    assert store.get(gid, version=6).phases["tabular"].state == "stopping"
    assert store.get(gid, version=7).phases["tabular"].checkpoint == CHECKPOINT
    assert store.get(gid, version=8).phases["text:customers"].state == "stopping"
    latest = store.get(gid)
    assert latest.state == "cancelled"
    assert latest.phases["tabular"].checkpoint is None
    assert state_of(store.get(gid, version=9)) == state_of(latest)


def test_events_are_every_stored_event_oldest_first(store: EventSourcedStore) -> None:
    gid = run_script(store)
    events = store.events(gid)
    assert [type(e).__name__ for e in events] == SCRIPT_TYPES
    assert [e.originator_version for e in events] == list(range(1, 10))
    assert {e.originator_id for e in events} == {gid}
    assert [e.timestamp for e in events] == sorted(e.timestamp for e in events)
    pre_queued, progressed, stopped, succeeded = events[1], events[4], events[5], events[6]
    assert (pre_queued.phase, pre_queued.requested_by) == ("text:customers", "alice")
    assert (pre_queued.phase_state_then, pre_queued.state) == ("pending", "pending")
    assert (progressed.epoch, progressed.step, progressed.val_loss) == (1, 10, 2.5)
    assert progressed.epsilon == 0.25
    assert (stopped.requested_by, stopped.phase_state_then, stopped.state) == (
        "bob",
        "running",
        "stopping",
    )
    assert succeeded.reasons == ["manually_stopped", "early_stopped"]
    assert succeeded.checkpoint == CHECKPOINT
    assert events[8].discarded_checkpoints == ["ck-1"]
    assert events[8].aborted == ["text:customers", "synthesis", "report"]


def test_generator_ids_are_oldest_first(store: EventSourcedStore) -> None:
    assert store.generator_ids() == []
    a, b, c = new_generator("a"), new_generator("b"), new_generator("c")
    store.save(a)
    store.save(b)
    later = store.get(a.id)
    later.cancel("x")  # a later event of an older generator does not move it
    store.save(later)
    store.save(c)
    assert store.generator_ids() == [a.id, b.id, c.id]


def test_generator_ids_pages_past_500(store: EventSourcedStore) -> None:
    ids = []
    for i in range(1200):  # more than two pages of 500
        generator = new_generator(f"g{i}")
        store.save(generator)
        ids.append(generator.id)
        if i % 400 == 0:  # other events in between do not disturb the paging
            generator.request_stop("tabular", "x")
            store.save(generator)
    assert store.generator_ids() == ids


def test_absent_generators_and_versions_are_unknown(store: EventSourcedStore) -> None:
    gid = run_script(store)
    absent = uuid4()
    with pytest.raises(errors.UnknownGenerator) as raised:
        store.get(absent)
    assert raised.value.code == "unknown_generator"
    with pytest.raises(errors.UnknownGenerator):
        store.get(absent, version=1)
    with pytest.raises(errors.UnknownGenerator):
        store.events(absent)
    with pytest.raises(errors.UnknownGenerator):
        store.get(gid, version=0)


def test_a_version_after_the_latest_is_unknown(store: EventSourcedStore) -> None:
    """Asking for version 10 of a 9-event history must not silently answer version 9."""
    gid = run_script(store)
    with pytest.raises(errors.UnknownGenerator):
        store.get(gid, version=10)


def test_conflicting_saves_raise_concurrent_write(store: EventSourcedStore) -> None:
    generator = new_generator()
    store.save(generator)
    first, second = store.get(generator.id), store.get(generator.id)
    first.request_stop("tabular", "alice")
    second.cancel("bob")
    store.save(first)
    with pytest.raises(ConcurrentWrite):
        store.save(second)
    assert [type(e).__name__ for e in store.events(generator.id)] == ["Created", "StopRequested"]
    latest = store.get(generator.id)
    assert (latest.version, latest.state) == (2, "queued")
    assert latest.phases["tabular"].stop_requested is True


def test_update_runs_each_command_on_the_latest_state(store: EventSourcedStore) -> None:
    generator = new_generator()
    store.save(generator)
    results = []
    for command, types in SCRIPT:
        result, events = store.update(generator.id, command)
        assert [type(e).__name__ for e in events] == types
        results.append(result)
    assert results == [True, 1, None, True, ["manually_stopped", "early_stopped"], 1, True]
    assert [type(e).__name__ for e in store.events(generator.id)] == SCRIPT_TYPES
    replayed = project_generator(None, store.events(generator.id))
    assert state_of(store.get(generator.id)) == state_of(replayed)


def test_an_update_that_raises_stores_nothing_and_keeps_the_state(
    store: EventSourcedStore,
) -> None:
    generator = new_generator()
    store.save(generator)

    def stop_then_fail(g: Generator) -> None:
        g.request_stop("tabular", "alice")
        raise RuntimeError("the command changed its mind")

    with pytest.raises(RuntimeError):
        store.update(generator.id, stop_then_fail)
    kept = store.get(generator.id)
    assert (kept.version, kept.phases["tabular"].stop_requested) == (1, False)
    assert store.update(generator.id, lambda g: g.start_phase("tabular", "w1"))[0] == 1
    assert [type(e).__name__ for e in store.events(generator.id)] == [
        "Created",
        "Started",
        "PhaseStarted",
    ]


def test_a_command_that_raises_writes_nothing(
    store_url: str, open_service: Callable[[str], GeneratorService], sample_spec: dict
) -> None:
    svc = open_service(store_url)
    gid = svc.create_generator(sample_spec)
    svc.get_view(gid)  # the store now caches the generator

    def stop_then_fail(g: Generator) -> None:
        assert g.request_stop("tabular", "alice") is True
        raise RuntimeError("the command changed its mind")

    with pytest.raises(RuntimeError):
        svc.execute(gid, stop_then_fail)
    attempt = svc.start_phase(gid, "tabular", "w1")
    with pytest.raises(errors.StaleRunner):
        svc.record_progress(gid, "tabular", attempt + 1, epoch=1, step=1, elapsed_s=0.1)
    with pytest.raises(errors.InvalidTransition):
        svc.start_phase(gid, "tabular", "w2")
    with pytest.raises(errors.UnknownPhase):
        svc.request_stop(gid, "text:nope")

    assert [e.type for e in svc.history(gid)] == ["Created", "Started", "PhaseStarted"]
    view = svc.get_view(gid)
    assert view.version == 3
    assert [(p.id, p.state, p.stop_requested) for p in view.phases] == [
        ("tabular", "running", False),
        ("text:customers", "pending", False),
    ]


# The service, end to end, on each store.


def test_service_lifecycle_end_to_end(
    store_url: str, open_service: Callable[[str], GeneratorService], sample_spec: dict
) -> None:
    svc = open_service(store_url)
    gid = svc.create_generator(sample_spec)
    view = svc.get_view(gid)
    assert (view.name, view.kind, view.state, view.version) == (
        "customers-demo",
        "training",
        "queued",
        1,
    )
    assert [(p.id, p.kind, p.table, p.state) for p in view.phases] == [
        ("tabular", "tabular", None, "pending"),
        ("text:customers", "text", "customers", "pending"),
    ]
    assert [(s.id, s.state) for s in view.steps] == [
        ("synthesis", "pending"),
        ("report", "pending"),
    ]
    assert svc.resolve(str(gid)[:8]) == gid
    assert [s.id for s in svc.list_generators().items] == [gid]

    view = svc.request_stop(gid, "text:customers", requested_by="alice")  # pre-queued
    assert (view.phases[1].state, view.phases[1].stop_requested, view.version) == (
        "pending",
        True,
        2,
    )
    assert svc.start_phase(gid, "tabular", "w1") == 1
    assert svc.get_view(gid).state == "running"
    svc.record_progress(gid, "tabular", 1, epoch=1, step=10, elapsed_s=1.5, val_loss=2.5)
    view = svc.request_stop(gid, "tabular", requested_by="bob")  # while running
    assert (view.phases[0].state, view.version) == ("stopping", 6)
    assert svc.request_stop(gid, "tabular", requested_by="bob").version == 6  # no-op
    reasons = svc.finish_phase(
        gid,
        "tabular",
        1,
        reasons=["early_stopped"],
        checkpoint=CHECKPOINT,
        epoch=1,
        step=12,
        elapsed_s=2.0,
        val_loss=2.25,
    )
    assert reasons == ["manually_stopped", "early_stopped"]
    tabular = svc.get_view(gid).phases[0]
    assert (tabular.state, tabular.reasons, tabular.epoch, tabular.step) == (
        "succeeded",
        ["manually_stopped", "early_stopped"],
        1,
        12,
    )
    assert tabular.checkpoint is not None
    assert tabular.checkpoint.model_dump() == CHECKPOINT
    assert svc.start_phase(gid, "text:customers", "w2") == 1
    assert svc.get_view(gid).phases[1].state == "stopping"  # the pre-queued stop applies

    view = svc.cancel(gid, requested_by="carol")
    assert (view.state, view.version) == ("cancelled", 9)
    assert [(p.state, p.checkpoint) for p in view.phases] == [
        ("succeeded", None),
        ("cancelled", None),
    ]
    assert [s.state for s in view.steps] == ["cancelled", "cancelled"]
    assert svc.cancel(gid, requested_by="carol").version == 9  # idempotent: no event
    with pytest.raises(errors.GeneratorCancelled):
        svc.request_stop(gid, "text:customers")

    history = svc.history(gid)
    assert [(h.version, h.type, h.phase, h.requested_by) for h in history] == [
        (1, "Created", None, None),
        (2, "StopRequested", "text:customers", "alice"),
        (3, "Started", None, None),
        (4, "PhaseStarted", "tabular", None),
        (5, "PhaseProgressed", "tabular", None),
        (6, "StopRequested", "tabular", "bob"),
        (7, "PhaseSucceeded", "tabular", None),
        (8, "PhaseStarted", "text:customers", None),
        (9, "Cancelled", None, "carol"),
    ]
    assert all(h.timestamp.utcoffset() == timedelta(0) for h in history)
    assert [h.timestamp for h in history] == sorted(h.timestamp for h in history)
    assert history[5].data["phase_state_then"] == "running"
    assert history[6].data["checkpoint"] == CHECKPOINT
    assert history[8].data["discarded_checkpoints"] == ["ck-1"]

    events = svc.store.events(gid)
    for n in range(1, 10):
        assert svc.get_view(gid, at_version=n) == view_of(project_generator(None, events[:n]))
    assert svc.get_view(gid, at_version=9) == svc.get_view(gid)
    assert svc.get_view(gid, at_version=5).phases[0].step == 10


def test_a_second_store_sees_what_the_first_wrote(
    shared_url: str, open_service: Callable[[str], GeneratorService], sample_spec: dict
) -> None:
    first = open_service(shared_url)
    gid = first.create_generator(sample_spec)
    assert first.get_view(gid).version == 1  # cached in the first store now
    assert first.store.generator_ids() == [gid]  # and read up to here

    second = open_service(shared_url)
    assert second.store.generator_ids() == [gid]
    assert second.get_view(gid) == first.get_view(gid)
    second.request_stop(gid, "tabular", requested_by="bob")

    seen = first.get_view(gid)  # the cached copy is brought up to date
    assert (seen.version, seen.phases[0].stop_requested) == (2, True)
    first.start_phase(gid, "tabular", "w1")  # written from a copy that was stale
    assert second.get_view(gid).phases[0].state == "stopping"
    assert [h.type for h in second.history(gid)] == [
        "Created",
        "StopRequested",
        "Started",
        "PhaseStarted",
    ]
    other = second.create_generator(sample_spec)
    assert [s.id for s in first.list_generators().items] == [other, gid]


def test_commands_on_a_stale_kept_state_are_checked_against_the_log(
    shared_url: str, open_service: Callable[[str], GeneratorService], sample_spec: dict
) -> None:
    """Commands run on the kept state without asking the log first; whatever another
    process stored meanwhile, each command is answered as on the latest state."""
    first, second = open_service(shared_url), open_service(shared_url)
    gid = first.create_generator(sample_spec)
    first.get_view(gid)  # kept by the first store at version 1
    attempt = second.start_phase(gid, "tabular", "w2")

    # Rejected on the kept state (phase pending there), accepted on the latest.
    first.record_progress(gid, "tabular", attempt, epoch=1, step=5, elapsed_s=0.5)
    second.record_progress(gid, "tabular", attempt, epoch=1, step=6, elapsed_s=0.6)
    # Accepted on the kept state, but its version is taken: stored after catching up.
    view = first.request_stop(gid, "tabular", requested_by="alice")
    assert (view.version, view.phases[0].step, view.phases[0].state) == (6, 6, "stopping")
    second.finish_phase(
        gid,
        "tabular",
        attempt,
        reasons=["early_stopped"],
        checkpoint=CHECKPOINT,
        epoch=1,
        step=7,
        elapsed_s=0.7,
    )
    # Answered without an event on the kept state (already asked): asked again on the latest.
    with pytest.raises(errors.PhaseAlreadyFinished):
        first.request_stop(gid, "tabular", requested_by="alice")
    assert [h.type for h in first.history(gid)] == [
        "Created",
        "Started",
        "PhaseStarted",
        "PhaseProgressed",
        "PhaseProgressed",
        "StopRequested",
        "PhaseSucceeded",
    ]
    assert first.get_view(gid) == second.get_view(gid)


def test_conflicting_saves_through_two_stores(
    shared_url: str, open_store: Callable[[str], EventSourcedStore]
) -> None:
    one, two = open_store(shared_url), open_store(shared_url)
    generator = new_generator()
    one.save(generator)
    from_one, from_two = one.get(generator.id), two.get(generator.id)
    from_two.cancel("bob")
    two.save(from_two)
    from_one.request_stop("tabular", "alice")
    with pytest.raises(ConcurrentWrite):
        one.save(from_one)
    assert [type(e).__name__ for e in one.events(generator.id)] == ["Created", "Cancelled"]
    assert one.get(generator.id).state == "cancelled"


def test_a_progress_event_of_the_first_version_reads_with_no_epochs(store) -> None:
    """Histories stored before progress carried each epoch's row (class version 1) replay:
    the library upcasts them, with no rows."""
    from tests.unit.test_old_events import store_with_its_last_event_as_first_version

    generator = new_generator()
    generator.start_phase("tabular", "w1")
    generator.record_progress("tabular", 1, epoch=2, step=18, elapsed_s=1.0, val_loss=2.5)
    store_with_its_last_event_as_first_version(store, generator)

    replayed = store.events(generator.id)[-1]
    assert type(replayed).__name__ == "PhaseProgressed" and replayed.epochs == []
    assert store.get(generator.id).phases["tabular"].epoch == 2
