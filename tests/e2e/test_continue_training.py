"""Continue training: a new generator from a succeeded one's checkpoints, with its lineage."""

import pytest

from ffwd.domain import errors
from tests.e2e.helpers import PHASES, entries, phase


def test_the_child_starts_from_the_parent_weights(svc, create) -> None:
    parent = svc.run(create(max_epochs=2))
    child_id = svc.continue_training(parent.id, {"training": {"max_epochs": 3}})
    child = svc.get_view(child_id)
    assert child.parent == parent.id and child.state == "queued"
    assert [p.resumed_from for p in child.phases] == [
        phase(parent, p).checkpoint.id for p in PHASES
    ]
    # Progress at every step boundary, not every 10 ms: a loaded machine (or a fast one)
    # then always records the first boundary's progress (was flaky, issue 13).
    child = svc.run(child_id, progress_interval_s=0.0)
    assert child.state == "succeeded"
    history = svc.history(child_id)
    for p in PHASES:
        kept = phase(parent, p).checkpoint
        # Counters go on from the parent's checkpoint, and the first progress the child
        # records is of the parent's model: its validation loss is the parent's kept one.
        first = entries(history, "PhaseProgressed", p)[0].data
        assert first["epoch"] >= kept.epoch and first["step"] >= kept.step
        assert first["kept"]["val_loss"] == pytest.approx(kept.val_loss, rel=1e-9)
        ended = phase(child, p)
        assert ended.epoch >= kept.epoch and ended.reasons == ["max_epochs_reached"]


def test_a_lineage_of_three_keeps_its_privacy_total(svc, create) -> None:
    dp = {"max_epsilon": 50.0, "noise_multiplier": 1.0, "max_grad_norm": 1.0}
    first = svc.run(create(max_epochs=1, differential_privacy=dp))
    second = svc.run(svc.continue_training(first.id, {"training": {"max_epochs": 2}}))
    third = svc.run(svc.continue_training(second.id, {"training": {"max_epochs": 3}}))
    assert [g.state for g in (first, second, third)] == ["succeeded"] * 3
    assert (second.parent, third.parent) == (first.id, second.id)
    for p in PHASES:
        spent = [phase(g, p).epsilon for g in (first, second, third)]
        assert 0 < spent[0] < spent[1] < spent[2] <= 50.0, spent
    created = svc.history(third.id)[0]
    assert created.type == "Created" and created.data["parent"] == second.id


def test_a_private_lineage_stays_private(svc, create) -> None:
    dp = {"max_epsilon": 50.0}
    parent = svc.run(create(max_epochs=1, differential_privacy=dp))
    with pytest.raises(errors.InvalidSpec, match="a private lineage stays private"):
        svc.continue_training(parent.id, {"training": {"differential_privacy": None}})


def test_a_lineage_without_privacy_cannot_turn_private_when_continued(svc, create) -> None:
    """Was: accepted, then the child's phases failed when they ran."""
    parent = svc.run(create(max_epochs=1))
    dp = {"differential_privacy": {"max_epsilon": 6.0}}
    with pytest.raises(errors.InvalidSpec, match="its privacy is already unbounded"):
        svc.continue_training(parent.id, {"training": dp})
    assert len(svc.list_generators().items) == 1


def test_the_child_can_be_stopped_pre_queued_and_cancelled_like_any_other(svc, create) -> None:
    parent = svc.run(create(max_epochs=1))
    child_id = svc.continue_training(parent.id, {"training": {"max_epochs": 4}})
    svc.request_stop(child_id, "text:orders", requested_by="alice")
    child = svc.run(child_id, progress_interval_s=0.01)
    orders = phase(child, "text:orders")
    assert orders.reasons == ["manually_stopped"]
    assert orders.step == phase(parent, "text:orders").checkpoint.step + 1
    other = svc.continue_training(parent.id)
    svc.cancel(other, requested_by="bob")
    with pytest.raises(errors.ParentNotSucceeded):
        svc.continue_training(other)


def test_continue_is_rejected_from_running_and_failed_generators(svc, create) -> None:
    running = create(max_epochs=1)
    svc.start_phase(running, "tabular", "w")
    with pytest.raises(errors.ParentNotSucceeded):
        svc.continue_training(running)
    before = len(svc.list_generators().items)
    failed = create(max_epochs=1)
    attempt = svc.start_phase(failed, "tabular", "w")
    svc.fail_phase(failed, "tabular", attempt, "boom")
    with pytest.raises(errors.ParentNotSucceeded):
        svc.continue_training(failed)
    assert len(svc.list_generators().items) == before + 1
