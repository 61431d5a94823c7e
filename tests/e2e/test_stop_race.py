"""A stop that lands while its phase is starting: "The stop request is accepted immediately
and applied as soon as that phase begins" (pre-queued), and a running phase stops at its
next step boundary. Here the stop is stored just after the phase started and the runner read
its state, before the runner's control is attached: it must still apply at the first
boundary.

The service has no feed here (`GeneratorService(feed=None)` is a valid setup, and a store's
feed would hand the stop over again a poll interval later, at a later boundary): only the
in-process delivery of the stored stop to the runner is exercised."""

import threading

from tests.e2e.helpers import PHASES, OnEvent, entries, phase


def test_a_stop_stored_while_the_phase_starts_applies_at_its_first_boundary(
    svc, create, monkeypatch
):
    gid = create(max_epochs=8)
    armed = threading.Event()
    read = svc.get_generator

    def get_generator(generator, at_version=None):
        g = read(generator, at_version)
        if armed.is_set() and threading.current_thread().name != "ffwd-follower":
            armed.clear()
            svc.request_stop(gid, "tabular", requested_by="alice")
        return g

    monkeypatch.setattr(svc, "get_generator", get_generator)
    monkeypatch.setattr(svc, "feed", None)
    started = OnEvent(svc, "PhaseStarted", "tabular", armed.set)
    final = svc.run(gid, progress_interval_s=0.05)
    started.result()

    history = svc.history(gid)
    (request,) = entries(history, "StopRequested", "tabular")
    assert request.data["phase_state_then"] == "running"
    tabular = phase(final, "tabular")
    assert tabular.reasons == ["manually_stopped"]
    assert (tabular.epoch, tabular.step) == (0, 1)
    assert final.state == "succeeded"
    assert [phase(final, p).reasons for p in PHASES[1:]] == [["max_epochs_reached"]] * 2
