"""The facts people decide a stop by: every epoch's metrics kept (the curve), the best
checkpoint so far and the epochs since, an honest liveness, and the continue loop."""

import itertools
from datetime import timedelta

import pytest

from ffwd.application.views import STALE_MARGIN_S, view_of
from ffwd.domain import errors
from tests.e2e.helpers import PHASES, entries, phase


def test_every_epoch_is_in_the_curve_however_rarely_progress_is_stored(svc, create) -> None:
    """Progress is stored every minute here (so, about never): the epochs still all come,
    with the phase's end."""
    view = svc.run(create(max_epochs=6), progress_interval_s=60.0)
    assert view.state == "succeeded"
    history = svc.history(view.id)
    for p in PHASES:
        rows = svc.metrics(view.id, p)
        assert [r.epoch for r in rows] == list(range(1, phase(view, p).epoch + 1))
        assert all(r.val_loss is not None and r.train_loss is not None for r in rows)
        assert all(
            a.step < b.step and a.elapsed_s <= b.elapsed_s for a, b in itertools.pairwise(rows)
        )
        # What was stored on the way: only each newly kept checkpoint, at once (a takeover
        # resumes from it), at most one per epoch.
        stored = entries(history, "PhaseProgressed", p)
        assert all(e.data["kept"] for e in stored) and len(stored) <= phase(view, p).epoch


def test_the_curve_is_every_epoch_when_progress_is_stored_at_every_boundary(svc, create):
    view = svc.run(create(max_epochs=5), progress_interval_s=0.0)
    for p in PHASES:
        assert [r.epoch for r in svc.metrics(view.id, p)] == [1, 2, 3, 4, 5]


def test_best_and_epochs_since_best(svc, create) -> None:
    view = svc.run(create(max_epochs=8), progress_interval_s=0.0)
    for p in PHASES:
        done = phase(view, p)
        assert done.best == done.checkpoint
        assert done.epochs_since_best == done.epoch - done.checkpoint.epoch
        rows = svc.metrics(view.id, p)
        lowest = min(rows, key=lambda r: r.val_loss)
        assert done.best.val_loss == pytest.approx(lowest.val_loss)
        # While it ran, the view said so after every epoch: best is the kept checkpoint.
        for entry in entries(svc.history(view.id), "PhaseProgressed", p):
            then = svc.get_view(view.id, at_version=entry.version)
            running = phase(then, p)
            if entry.data["kept"] is not None:
                assert running.best.id == entry.data["kept"]["id"]
                assert running.epochs_since_best == running.epoch - running.best.epoch


def test_a_silent_running_phase_is_stale_and_says_when_its_lease_ends(svc, create) -> None:
    gid = create(max_epochs=3)
    svc.start_phase(gid, "tabular", "gone-worker", lease_s=30.0)
    g = svc.get_generator(gid)
    started = g.phases["tabular"].started_at
    fresh = view_of(g, started + timedelta(seconds=1))
    silent = view_of(g, started + timedelta(seconds=10 + STALE_MARGIN_S + 1))
    assert phase(fresh, "tabular").stale is False
    assert phase(silent, "tabular").stale is True
    assert phase(silent, "tabular").last_report_at == started
    assert phase(silent, "tabular").lease_expires_at == started + timedelta(seconds=30)
    assert phase(silent, "text:customers").stale is False  # pending: nobody should report
    assert svc.get_view(gid, at_version=g.version) == view_of(g)  # history: as of its event


def test_continue_with_more_epochs_trains_beyond_each_checkpoint(svc, create) -> None:
    parent = svc.run(create(max_epochs=3), progress_interval_s=0.0)
    child_id = svc.continue_training(parent.id, more_epochs=2)
    child = svc.get_view(child_id)
    for p in PHASES:
        kept = phase(parent, p).checkpoint.epoch
        assert phase(child, p).epoch_limit == kept + 2
    child = svc.run(child_id, progress_interval_s=0.0)
    for p in PHASES:
        kept = phase(parent, p).checkpoint
        done = phase(child, p)
        assert done.epoch == kept.epoch + 2 and done.reasons == ["max_epochs_reached"]
        rows = svc.metrics(child_id, p)
        inherited = [r for r in rows if r.generator == parent.id]
        assert [r.epoch for r in inherited] == list(range(1, kept.epoch + 1))
        assert [r.epoch for r in rows if r.generator == child.id] == [
            kept.epoch + 1,
            kept.epoch + 2,
        ]


def test_continue_with_a_total_behind_the_checkpoint_is_refused(svc, create) -> None:
    parent = svc.run(create(max_epochs=3), progress_interval_s=0.0)
    with pytest.raises(errors.InvalidSpec, match="more_epochs"):
        svc.continue_training(parent.id, {"training": {"max_epochs": 1}})
    default = svc.get_view(svc.continue_training(parent.id))  # as many more as the parent's
    for p in PHASES:
        assert phase(default, p).epoch_limit == phase(parent, p).checkpoint.epoch + 3


def test_metrics_of_an_unknown_phase(svc, create) -> None:
    with pytest.raises(errors.UnknownPhase):
        svc.metrics(create(), "text:nowhere")
