"""The lifecycle machine: random programs of commands on a few generators, each compared
with the reference model (state, event payloads, results, error codes) and checked against
the stored history and RULES.md's invariants after every step.

Commands are aimed: most go to a part where the model says they can land, so programs go
deep (every state, often a `succeeded` generator); the rest go anywhere, to be rejected.
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
}
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


def beside_a_running_sibling(m: GeneratorModel, p: PartModel) -> bool:
    siblings = [q for q in m.phases.values() if q.id != p.id]
    return p.state in RUNS and any(q.state == "running" for q in siblings)


def stoppable_while(state: str) -> Callable[[GeneratorModel, PartModel], bool]:
    return lambda m, p: p.state == state and not p.stop_requested  # type: ignore[attr-defined]


def stoppable_phase(m: GeneratorModel, p: PartModel) -> bool:
    return p.state not in ENDED and not p.stop_requested  # type: ignore[attr-defined]


def running(m: GeneratorModel, p: PartModel) -> bool:
    return p.state in RUNS


def ready_step(m: GeneratorModel, s: PartModel) -> bool:
    return m.state not in ENDED and s.state == "pending" and m.step_ready(s.id)


def taken_over(m: GeneratorModel, p: PartModel) -> bool:
    return p.attempt > 1


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
        layout=st.sampled_from(LAYOUTS),
        parallel=st.sampled_from([1, 2]),
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
    @rule(data=st.data())
    def continue_training(self, data: st.DataObject) -> None:
        gid = self._aim_generator(data, succeeded_training)
        child, outcome = self.models[gid].continue_training(uuid4())
        self.delivered.clear()
        try:
            child_id = self.svc.continue_training(gid)
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
            gid = self._aim_generator(data, lambda m: m.state not in ("succeeded", "failed"))
            self._command(gid, "cancel", None, lambda m: m.cancel(who), lambda g: g.cancel(who))
            if self.models[gid].state == "cancelled":
                self._continue_is_refused(gid)
            return
        # Mostly a running phase: pre-queued stops on pending ones stay common enough, and
        # phases that all start `stopping` would rarely be aborted while running.
        when = data.draw(st.sampled_from(["running"] * 3 + ["pending"]), label="stop a phase")
        if not has("phases", stoppable_while(when))(self):
            when = "pending" if when == "running" else "running"
        gid, pid = self._aim(data, "phases", stoppable_while(when))
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
        lease = () if lease_s is None else (lease_s,)
        self._command(
            gid,
            "start_phase",
            pid,
            lambda m: m.start_phase(pid, worker, lease_s),
            lambda g: g.start_phase(pid, worker, *lease),
        )

    @precondition(has("phases", beside_a_running_one))
    @rule(data=st.data(), worker=st.sampled_from(["w3", "w4"]))
    def start_a_parallel_phase(self, data: st.DataObject, worker: str) -> None:
        """Another worker claims a text phase while one of its siblings runs."""
        gid, pid = self._aim(data, "phases", beside_a_running_one)
        self._command(
            gid,
            "start_phase",
            pid,
            lambda m: m.start_phase(pid, worker, None),
            lambda g: g.start_phase(pid, worker),
        )

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
        gid, pid = self._aim(data, "phases", running)
        attempt, epoch, step = self._counters(data, gid, pid, d_epoch, d_step)
        kept = {"id": f"k{epoch}-{step}", "epoch": epoch, "step": step} if keeps else None
        metrics = dict(epoch=epoch, step=step, elapsed_s=elapsed_s, val_loss=val_loss)
        metrics |= dict(epsilon=epsilon, kept=kept)
        self._command(
            gid,
            "record_progress",
            pid,
            lambda m: m.record_progress(pid, attempt, **metrics),
            lambda g: g.record_progress(pid, attempt, **metrics),
            attempt=attempt,
        )

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
        self._command(
            gid,
            "finish_phase",
            pid,
            lambda m: m.finish_phase(pid, attempt, **outcome),
            lambda g: g.finish_phase(pid, attempt, **outcome),
            attempt=attempt,
        )

    @precondition(has("phases", beside_a_running_sibling))
    @rule(data=st.data())
    def fail_beside_a_running_phase(self, data: st.DataObject) -> None:
        """A phase fails while a sibling runs on, which the failure aborts."""
        gid, pid = self._aim(data, "phases", beside_a_running_sibling)
        part = self.models[gid].part(pid)
        attempt = self._attempt(data, part)
        self._fail_phase(gid, pid, attempt)

    def _fail_phase(self, gid: UUID, pid: str, attempt: int) -> None:
        self._command(
            gid,
            "fail_phase",
            pid,
            lambda m: m.fail_phase(pid, attempt, "engine crashed"),
            lambda g: g.fail_phase(pid, attempt, "engine crashed"),
            attempt=attempt,
        )

    @precondition(has("steps", ready_step))
    @rule(data=st.data(), worker=st.sampled_from(["w1", "w2"]), lease_s=LEASES)
    def start_step(self, data: st.DataObject, worker: str, lease_s: float | None) -> None:
        gid, sid = self._aim(data, "steps", ready_step)
        lease = () if lease_s is None else (lease_s,)
        self._command(
            gid,
            "start_step",
            sid,
            lambda m: m.start_step(sid, worker, lease_s),
            lambda g: g.start_step(sid, worker, *lease),
        )

    @precondition(has("steps", running))
    @rule(data=st.data())
    def end_step(self, data: st.DataObject) -> None:
        """A step's runner reports its outputs, or now and then a failure."""
        gid, sid = self._aim(data, "steps", running)
        attempt = self._attempt(data, self.models[gid].part(sid))
        if data.draw(st.sampled_from(["finish"] * 5 + ["fail"]), label="how") == "fail":
            self._command(
                gid,
                "fail_step",
                sid,
                lambda m: m.fail_step(sid, attempt, "disk full"),
                lambda g: g.fail_step(sid, attempt, "disk full"),
                attempt=attempt,
            )
            return
        outputs = {sid: f"{sid}.out", "by": sid}
        self._command(
            gid,
            "finish_step",
            sid,
            lambda m: m.finish_step(sid, attempt, outputs),
            lambda g: g.finish_step(sid, attempt, outputs),
            attempt=attempt,
        )

    @precondition(has("parts", running))
    @rule(data=st.data())
    def heartbeat(self, data: st.DataObject) -> None:
        gid, part = self._aim(data, "parts", running)
        attempt = self._attempt(data, self.models[gid].part(part))
        self._command(
            gid,
            "heartbeat",
            part,
            lambda m: m.heartbeat(part, attempt),
            lambda g: g.heartbeat(part, attempt),
            attempt=attempt,
        )

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
        kind = data.draw(st.sampled_from(kinds), label="report")
        if kind == "heartbeat":
            self._command(
                gid,
                "heartbeat",
                part_id,
                lambda m: m.heartbeat(part_id, attempt),
                lambda g: g.heartbeat(part_id, attempt),
                attempt=attempt,
            )
        elif kind == "record_progress":
            metrics = dict(
                epoch=99, step=999, elapsed_s=1.0, val_loss=None, epsilon=None, kept=None
            )
            self._command(
                gid,
                "record_progress",
                part_id,
                lambda m: m.record_progress(part_id, attempt, **metrics),
                lambda g: g.record_progress(part_id, attempt, **metrics),
                attempt=attempt,
            )
        elif kind == "fail" and phase:
            self._fail_phase(gid, part_id, attempt)
        elif kind == "fail":
            self._command(
                gid,
                "fail_step",
                part_id,
                lambda m: m.fail_step(part_id, attempt, "late"),
                lambda g: g.fail_step(part_id, attempt, "late"),
                attempt=attempt,
            )
        elif phase:
            done = dict(reasons=[], checkpoint={"id": "late", "epoch": 99, "step": 999})
            done |= dict(epoch=99, step=999, elapsed_s=1.0, val_loss=None, epsilon=None)
            self._command(
                gid,
                "finish_phase",
                part_id,
                lambda m: m.finish_phase(part_id, attempt, **done),
                lambda g: g.finish_phase(part_id, attempt, **done),
                attempt=attempt,
            )
        else:
            self._command(
                gid,
                "finish_step",
                part_id,
                lambda m: m.finish_step(part_id, attempt, {"late": True}),
                lambda g: g.finish_step(part_id, attempt, {"late": True}),
                attempt=attempt,
            )

    @precondition(lambda self: any(map(live, self.models.values())))
    @rule(data=st.data())
    def drive(self, data: st.DataObject) -> None:
        """A worker makes the next move on a generator as the orchestrator would: end a
        running part well, or start a ready one. Programs go deep whatever rules are off."""
        gid = self._aim_generator(data, live)
        m = self.models[gid]
        runs = [p for p in m.parts() if p.state in RUNS]
        ready = [p.id for p in m.phases.values() if startable_phase(m, p)]
        ready += [s.id for s in m.steps.values() if ready_step(m, s)]
        if runs:
            part = data.draw(st.sampled_from(runs), label="part")
            if part.id not in m.phases:
                done = {part.id: f"{part.id}.out"}
                self._command(
                    gid,
                    "finish_step",
                    part.id,
                    lambda m: m.finish_step(part.id, part.attempt, done),
                    lambda g: g.finish_step(part.id, part.attempt, done),
                    attempt=part.attempt,
                )
                return
            p = m.phases[part.id]
            end = dict(reasons=["max_epochs_reached"], epoch=p.epoch + 1, step=p.step + 1)
            end |= dict(elapsed_s=1.0, val_loss=None, epsilon=None)
            end["checkpoint"] = {"id": f"d{p.epoch + 1}", "epoch": p.epoch + 1, "step": p.step}
            self._command(
                gid,
                "finish_phase",
                p.id,
                lambda m: m.finish_phase(p.id, p.attempt, **end),
                lambda g: g.finish_phase(p.id, p.attempt, **end),
                attempt=p.attempt,
            )
        elif ready:
            part_id = data.draw(st.sampled_from(ready), label="part")
            which = "start_phase" if part_id in m.phases else "start_step"
            self._command(
                gid,
                which,
                part_id,
                lambda m: getattr(m, which)(part_id, "w1", None),
                lambda g: getattr(g, which)(part_id, "w1"),
            )

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
    ) -> None:
        """Run a command on the model and through the service, and compare; `attempt` is the
        one a runner's report names."""
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
            return
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
