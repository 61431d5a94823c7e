"""The lifecycle machine on every store: random programs checked against the reference model
after every step; on memory, the run must also reach every state and transition."""

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis.stateful import run_state_machine_as_test

from ffwd.domain.lifecycle import GENERATOR_RULES, PHASE_RULES, STEP_RULES
from tests.integration.storage.conftest import url_for
from tests.stateful.coverage import REQUIRED, shortfall
from tests.stateful.machine import Lifecycle
from tests.stateful.world import World, machine_settings, world

TRIGGERS = {"start", "stop", "progress", "finish", "fail", "cancel", "release"}


@pytest.fixture
def shared(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    opened = world(url_for(request.param, request, tmp_path), tmp_path)
    yield opened
    opened.close()


@pytest.mark.parametrize("shared", ["memory"], indirect=True)
def test_programs_on_memory_reach_every_state_and_transition(shared: World) -> None:
    run_state_machine_as_test(lambda: Lifecycle(shared), settings=machine_settings("memory"))
    assert shortfall(shared.coverage) == {}, "reached too rarely in this run"


@pytest.mark.parametrize("shared", ["sqlite"], indirect=True)
def test_programs_on_an_sqlite_file(shared: World) -> None:
    run_state_machine_as_test(lambda: Lifecycle(shared), settings=machine_settings("sqlite"))


@pytest.mark.postgres
@pytest.mark.parametrize("shared", ["postgres"], indirect=True)
def test_programs_on_postgresql(shared: World) -> None:
    run_state_machine_as_test(lambda: Lifecycle(shared), settings=machine_settings("postgres"))


def test_the_rule_book_is_what_every_run_must_reach() -> None:
    """The transitions every run must reach and the rule book's tables are one set: a rule
    added to the book must be reached, and one the runs reach must be in the book (even
    where the aggregate does not consult it, e.g. aborting parts)."""
    book = {("phase", k): v for k, v in PHASE_RULES.items()}
    book |= {("step", k): v for k, v in STEP_RULES.items()}
    book |= {("generator", k): v for k, v in GENERATOR_RULES.items()}
    for (machine, (state, trigger)), dest in book.items():
        if (machine, state, trigger) == ("generator", "queued", "fail"):
            continue  # unreachable: a failure needs a running part (ADR 0003)
        label = f"{machine} {state} -{trigger}-> {dest}"
        assert label in REQUIRED or f"{label} (no event)" in REQUIRED, label
    for label in REQUIRED:
        found = re.fullmatch(r"(phase|step|generator) (\w+) -(\w+)-> (\w+)( \(no event\))?", label)
        if not found or found[3] not in TRIGGERS:
            continue
        machine, state, trigger, dest = found.groups()[:4]
        if machine == "generator" and found[5]:
            continue  # a second cancel: answered before the book is asked (RULES.md)
        reached = book.get((machine, (state, trigger)))
        if (machine, state, trigger, dest) == ("phase", "pending", "start", "stopping"):
            reached = book.get((machine, (reached, "stop")))  # a pre-queued stop: start, then stop
        assert reached == dest, f"not in the rule book: {label}"
