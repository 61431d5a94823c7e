"""The lifecycle machine on every store: random programs checked against the reference model
after every step; on memory, the run must also reach every state and transition."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis.stateful import run_state_machine_as_test

from ffwd.domain.lifecycle import GENERATOR_RULES, PHASE_RULES, STEP_RULES
from tests.integration.storage.conftest import url_for
from tests.stateful.coverage import REQUIRED, shortfall
from tests.stateful.machine import Lifecycle
from tests.stateful.world import World, machine_settings, world


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


def test_the_coverage_list_names_every_rule_of_the_rule_book() -> None:
    """A transition added to the rule book must be added to what every run reaches."""
    names = {"start": "start", "stop": "stop", "progress": "progress", "finish": "finish"}
    names |= {"fail": "fail", "cancel": "cancel"}
    for machine, rules in (("phase", PHASE_RULES), ("step", STEP_RULES)):
        for (state, trigger), dest in rules.items():
            label = f"{machine} {state} -{names[trigger]}-> {dest}"
            assert label in REQUIRED or f"{label} (no event)" in REQUIRED, label
    for (state, trigger), dest in GENERATOR_RULES.items():
        label = f"generator {state} -{names[trigger]}-> {dest}"
        assert label in REQUIRED or (state, trigger) == ("queued", "fail"), label
