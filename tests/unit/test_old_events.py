"""Histories stored before progress and phase ends carried each epoch's row (class version 1)
still replay: the library upcasts those events, with no rows."""

import json

import pytest

from ffwd.adapters.storage.event_store import EventSourcedStore
from ffwd.application.summaries import summarize
from ffwd.domain.generator import Generator

CHECKPOINT = {"id": "ck-1", "epoch": 2, "step": 18, "val_loss": 2.5}


def progressed(g: Generator) -> None:
    g.record_progress("tabular", 1, epoch=2, step=18, elapsed_s=1.0, val_loss=2.5)


def succeeded(g: Generator) -> None:
    g.finish_phase(
        "tabular", 1, reasons=["max_epochs_reached"], checkpoint=CHECKPOINT, epoch=2, step=18,
        elapsed_s=1.0, val_loss=2.5,
    )  # fmt: skip


def store_with_its_last_event_as_first_version(store: EventSourcedStore, g: Generator) -> None:
    """Stores `g`'s pending events, the last one as class version 1 wrote it (no `epochs`)."""
    events = list(g.collect_events())
    version, topic, state = store._codec.row(events[-1])
    old = json.loads(state)
    assert old.pop("class_version") == 2 and old.pop("epochs") == []
    rows = [*store._codec.rows(events[:-1]), (version, topic, json.dumps(old).encode())]
    store._log.append(g.id, rows, summarize(g))


@pytest.mark.parametrize("last", [progressed, succeeded])
def test_an_event_of_the_first_version_replays_with_no_epoch_rows(last) -> None:
    store = EventSourcedStore("memory://")
    g = Generator.create(name="g", kind="training", spec={"name": "g"}, text_tables=[])
    g.start_phase("tabular", "w1")
    last(g)
    store_with_its_last_event_as_first_version(store, g)

    replayed = store.events(g.id)[-1]
    assert replayed.epochs == []
    phase = store.get(g.id).phases["tabular"]
    assert (phase.epoch, phase.step) == (2, 18)
