"""Invariant 12 against the model: several threads command one generator at once (runners,
a second worker, people), and no accepted command is lost or stored twice.

Each command's stored events reach it through the service's listener, in the storing thread.
Then the accepted commands, in the order of their events, must replay on the reference model
with exactly those events, and each rejected or event-less one must be what the model says
in some state of that order."""

import copy
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ffwd.domain import errors
from ffwd.domain.generator import Generator
from tests.integration.storage.conftest import url_for
from tests.stateful.checks import events_are_expected, product_is_the_model
from tests.stateful.reference_model import GeneratorModel, Outcome
from tests.stateful.world import World, threads_settings, world

LATER = datetime.now(UTC) + timedelta(days=365)  # every lease has run out by then
KEYWORDS = ("record_progress", "finish_phase", "release_phase")  # (part, attempt, {keywords})


@dataclass
class Command:
    name: str
    args: tuple
    events: list = field(default_factory=list)
    error: str | None = None
    result: Any = None

    def on_model(self, model: GeneratorModel) -> Outcome:
        if self.name in KEYWORDS:
            part, attempt, kw = self.args
            return getattr(model, self.name)(part, attempt, **kw)
        return getattr(model, self.name)(*self.args)

    def on_product(self, g: Generator) -> Any:
        if self.name == "take_over":
            part, worker, now, _ = self.args
            return g.take_over(part, worker, now)
        if self.name in ("start_phase", "start_step"):
            return getattr(g, self.name)(*self.args[:2])
        if self.name in KEYWORDS:
            part, attempt, kw = self.args
            return getattr(g, self.name)(part, attempt, **kw)
        return getattr(g, self.name)(*self.args)


def _row(epoch: int) -> dict[str, Any]:
    return dict(epoch=epoch, step=epoch * 3, elapsed_s=float(epoch), val_loss=None)


def _progress(part: str, attempt: int, epoch: int) -> Command:
    metrics = _row(epoch) | dict(epsilon=None, kept=None)
    metrics["epochs"] = [_row(epoch) | dict(train_loss=0.5, epsilon=None)]
    return Command("record_progress", (part, attempt, metrics))


def _finish(part: str, attempt: int) -> Command:
    outcome = dict(reasons=["max_epochs_reached"], checkpoint={"id": f"{part}-{attempt}"})
    outcome |= dict(epoch=9, step=27, elapsed_s=9.0, val_loss=None, epsilon=None, epochs=[])
    return Command("finish_phase", (part, attempt, outcome))


def _release(part: str, attempt: int) -> Command:
    """The worker is preempted: it hands the phase back, keeping a checkpoint."""
    kept = {"id": f"{part}-kept-{attempt}", "epoch": 4, "step": 12}
    released = dict(epoch=4, step=12, elapsed_s=4.0, kept=kept, epochs=[])
    return Command("release_phase", (part, attempt, released))


def runner(part: str, attempt: int) -> st.SearchStrategy[list[Command]]:
    """A worker running one phase: it claims it, reports progress, and ends it (or, now and
    then, is preempted and hands it back)."""
    ends = [_finish(part, attempt), Command("fail_phase", (part, attempt, "boom"))]
    end = st.sampled_from([*ends, _release(part, attempt)])
    beats = st.lists(st.sampled_from([_progress(part, attempt, e) for e in (1, 2, 3)]), max_size=3)
    claim = Command("start_phase", (part, f"w{attempt}", None))
    heartbeat = Command("heartbeat", (part, attempt))
    return st.tuples(beats, end).map(lambda t: [claim, heartbeat, *t[0], t[1]])


PEOPLE = st.lists(
    st.sampled_from(
        [
            Command("request_stop", ("tabular", "ann")),
            Command("request_stop", ("text:a", "bo")),
            Command("request_stop", ("tabular", "carol")),
            Command("cancel", ("dave",)),
        ]
    ),
    min_size=1,
    max_size=4,
)
TAKEOVERS = st.lists(
    st.sampled_from([Command("take_over", (p, "w9", LATER, None)) for p in ("tabular", "text:a")]),
    max_size=2,
)
PROGRAMS = st.lists(
    st.one_of(runner("tabular", 1), runner("tabular", 2), runner("text:a", 1), PEOPLE, TAKEOVERS),
    min_size=2,
    max_size=4,
)


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def shared(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    opened = world(url_for(request.param, request, tmp_path), tmp_path)
    yield opened
    opened.close()


def test_no_accepted_command_is_lost_or_doubled(shared: World) -> None:
    spec = shared.specs[(("a",), 2)]

    @threads_settings()
    @given(programs=PROGRAMS)
    def run(programs: list[list[Command]]) -> None:
        programs = [[replace(c, events=[]) for c in program] for program in programs]
        g = Generator.create(name="g", kind="training", spec=spec, text_tables=["a"])
        shared.svc.store.save(g)
        model, created = GeneratorModel.create(
            g.id, name="g", kind="training", spec=spec, text_tables=["a"]
        )
        model.stamp(created.events, list(shared.svc.store.events(g.id)))
        drive(shared, g.id, programs)
        check(shared, g.id, model, [c for program in programs for c in program])

    run()


def drive(world: World, gid: Any, programs: list[list[Command]]) -> None:
    """Each program in its own thread, all started at once."""
    current = threading.local()
    unsubscribe = world.svc.subscribe(lambda events: current.command.events.extend(events))
    start = threading.Barrier(len(programs))

    def play(program: list[Command]) -> None:
        start.wait()
        for command in program:
            current.command = command
            try:
                command.result = world.svc.execute(gid, command.on_product)
            except errors.FfwdError as e:
                command.error = e.code

    threads = [threading.Thread(target=play, args=(p,)) for p in programs]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert not any(t.is_alive() for t in threads), "a command never returned"
    finally:
        unsubscribe()


def check(world: World, gid: Any, model: GeneratorModel, commands: list[Command]) -> None:
    stored = list(world.svc.store.events(gid))[1:]
    writers = sorted(
        (c for c in commands if c.events), key=lambda c: c.events[0].originator_version
    )
    delivered = [e for c in writers for e in c.events]
    assert [vars(e) for e in delivered] == [vars(e) for e in stored], "each stored exactly once"
    assert all(c.error is None for c in writers), "a rejected command stored events"
    states = [copy.deepcopy(model)]
    for c in writers:
        outcome = c.on_model(model)
        assert outcome.error is None, f"{c.name}{c.args}: the model rejects it ({outcome.error})"
        events_are_expected(c.events, outcome.events, model.version)
        assert c.result == outcome.result
        model.stamp(outcome.events, c.events)
        states.append(copy.deepcopy(model))
    product_is_the_model(world.svc.store.get(gid), model)
    for c in commands:
        if c.events:
            continue
        verdicts = {_verdict(c, copy.deepcopy(state)) for state in states}
        said = c.error or f"accepted: {c.result!r}"
        assert said in verdicts, f"{c.name}{c.args} answered {said}, the model: {verdicts}"


def _verdict(command: Command, model: GeneratorModel) -> str:
    outcome = command.on_model(model)
    if outcome.error:
        return outcome.error
    return "writes events" if outcome.events else f"accepted: {outcome.result!r}"
