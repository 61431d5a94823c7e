"""A lost runner (ADR 0027): the worker holding a part says the process running its attempt
died (a Ray worker killed); it takes the part over at once, without waiting out the lease.
Only the holder of the current attempt may say so; everything else about a takeover holds."""

from datetime import UTC, datetime

import pytest

from ffwd.domain import errors
from tests.unit.test_phase_rules import fresh

KEPT = {"id": "a1-e2-s18", "epoch": 2, "step": 18, "val_loss": 1.5}
NOW = datetime.now(UTC)  # long before any lease ends


def running():
    g = fresh()
    attempt = g.start_phase("tabular", "driver-1", lease_s=3600)
    g.record_progress("tabular", attempt, epoch=3, step=27, elapsed_s=4.0, kept=KEPT)
    return g, attempt


def test_the_holder_takes_its_lost_attempt_over_at_once_from_its_last_kept_checkpoint() -> None:
    g, attempt = running()
    with pytest.raises(errors.InvalidTransition, match="held by"):
        g.take_over("tabular", "driver-1", NOW)  # the lease runs for an hour
    assert g.take_over("tabular", "driver-1", NOW, lost=attempt) == attempt + 1
    phase = g.phases["tabular"]
    assert (phase.state, phase.attempt, phase.epoch, phase.step) == ("running", 2, 3, 27)
    assert phase.resume_from == {**KEPT, "generator": str(g.id)}
    event = g.collect_events()[-1]
    assert type(event).__name__ == "TakenOver"
    assert (event.worker, event.previous_worker, event.attempt) == ("driver-1", "driver-1", 2)
    with pytest.raises(errors.StaleRunner):  # the lost attempt's late report is refused
        g.record_progress("tabular", attempt, epoch=4, step=30, elapsed_s=5.0)


def test_only_the_holder_of_the_current_attempt_may_say_it_is_lost() -> None:
    g, attempt = running()
    with pytest.raises(errors.InvalidTransition, match="only its holder"):
        g.take_over("tabular", "someone-else", NOW, lost=attempt)
    with pytest.raises(errors.StaleRunner):
        g.take_over("tabular", "driver-1", NOW, lost=attempt + 1)
    g.take_over("tabular", "driver-1", NOW, lost=attempt)
    with pytest.raises(errors.StaleRunner):  # said twice: the second word is stale
        g.take_over("tabular", "driver-1", NOW, lost=attempt)


def test_a_part_that_is_not_running_cannot_be_lost() -> None:
    g = fresh()
    with pytest.raises(errors.InvalidTransition, match="not running"):
        g.take_over("tabular", "driver-1", NOW, lost=0)
    g, attempt = running()
    g.cancel("alice")
    with pytest.raises(errors.GeneratorCancelled):
        g.take_over("tabular", "driver-1", NOW, lost=attempt)
