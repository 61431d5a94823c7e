"""The lifecycle machine: random programs of commands on a few generators, each compared
with the reference model (state, event payloads, results, error codes) and checked against
the stored history and RULES.md's invariants after every step.

Commands are aimed: most go to a part where the model says they can land, so programs go
deep (every state, often a `succeeded` generator); the rest go anywhere, to be rejected.
Workers are preempted too: they release running phases and steps, which others claim again.
"""

import copy
import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from hypothesis import event, target
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from ffwd.adapters.storage.event_store import project_generator
from ffwd.application.summaries import summarize
from ffwd.application.views import view_of
from ffwd.domain import errors
from ffwd.domain.generator import Generator
from tests.stateful import checks
from tests.stateful.reference_model import ENDED, RUNS, GeneratorModel, Outcome, PartModel
from tests.stateful.world import ANONYMIZATION_SPEC, LAYOUTS, World

AIM = 85  # percent of commands aimed where the model says they can land
MAX_GENERATORS, MAX_LIVE = 10, 2
UNKNOWN = "text:zzz"
REASONS = ["early_stopped", "privacy_budget_exhausted", "max_epochs_reached"]
REASONS += ["time_limit_reached", "unknown", "manually_stopped", "not_a_reason"]
LEASES = st.sampled_from([None, None, 30.0, 3600.0])
TRIGGERS = {
    "start_phase": "start",
    "start_step": "start",
    "request_stop": "stop",
    "record_progress": "progress",
    "finish_phase": "finish",
    "finish_step": "finish",
    "fail_phase": "fail",
    "fail_step": "fail",
    "heartbeat": "heartbeat",
    "take_over": "take over",
    "cancel": "cancel",
    "release_phase": "release",
    "release_step": "release",
    "record_privacy": "privacy",
}
KEPT = ["a checkpoint", "a checkpoint", "none", "empty"]  # what a release hands back
PLANS = [
    dict(noise_multiplier=1.1, calibrated=True, sampling_rate=0.01, steps_per_epoch=100),
    dict(noise_multiplier=2, calibrated=False, sampling_rate=0.5, steps_per_epoch=2),
]
# When a takeover lands, relative to the lease's end.
TAKEOVER_AT = {
    "a moment after": timedelta(microseconds=1),
    "at": timedelta(0),
    "a day after": timedelta(days=1),
    "a moment before": timedelta(microseconds=-1),
    "a day before": timedelta(days=-1),
}
Command = Callable[[Generator], Any]


def startable_phase(m: GeneratorModel, p: PartModel) -> bool:
    return m.state not in ENDED and p.state == "pending" and m.phase_may_start(p.id)


def beside_a_running_one(m: GeneratorModel, p: PartModel) -> bool:
    return startable_phase(m, p) and any(q.state in RUNS for q in m.phases.values())


def side_by_side(m: GeneratorModel, p: PartModel) -> bool:
    """The phase and a sibling run, or may be claimed now to run, at once."""
    ready = m.ready_parts()
    going = [q.id for q in m.phases.values() if q.state in RUNS or q.id in ready]
    return p.id in going and len(going) > 1


def stoppable_while(state: str) -> Callable[[GeneratorModel, PartModel], bool]:
    return lambda m, p: p.state == state and not p.stop_requested  # type: ignore[attr-defined]


def asked_to_stop(m: GeneratorModel, p: PartModel) -> bool:
    return p.state not in ENDED and p.stop_requested  # type: ignore[attr-defined]


def running(m: GeneratorModel, p: PartModel) -> bool:
    return p.state in RUNS


def rows(first: int, last: int, step: int) -> list[dict[str, Any]]:
    """A row per epoch completed in (first, last], as a runner reports them (at most two)."""
    return [
        dict(epoch=e, step=step, elapsed_s=float(e), val_loss=0.5, train_loss=0.25, epsilon=None)
        for e in range(max(first + 1, last - 1), last + 1)
    ]


def kept_checkpoint(kind: str, epoch: int, step: int) -> dict[str, Any] | None:
    found = {"a checkpoint": {"id": f"r{epoch}-{step}", "epoch": epoch, "step": step}}
    return found.get(kind, {} if kind == "empty" else None)


def ready_step(m: GeneratorModel, s: PartModel) -> bool:
    return m.state not in ENDED and s.state == "pending" and m.step_ready(s.id)


def taken_over(m: GeneratorModel, p: PartModel) -> bool:
    return p.attempt > 1


def cancellable(m: GeneratorModel) -> bool:
    return m.state not in ("succeeded", "failed")


def cancellable_while_running(m: GeneratorModel) -> bool:
    return cancellable(m) and any(p.state == "running" for p in m.phases.values())


def live(m: GeneratorModel) -> bool:
    return m.state not in ENDED


def succeeded_training(m: GeneratorModel) -> bool:
    return m.state == "succeeded" and m.kind == "training"


def has(kind: str, fits: Callable[[GeneratorModel, PartModel], bool]) -> Callable[[Any], bool]:
    """A precondition: some part of some generator fits."""
    return lambda self: any(fits(m, p) for m in self.models.values() for p in _parts_of(m, kind))


class Lifecycle(RuleBasedStateMachine):
    def __init__(self, world: World) -> None:
        super().__init__()
        self.world, self.svc, self.store = world, world.svc, world.svc.store
        self.models: dict[UUID, GeneratorModel] = {}
        self.live: dict[UUID, Generator] = {}
        self.views: dict[UUID, list] = {}
        self.reached: set[str] = set()
        self.delivered: list[Any] = []
        self._unsubscribe = self.svc.subscribe(self.delivered.extend)

    def teardown(self) -> None:
        self._unsubscribe()
        target(float(len(self.reached)), label="transitions reached in one program")

    # Creating generators.

    @precondition(lambda self: len(self.models) < MAX_GENERATORS and self._live() < MAX_LIVE)
    @rule(
        kind=st.sampled_from(["training", "training", "training", "anonymization"]),
        # Two text tables trained side by side, more often: what a failure beside a running
        # (or stopping) sibling needs, the rarest transitions otherwise.
        layout=st.sampled_from([*LAYOUTS, LAYOUTS[-1]]),
        parallel=st.sampled_from([1, 2, 2]),
    )
    def create(self, kind: str, layout: tuple[str, ...], parallel: int) -> None:
        spec = self.world.specs[(layout, parallel)] if kind == "training" else ANONYMIZATION_SPEC
        g = Generator.create(name=spec["name"], kind=kind, spec=spec, text_tables=list(layout))
        model, outcome = GeneratorModel.create(
            g.id, name=spec["name"], kind=kind, spec=spec, text_tables=list(layout)
        )
        self.models[g.id], self.views[g.id] = model, [None]
        triggered = list(self.store.save(g))
        self._accepted(g.id, outcome, triggered, g.id, None)
        assert vars(self.live[g.id]) == vars(g)

    @precondition(
        lambda self: (
            len(self.models) < MAX_GENERATORS and any(map(succeeded_training, self.models.values()))
        )
    )
    @rule(
        data=st.data(),
        more_epochs=st.sampled_from([None, 2, 0]),
        max_epochs=st.sampled_from([None, None, 4, 100]),
    )
    def continue_training(
        self, data: st.DataObject, more_epochs: int | None, max_epochs: int | None
    ) -> None:
        """Train on from a succeeded generator: as many more epochs as it had, N more, or up
        to a new total (ADR 0025)."""
        gid = self._aim_generator(data, succeeded_training)
        child, outcome = self.models[gid].continue_training(uuid4(), more_epochs, max_epochs)
        total = None if max_epochs is None else {"training": {"max_epochs": max_epochs}}
        self.delivered.clear()
        try:
            child_id = self.svc.continue_training(gid, total, more_epochs=more_epochs)
        except errors.FfwdError as e:
            assert e.code == outcome.error, f"raised {e.code}, the model says {outcome.error}"
            self._reached(f"rejected: {e.code}")
            return
        assert child is not None, f"continued; the model says {outcome.error}"
        child.id, outcome.result = child_id, child_id  # an id the model cannot foresee
        self.models[child_id], self.views[child_id] = child, [None]
        self._reached("generator succeeded -continue-> a new generator")
        self._accepted(child_id, outcome, list(self.delivered), child_id, None)

    @precondition(
        lambda self: len(self.models) > MAX_LIVE and not all(map(live, self.models.values()))
    )
    @rule(data=st.data())
    def forget(self, data: st.DataObject) -> None:
        """Stop following an ended generator, so that programs go on creating new ones."""
        ended = [gid for gid, m in self.models.items() if not live(m)]
        del self.models[data.draw(st.sampled_from(ended), label="generator")]

    # Commands from people.

    @precondition(lambda self: any(map(live, self.models.values())))
    @rule(data=st.data(), who=st.sampled_from(["ann", "bo"]))
    def person(self, data: st.DataObject, who: str) -> None:
        """A person stops a phase, or now and then cancels a generator."""
        if data.draw(st.sampled_from(["stop"] * 5 + ["cancel"]), label="action") == "cancel":
            # Half the time one with a phase running and not asked to stop: most running
            # phases are asked to stop first, so their cancel would be rare.
            fits = cancellable
            running = any(map(cancellable_while_running, self.models.values()))
            if running and data.draw(st.booleans(), label="cancel while a phase runs"):
                fits = cancellable_while_running
            gid = self._aim_generator(data, fits)
            self._command(gid, "cancel", None, lambda m: m.cancel(who), lambda g: g.cancel(who))
            if self.models[gid].state == "cancelled":
                self._continue_is_refused(gid)
            return
        # Mostly a running phase: pre-queued stops on pending ones stay common enough, and
        # phases that all start `stopping` would rarely be aborted while running. Now and
        # then a phase already asked to stop (a no-op).
        whens = ["running"] * 3 + ["pending", "again"]
        when = data.draw(st.sampled_from(whens), label="stop a phase")
        fits = asked_to_stop if when == "again" else stoppable_while(when)
        if not has("phases", fits)(self):
            fits = stoppable_while("pending" if when == "running" else "running")
        gid, pid = self._aim(data, "phases", fits)
        self._command(
            gid,
            "request_stop",
            pid,
            lambda m: m.request_stop(pid, who),
            lambda g: g.request_stop(pid, who),
        )

    # Commands from the orchestrator and the runners.

    @precondition(has("phases", startable_phase))
    @rule(data=st.data(), worker=st.sampled_from(["w1", "w2"]), lease_s=LEASES)
    def start_phase(self, data: st.DataObject, worker: str, lease_s: float | None) -> None:
        gid, pid = self._aim(data, "phases", startable_phase)
        self._claim(gid, "start_phase", pid, worker, lease_s)

    @precondition(has("phases", beside_a_running_one))
    @rule(data=st.data(), worker=st.sampled_from(["w3", "w4"]))
    def start_a_parallel_phase(self, data: st.DataObject, worker: str) -> None:
        """Another worker claims a text phase while one of its siblings runs."""
        gid, pid = self._aim(data, "phases", beside_a_running_one)
        self._claim(gid, "start_phase", pid, worker)

    @precondition(has("phases", running))
    @rule(
        data=st.data(),
        d_epoch=st.sampled_from([1, 0, 2, -1]),
        d_step=st.sampled_from([3, 1, 0, -1]),
        elapsed_s=st.sampled_from([0.5, 2.0, 7.25]),
        val_loss=st.sampled_from([None, 0.75, 1.5]),
        epsilon=st.sampled_from([None, 0.5, 2.0]),
        keeps=st.booleans(),
    )
    def record_progress(self, data, d_epoch, d_step, elapsed_s, val_loss, epsilon, keeps) -> None:
        """A runner reports its counters and metrics, or now and then (a private phase) the
        DP-SGD settings its attempt trains with."""
        gid, pid = self._aim(data, "phases", running)
        attempt, epoch, step = self._counters(data, gid, pid, d_epoch, d_step)
        if data.draw(st.sampled_from(["progress"] * 3 + ["privacy"]), label="report") != "progress":
            plan = data.draw(st.sampled_from(PLANS), label="plan") | dict(last_step=epoch * 40)
            self._report(gid, "record_privacy", pid, attempt, **plan)
            return
        kept = {"id": f"k{epoch}-{step}", "epoch": epoch, "step": step} if keeps else None
        metrics = dict(epoch=epoch, step=step, elapsed_s=elapsed_s, val_loss=val_loss)
        metrics |= dict(epsilon=epsilon, kept=kept, epochs=self._rows(gid, pid, epoch, step))
        self._report(gid, "record_progress", pid, attempt, **metrics)

    @precondition(has("phases", running))
    @rule(
        data=st.data(),
        d_epoch=st.sampled_from([1, 0, 2, -1]),
        d_step=st.sampled_from([3, 1, 0, -1]),
        reasons=st.lists(st.sampled_from(REASONS), max_size=3),
        kept=st.sampled_from(["a checkpoint", "a checkpoint", "a checkpoint", "none", "no id"]),
    )
    def end_phase(self, data, d_epoch, d_step, reasons, kept) -> None:
        """A runner ends its phase at a step boundary, or now and then fails."""
        gid, pid = self._aim(data, "phases", running)
        attempt, epoch, step = self._counters(data, gid, pid, d_epoch, d_step)
        others = [p for p in self.models[gid].phases.values() if p.id != pid and p.state in RUNS]
        # Failures are rare, but likelier beside another running phase, which they abort.
        ways = ["finish", "fail"] if others else ["finish"] * 4 + ["fail"]
        if data.draw(st.sampled_from(ways), label="how") == "fail":
            self._fail_phase(gid, pid, attempt)
            return
        checkpoint = {"id": f"c{epoch}-{step}", "epoch": epoch, "step": step, "val_loss": 0.5}
        checkpoint = {"none": {}, "no id": {"epoch": epoch}}.get(kept, checkpoint)
        outcome = dict(reasons=reasons, checkpoint=checkpoint, epoch=epoch, step=step)
        outcome |= dict(elapsed_s=float(step), val_loss=0.5, epsilon=None)
        outcome["epochs"] = self._rows(gid, pid, epoch, step)
        self._report(gid, "finish_phase", pid, attempt, **outcome)

    @precondition(has("phases", side_by_side))
    @rule(data=st.data(), stop=st.booleans())
    def fail_beside_a_running_phase(self, data: st.DataObject, stop: bool) -> None:
        """A phase fails while a sibling runs on (both claimed first if need be, the sibling
        perhaps stopping): the failure aborts the sibling."""
        gid, pid = self._aim(data, "phases", side_by_side)
        m = self.models[gid]
        if pid in m.phases and side_by_side(m, m.phases[pid]):
            for ready in [q for q in m.ready_parts() if q in m.phases]:
                self._claim(gid, "start_phase", ready, "w3")
            others = [q for q in m.phases.values() if q.id != pid and q.state in RUNS]
            running_ones = [q.id for q in others if q.state == "running"]
            if stop and running_ones:
                sibling = running_ones[0]
                self._command(
                    gid,
                    "request_stop",
                    sibling,
                    lambda m: m.request_stop(sibling, "carol"),
                    lambda g: g.request_stop(sibling, "carol"),
                )
            elif not running_ones and others and m.phases[pid].state == "running":
                pid = others[0].id  # so that a running phase is aborted
        self._fail_phase(gid, pid, self._attempt(data, m.part(pid)))

    def _fail_phase(self, gid: UUID, pid: str, attempt: int) -> None:
        self._report(gid, "fail_phase", pid, attempt, "engine crashed")

    @precondition(has("parts", running))
    @rule(
        data=st.data(),
        d_epoch=st.sampled_from([1, 1, 0, 2, -1]),
        d_step=st.sampled_from([3, 1, 0, -1]),
        kept=st.sampled_from(KEPT),
        worker=st.sampled_from(["w5", "w6"]),
    )
    def preempt(self, data, d_epoch: int, d_step: int, kept: str, worker: str) -> None:
        """A worker shutting down hands its part back at a step boundary (RULES.md,
        "Preemption"), and mostly another worker claims it at once, to resume from the
        checkpoint it kept. A stopping phase is not handed back: its stop lands instead."""
        gid, part_id = self._aim(data, "parts", running)
        m = self.models[gid]
        again = data.draw(st.sampled_from([True, True, False]), label="claimed again")
        if part_id not in m.phases:
            attempt = self._attempt(data, m.part(part_id))
            released = self._release_step(gid, part_id, attempt) is None
            if released and again and self._claim(gid, "start_step", part_id, worker):
                self._reached("a released step runs again")
            return
        attempt, epoch, step = self._counters(data, gid, part_id, d_epoch, d_step)
        p = m.phases[part_id]
        if self._release_phase(gid, part_id, attempt, epoch, step, kept) is not None:
            if p.state == "stopping" and attempt == p.attempt:
                self._end_phase_well(gid, part_id, [])
                if p.reasons == ["manually_stopped"]:
                    self._reached("a stopping phase's stop lands instead of a release")
            return
        resume_from = p.resume_from
        if again and self._claim(gid, "start_phase", part_id, worker):
            assert p.resume_from == resume_from, "a claim changed where the phase resumes"
            if kept == "a checkpoint":
                assert self.live[gid].phases[part_id].resume_from["id"] == f"r{epoch}-{step}"
                self._reached("a released phase resumes from the checkpoint it kept")

    def _release_phase(
        self, gid: UUID, pid: str, attempt: int, epoch: int, step: int, kept: str
    ) -> str | None:
        p = self.models[gid].phases.get(pid)
        landing = p is not None and attempt == p.attempt and epoch >= p.epoch and step >= p.step
        was = p.state if p is not None and landing else None
        released = dict(epoch=epoch, step=step, elapsed_s=float(step) + 0.5)
        released |= dict(kept=kept_checkpoint(kept, epoch, step))
        released["epochs"] = self._rows(gid, pid, epoch, step)
        code = self._report(gid, "release_phase", pid, attempt, **released)
        if was == "stopping" and code == "invalid_transition":
            self._reached("release of a stopping phase refused")
        if code is None and self.models[gid].phases[pid].preemptions > 1:
            self._reached("a phase released again")
        return code

    def _release_step(self, gid: UUID, sid: str, attempt: int) -> str | None:
        return self._report(gid, "release_step", sid, attempt)

    def _claim(
        self, gid: UUID, which: str, part_id: str, worker: str, lease_s: float | None = None
    ) -> bool:
        """A worker claims a part (`which`: start_phase or start_step), with the default lease
        or `lease_s`; whether the claim was accepted."""
        lease = () if lease_s is None else (lease_s,)
        code = self._command(
            gid,
            which,
            part_id,
            lambda m: getattr(m, which)(part_id, worker, lease_s),
            lambda g: getattr(g, which)(part_id, worker, *lease),
        )
        return code is None

    @precondition(has("steps", ready_step))
    @rule(data=st.data(), worker=st.sampled_from(["w1", "w2"]), lease_s=LEASES)
    def start_step(self, data: st.DataObject, worker: str, lease_s: float | None) -> None:
        gid, sid = self._aim(data, "steps", ready_step)
        self._claim(gid, "start_step", sid, worker, lease_s)

    @precondition(has("steps", running))
    @rule(data=st.data())
    def end_step(self, data: st.DataObject) -> None:
        """A step's runner reports its outputs, or now and then a failure."""
        gid, sid = self._aim(data, "steps", running)
        attempt = self._attempt(data, self.models[gid].part(sid))
        if data.draw(st.sampled_from(["finish"] * 5 + ["fail"]), label="how") == "fail":
            self._report(gid, "fail_step", sid, attempt, "disk full")
            return
        outputs = {sid: f"{sid}.out", "by": sid}
        self._report(gid, "finish_step", sid, attempt, outputs)

    @precondition(has("parts", running))
    @rule(data=st.data())
    def heartbeat(self, data: st.DataObject) -> None:
        gid, part = self._aim(data, "parts", running)
        attempt = self._attempt(data, self.models[gid].part(part))
        self._report(gid, "heartbeat", part, attempt)

    @precondition(has("parts", running))
    @rule(
        data=st.data(),
        at=st.sampled_from(list(TAKEOVER_AT)),
        worker=st.sampled_from(["w3", "w4"]),
        lease_s=LEASES,
    )
    def take_over(self, data: st.DataObject, at: str, worker: str, lease_s: float | None) -> None:
        """Another worker claims a running part, at a moment near its lease's end."""
        gid, part = self._aim(data, "parts", running)
        held = self.models[gid].part(part)
        expiry = held.lease_expires_at if held and held.lease_expires_at else datetime.now(UTC)
        now = expiry + TAKEOVER_AT[at]
        lease = () if lease_s is None else (lease_s,)
        self._command(
            gid,
            "take_over",
            part,
            lambda m: m.take_over(part, worker, now, lease_s),
            lambda g: g.take_over(part, worker, now, *lease),
        )

    @precondition(has("parts", running))
    @rule(data=st.data())
    def take_over_lost(self, data: st.DataObject) -> None:
        """The worker holding a running part says its runner is gone (the process died on a
        cluster): it takes the part over at once, long before the lease ends."""
        gid, part = self._aim(data, "parts", running)
        held = self.models[gid].part(part)
        holder = held.worker if held and held.worker else "w1"
        worker = data.draw(st.sampled_from([holder, holder, "w9"]), label="worker")
        attempt = self._attempt(data, held)
        now = datetime.now(UTC) - timedelta(days=1)
        self._command(
            gid,
            "take_over",
            part,
            lambda m: m.take_over(part, worker, now, None, lost=attempt),
            lambda g: g.take_over(part, worker, now, lost=attempt),
            attempt=attempt,
        )

    @precondition(has("parts", taken_over))
    @rule(data=st.data())
    def stale_report(self, data: st.DataObject) -> None:
        """The worker a part was taken from reports late, with its old attempt."""
        gid, part_id = self._aim(data, "parts", taken_over)
        part = self.models[gid].part(part_id)
        attempt = data.draw(st.integers(1, max(1, part.attempt - 1) if part else 1))
        phase = part_id in self.models[gid].phases or part is None
        kinds = ["record_progress", "finish", "fail", "heartbeat"] if phase else ["finish", "fail"]
        kind = data.draw(st.sampled_from([*kinds, "release"]), label="report")
        if kind == "release" and phase:
            self._release_phase(gid, part_id, attempt, 99, 999, "a checkpoint")
        elif kind == "release":
            self._release_step(gid, part_id, attempt)
        elif kind == "heartbeat":
            self._report(gid, "heartbeat", part_id, attempt)
        elif kind == "record_progress":
            metrics = dict(
                epoch=99, step=999, elapsed_s=1.0, val_loss=None, epsilon=None, kept=None
            )
            self._report(gid, "record_progress", part_id, attempt, **metrics)
        elif kind == "fail" and phase:
            self._fail_phase(gid, part_id, attempt)
        elif kind == "fail":
            self._report(gid, "fail_step", part_id, attempt, "late")
        elif phase:
            done = dict(reasons=[], checkpoint={"id": "late", "epoch": 99, "step": 999})
            done |= dict(epoch=99, step=999, elapsed_s=1.0, val_loss=None, epsilon=None, epochs=[])
            self._report(gid, "finish_phase", part_id, attempt, **done)
        else:
            self._report(gid, "finish_step", part_id, attempt, {"late": True})

    @precondition(lambda self: any(map(live, self.models.values())))
    @rule(data=st.data())
    def drive(self, data: st.DataObject) -> None:
        """A worker makes the next move on a generator as the orchestrator would: claim a
        part that may start (as many phases at once as the spec allows), or end a running
        part well (now and then it is preempted instead). Programs go deep whatever rules
        are off."""
        gid = self._aim_generator(data, live)
        m = self.models[gid]
        runs = [p for p in m.parts() if p.state in RUNS]
        ready = m.ready_parts()
        if ready and (not runs or data.draw(st.booleans(), label="claim first")):
            part_id = data.draw(st.sampled_from(ready), label="part")
            self._claim(gid, "start_phase" if part_id in m.phases else "start_step", part_id, "w1")
        elif runs:
            part = data.draw(st.sampled_from(runs), label="part")
            if part.state == "running" and data.draw(st.integers(0, 11), label="preempted") == 0:
                self._preempt_at(gid, part.id)
                return
            if part.id not in m.phases:
                done = {part.id: f"{part.id}.out"}
                self._report(gid, "finish_step", part.id, part.attempt, done)
                return
            self._end_phase_well(gid, part.id, ["max_epochs_reached"])

    def _preempt_at(self, gid: UUID, part_id: str) -> None:
        """The worker running a part is preempted: it hands it back, keeping a checkpoint."""
        part = self.models[gid].part(part_id)
        assert part is not None
        if part_id in self.models[gid].steps:
            self._release_step(gid, part_id, part.attempt)
            return
        p = self.models[gid].phases[part_id]
        self._release_phase(gid, part_id, p.attempt, p.epoch + 1, p.step + 1, "a checkpoint")

    def _end_phase_well(self, gid: UUID, pid: str, reasons: list[str]) -> None:
        """The runner of a phase ends it at its next boundary, keeping a checkpoint."""
        p = self.models[gid].phases[pid]
        epoch, step, attempt = p.epoch + 1, p.step + 1, p.attempt
        end = dict(reasons=reasons, epoch=epoch, step=step)
        end |= dict(elapsed_s=1.0, val_loss=None, epsilon=None)
        end["checkpoint"] = {"id": f"d{epoch}", "epoch": epoch, "step": p.step}
        end["epochs"] = self._rows(gid, pid, epoch, step)
        self._report(gid, "finish_phase", pid, attempt, **end)

    # Checks on every generator, after every step.

    @invariant()
    def no_command_writes_another_generator(self) -> None:
        for gid, model in self.models.items():
            assert self.store.summary(gid).version == model.version

    # Running one command and checking it.

    def _command(
        self,
        gid: UUID,
        name: str,
        part: str | None,
        on_model: Callable[[GeneratorModel], Outcome],
        on_product: Command,
        attempt: int | None = None,
    ) -> str | None:
        """Run a command on the model and through the service, and compare; `attempt` is the
        one a runner's report names. Returns the error code it was rejected with, if any."""
        model = self.models[gid]
        states = _states(model)
        current = model.part(part).attempt if part and model.part(part) else 0
        outcome = on_model(model)
        before, ran = self.live[gid], []

        def run(g: Generator) -> Any:
            result = on_product(g)
            ran.append(g)
            return result

        self._on_a_held_aggregate(before, on_product, outcome)
        self.delivered.clear()
        try:
            result = self.svc.execute(gid, run)
        except errors.FfwdError as e:
            assert e.code == outcome.error, (
                f"{name} raised {e.code}, the model says {outcome.error}"
            )
            assert isinstance(e.message, str) and e.message, "an error says what went wrong"
            older = attempt is not None and 0 < attempt < current
            self._rejected(gid, name, e.code, stale=e.code == "stale_runner" and older)
            return e.code
        assert outcome.error is None, f"{name} accepted, the model says {outcome.error}"
        stored = self._accepted(gid, outcome, list(self.delivered), result, before)
        checks.rules_hold(before, self.live[gid], part, stored)
        assert not stored or vars(ran[-1]) == vars(self.live[gid]), "the commanded state"
        for label in _labels(name, part, states, _states(model), bool(stored)):
            self._reached(label)
        if (
            name == "cancel"
            and outcome.events
            and outcome.events[0].payload["discarded_checkpoints"]
        ):
            self._reached("cancel discards checkpoints")
        return None

    def _report(self, gid: UUID, name: str, part: str, attempt: int, *args, **kw) -> str | None:
        """A runner's command (`name`, on `part` as `attempt`), the same on the model and the
        product; returns the error code it was rejected with, if any."""
        return self._command(
            gid,
            name,
            part,
            lambda m: getattr(m, name)(part, attempt, *args, **kw),
            lambda g: getattr(g, name)(part, attempt, *args, **kw),
            attempt=attempt,
        )

    def _on_a_held_aggregate(self, before: Generator, on_product: Command, outcome: Outcome) -> Any:
        """The command on an aggregate held by an embedding caller (no store): the same verdict
        and events, and a rejected command leaves it exactly as it was."""
        held = _copy(before)
        try:
            result = on_product(held)
        except errors.FfwdError as e:
            assert e.code == outcome.error, f"on a held aggregate: {e.code}, not {outcome.error}"
            assert vars(held) == vars(before), "a rejected command changed the aggregate"
            return None
        assert outcome.error is None, f"accepted on a held aggregate, not {outcome.error}"
        triggered = held.collect_events()
        assert [type(e).__name__ for e in triggered] == [e.name for e in outcome.events]
        assert [checks.payload(e) for e in triggered] == [e.payload for e in outcome.events]
        assert result == outcome.result
        return result

    def _accepted(
        self, gid: UUID, outcome: Outcome, triggered: list[Any], result: Any, before: Any
    ) -> list[Any]:
        """Check an accepted command: its events as the model says, stored as triggered; then
        keep the live aggregate and its view at each new version. Returns the stored events."""
        model = self.models[gid]
        stored = list(self.store.events(gid))[model.version :]
        checks.events_are_expected(stored, outcome.events, model.version)
        assert result == outcome.result, f"returned {result!r}, the model says {outcome.result!r}"
        assert [vars(e) for e in triggered] == [vars(e) for e in stored], "stored as triggered"
        model.stamp(outcome.events, stored)
        state = _copy(before)
        for e in triggered:
            state = e.mutate(state)
            self.views[gid].append(view_of(state))
        if state is not None:
            self.live[gid] = state
        self._check_product(gid)
        return stored

    def _rejected(self, gid: UUID, name: str, code: str, stale: bool) -> None:
        """A rejected command writes nothing."""
        assert not self.delivered, "a rejected command stored events"
        self._reached(f"rejected: {code}")
        if stale:
            self._reached(f"stale {name} after a takeover rejected")
        live = self.live[gid]
        assert vars(self.store.get(gid)) == vars(live)
        assert self.store.summary(gid) == summarize(live)

    def _check_product(self, gid: UUID) -> None:
        """The product is the model, and every way of reading it agrees with the live one."""
        live, model, views = self.live[gid], self.models[gid], self.views[gid]
        checks.product_is_the_model(live, model)
        assert vars(self.store.get(gid)) == vars(live), "the kept state is the live one"
        replayed = project_generator(None, self.store.events(gid))
        assert vars(replayed) == vars(live), "replay is the live aggregate"
        if self.world.reader is not None:
            assert vars(self.world.reader.get(gid)) == vars(live), "another process reads it"
        for n in range(1, len(views)):
            assert self.svc.get_view(gid, at_version=n) == views[n], f"the view at version {n}"
        assert self.svc.get_view(gid) == views[-1]
        checks.view_is_the_model(views[-1], model)
        try:
            self.svc.get_view(gid, at_version=len(views))
            raise AssertionError("a view after the latest version")
        except errors.UnknownGenerator:
            pass
        summary = self.store.summary(gid)
        assert summary == summarize(live), "the summary is the live generator's"
        checks.summary_is_the_model(summary, model)

    def _continue_is_refused(self, gid: UUID) -> None:
        """A cancelled generator offers no checkpoint to continue from (invariant 6)."""
        training = self.models[gid].kind == "training"
        try:
            self.svc.continue_training(gid)
            raise AssertionError("continued training from a cancelled generator")
        except errors.FfwdError as e:
            assert e.code == ("parent_not_succeeded" if training else "not_applicable")
            self._reached(f"rejected: {e.code}")

    # Choosing targets.

    def _aim(
        self, data: st.DataObject, kind: str, fits: Callable[[GeneratorModel, PartModel], bool]
    ) -> tuple[UUID, str]:
        """Mostly a part where the command can land; else any part, or one that is not."""
        fitting = [
            (gid, p.id) for gid, m in self.models.items() for p in _parts_of(m, kind) if fits(m, p)
        ]
        if fitting and data.draw(st.integers(0, 99), label="aim") < AIM:
            return data.draw(st.sampled_from(fitting), label="target")
        gid = data.draw(st.sampled_from(list(self.models)), label="generator")
        ids = [p.id for p in _parts_of(self.models[gid], kind)] + [UNKNOWN]
        return gid, data.draw(st.sampled_from(ids), label="part")

    def _aim_generator(self, data: st.DataObject, fits: Callable[[GeneratorModel], bool]) -> UUID:
        fitting = [gid for gid, m in self.models.items() if fits(m)]
        if fitting and data.draw(st.integers(0, 99), label="aim") < AIM:
            return data.draw(st.sampled_from(fitting), label="generator")
        return data.draw(st.sampled_from(list(self.models)), label="generator")

    def _attempt(self, data: st.DataObject, part: PartModel | None) -> int:
        """Mostly the current attempt; sometimes an older one (a stale report) or the next."""
        current = part.attempt if part else 1
        how = data.draw(st.integers(0, 9), label="attempt")
        return current - 1 if how == 8 else current + 1 if how == 9 else current

    def _counters(self, data, gid, pid, d_epoch: int, d_step: int) -> tuple[int, int, int]:
        p = self.models[gid].phases.get(pid)
        attempt = self._attempt(data, p)
        if p is None:
            return attempt, max(0, d_epoch), max(0, d_step)
        return attempt, max(0, p.epoch + d_epoch), max(0, p.step + d_step)

    def _rows(self, gid: UUID, pid: str, epoch: int, step: int) -> list[dict[str, Any]]:
        """The epochs completed since the phase's last report, up to `epoch`."""
        p = self.models[gid].phases.get(pid)
        return rows(p.epoch if p else 0, epoch, step)

    def _live(self) -> int:
        return sum(m.state not in ENDED for m in self.models.values())

    def _reached(self, label: str) -> None:
        event(label)
        self.reached.add(label)
        self.world.coverage[label] += 1


def _copy(g: Generator | None) -> Generator | None:
    """The test's own copy of a live aggregate: its attributes and parts (event bodies assign
    values, never change them in place, so those are shared)."""
    if g is None:
        return None
    clone = copy.copy(g)
    clone.phases = {k: dataclasses.replace(p) for k, p in g.phases.items()}
    clone.steps = {k: dataclasses.replace(s) for k, s in g.steps.items()}
    return clone


def _parts_of(model: GeneratorModel, kind: str) -> list[PartModel]:
    if kind == "phases":
        return list(model.phases.values())
    return list(model.steps.values()) if kind == "steps" else model.parts()


def _states(model: GeneratorModel) -> dict[str | None, str]:
    return {None: model.state, **{p.id: p.state for p in model.parts()}}


def _labels(name: str, part: str | None, before: dict, after: dict, stored: bool) -> list[str]:
    """The transitions one accepted command made, in RULES.md's words."""
    trigger = TRIGGERS[name]
    kind = "step" if name.endswith("_step") else "phase"
    if part is not None and name in ("heartbeat", "take_over"):
        kind = "phase" if part.startswith(("tabular", "text:")) else "step"
    quiet = "" if stored else " (no event)"
    labels = []
    if part is not None:
        labels.append(f"{kind} {before[part]} -{trigger}-> {after[part]}{quiet}")
    for pid, was in before.items():
        if pid in (None, part) or after[pid] == was:
            continue
        machine = "phase" if pid.startswith(("tabular", "text:")) else "step"
        how = "cancel" if name == "cancel" else "abort"
        labels.append(f"{machine} {was} -{how}-> {after[pid]}")
    if after[None] != before[None] or (name == "cancel" and not stored):
        labels.append(f"generator {before[None]} -{trigger}-> {after[None]}{quiet}")
    return labels
