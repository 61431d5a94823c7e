"""Random programs of legal and illegal commands against the reference model, checking every
invariant of RULES.md after every step (replay, views at every version, store round trip)."""

import copy
import os
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, consumes, invariant, rule

from ffwd.adapters.container import build_service
from ffwd.adapters.storage.event_store import project_generator
from ffwd.application.views import view_of
from ffwd.domain import errors
from ffwd.domain.generator import Generator
from tests.stateful.reference_model import ENDED, GeneratorModel

EXAMPLES = int(os.environ.get("FFWD_STATEFUL_EXAMPLES", "300"))
UNKNOWN_PHASE = "text:zzz"
# Mostly a phase the generator has, sometimes one it does not.
PHASE = st.integers(0, 11)
REASONS = [
    "early_stopped",
    "privacy_budget_exhausted",
    "max_epochs_reached",
    "time_limit_reached",
    "unknown",
]
STEP_IDS = {"training": ["synthesis", "report"], "anonymization": ["anonymize", "report"]}


class Lifecycle(RuleBasedStateMachine):
    generators = Bundle("generators")

    def __init__(self) -> None:
        super().__init__()
        self.svc = build_service("memory://")
        self.models: dict = {}
        self.live: dict = {}
        self.seen: dict = {}

    @rule(
        target=generators,
        kind=st.sampled_from(["training", "training", "anonymization"]),
        text_tables=st.sampled_from([[], ["a"], ["a", "b"]]),
    )
    def create(self, kind: str, text_tables: list[str]) -> str:
        g = Generator.create(name="g", kind=kind, spec={"name": "g"}, text_tables=text_tables)
        self.svc.store.save(g)
        self.models[g.id] = GeneratorModel.new(kind, text_tables)
        self.live[g.id] = copy.deepcopy(g)
        return g.id

    def apply(self, gid, expected: str | None, command) -> None:
        """Run one command through the service and compare with the model's verdict."""
        before = self.svc.get_view(gid)
        captured = []

        def run(g):
            result = command(g)
            captured.append(g)
            return result

        try:
            self.svc.execute(gid, run)
        except errors.FfwdError as e:
            assert e.code == expected, f"raised {e.code}, model says {expected}"
            assert self.svc.get_view(gid) == before, "a rejected command writes nothing"
            return
        assert expected in (None, "noop"), f"accepted, model says {expected}"
        after = self.svc.get_view(gid)
        if expected == "noop":
            assert after.version == before.version
        else:
            assert after.version > before.version
            self.live[gid] = copy.deepcopy(captured[-1])

    @rule(gid=generators, choice=PHASE, who=st.sampled_from(["ann", "bo"]))
    def request_stop(self, gid, choice, who) -> None:
        pid = self._phase_id(gid, choice, prefer=("pending", "running"))
        others = self._other_phases(gid, pid)
        self.apply(gid, self.models[gid].request_stop(pid), lambda g: g.request_stop(pid, who))
        assert self._other_phases(gid, pid) == others, "a stop changed another phase"

    @rule(gid=generators, choice=PHASE)
    def start_phase(self, gid, choice) -> None:
        pid = self._phase_id(gid, choice, prefer=("pending",))
        others = self._other_phases(gid, pid)
        self.apply(gid, self.models[gid].start_phase(pid), lambda g: g.start_phase(pid, "w"))
        assert self._other_phases(gid, pid) == others, "a start changed another phase"

    @rule(
        gid=generators,
        choice=PHASE,
        stale=st.sampled_from([0, 0, 0, -1, 1]),
        d_epoch=st.integers(-1, 2),
        d_step=st.integers(-1, 5),
    )
    def progress(self, gid, choice, stale, d_epoch, d_step) -> None:
        pid = self._phase_id(gid, choice)
        attempt, epoch, step = self._counters(gid, pid, stale, d_epoch, d_step)
        others = self._other_phases(gid, pid)
        self.apply(
            gid,
            self.models[gid].progress(pid, attempt, epoch, step),
            lambda g: g.record_progress(
                pid,
                attempt,
                epoch=epoch,
                step=step,
                elapsed_s=0.1 * step,
                val_loss=1.0 / (1 + step),
            ),
        )
        assert self._other_phases(gid, pid) == others

    @rule(
        gid=generators,
        choice=PHASE,
        stale=st.sampled_from([0, 0, 0, 1]),
        d_epoch=st.integers(-1, 2),
        d_step=st.integers(-1, 5),
        reasons=st.lists(st.sampled_from(REASONS), max_size=3),
        keeps=st.sampled_from([True, True, True, False]),
    )
    def finish(self, gid, choice, stale, d_epoch, d_step, reasons, keeps) -> None:
        pid = self._phase_id(gid, choice)
        attempt, epoch, step = self._counters(gid, pid, stale, d_epoch, d_step)
        checkpoint = {"id": f"c-{epoch}-{step}", "epoch": epoch, "step": step} if keeps else {}
        others = self._other_phases(gid, pid)
        self.apply(
            gid,
            self.models[gid].finish(pid, attempt, epoch, step, reasons, checkpoint.get("id")),
            lambda g: g.finish_phase(
                pid,
                attempt,
                reasons=reasons,
                checkpoint=checkpoint,
                epoch=epoch,
                step=step,
                elapsed_s=0.1 * step,
            ),
        )
        assert self._other_phases(gid, pid) == others

    @rule(gid=generators, choice=PHASE, stale=st.sampled_from([0, 0, 1]), now=st.integers(0, 3))
    def fail(self, gid, choice, stale, now) -> None:
        if now:  # A failure ends a generator's story: keep it rare.
            return
        pid = self._phase_id(gid, choice)
        attempt, _, _ = self._counters(gid, pid, stale, 0, 0)
        self.apply(
            gid,
            self.models[gid].fail(pid, attempt),
            lambda g: g.fail_phase(pid, attempt, "engine crashed"),
        )

    @rule(gid=generators, index=st.integers(0, 1))
    def start_step(self, gid, index) -> None:
        sid = list(self.models[gid].steps)[index]
        self.apply(gid, self.models[gid].start_step(sid), lambda g: g.start_step(sid, "w"))

    @rule(
        gid=generators,
        index=st.integers(0, 1),
        stale=st.sampled_from([0, 0, 1]),
        fails=st.sampled_from([False, False, False, True]),
    )
    def end_step(self, gid, index, stale, fails) -> None:
        model = self.models[gid]
        sid = list(model.steps)[index]
        attempt = model.steps[sid].attempt + stale
        if fails:
            self.apply(
                gid, model.fail_step(sid, attempt), lambda g: g.fail_step(sid, attempt, "disk full")
            )
        else:
            self.apply(
                gid,
                model.finish_step(sid, attempt),
                lambda g: g.finish_step(sid, attempt, {sid: f"{sid}.out"}),
            )

    @rule(
        gid=generators,
        choice=PHASE,
        step=st.sampled_from([False, False, True]),
        stale=st.sampled_from([0, 0, 1]),
    )
    def heartbeat(self, gid, choice, step, stale) -> None:
        model = self.models[gid]
        part = list(model.steps)[choice % 2] if step else self._phase_id(gid, choice)
        attempt = (model._part(part).attempt if model._part(part) else 1) + stale
        self.apply(gid, model.heartbeat(part, attempt), lambda g: g.heartbeat(part, attempt))

    @rule(
        gid=generators,
        choice=PHASE,
        step=st.sampled_from([False, False, True]),
        expired=st.booleans(),
    )
    def take_over(self, gid, choice, step, expired) -> None:
        """A worker whose lease expired (the clock an hour on) is replaced by another."""
        model = self.models[gid]
        part = list(model.steps)[choice % 2] if step else self._phase_id(gid, choice)
        now = datetime.now(UTC) + (timedelta(hours=1) if expired else timedelta(0))
        self.apply(gid, model.take_over(part, expired), lambda g: g.take_over(part, "w2", now))

    @rule(gid=generators, data=st.data())
    def take_over_a_running_part(self, gid, data) -> None:
        """Aimed at a part that runs, with its lease expired: the rule above mostly picks parts
        that do not run, so accepted takeovers (and what follows them) would be rare."""
        model = self.models[gid]
        running = [
            pid
            for pid in [*model.phases, *model.steps]
            if model._part(pid).state in ("running", "stopping")
        ]
        if not running:
            return
        part = data.draw(st.sampled_from(running))
        now = datetime.now(UTC) + timedelta(hours=1)
        self.apply(gid, model.take_over(part, True), lambda g: g.take_over(part, "w3", now))

    @rule(gid=generators, now=st.integers(0, 3))
    def cancel(self, gid, now) -> None:
        if now:  # Cancel ends a generator's story: keep it rarer than the other commands.
            return
        self.apply(gid, self.models[gid].cancel(), lambda g: g.cancel("carol"))

    @rule(gid=consumes(generators))
    def forget(self, gid) -> None:
        """Stop driving one generator, so programs also reach long single histories."""

    @rule(gid=generators, data=st.data())
    def view_at_any_version_equals_the_view_of_its_first_events(self, gid, data) -> None:
        events = self.svc.store.events(gid)
        n = data.draw(st.integers(1, len(events)))
        assert self.svc.get_view(gid, at_version=n) == view_of(project_generator(None, events[:n]))

    # Invariants, after every step, for every generator.

    @invariant()
    def product_matches_the_model(self) -> None:
        for gid, model in self.models.items():
            view = self.svc.get_view(gid)
            assert view.state == model.state
            assert [s.state for s in view.steps] == [s.state for s in model.steps.values()]
            for p in view.phases:
                m = model.phases[p.id]
                assert (p.state, p.stop_requested, p.attempt, p.epoch, p.step) == (
                    m.state,
                    m.stop_requested,
                    m.attempt,
                    m.epoch,
                    m.step,
                )
                assert p.reasons == m.reasons
                assert (p.checkpoint.id if p.checkpoint else None) == m.checkpoint

    @invariant()
    def replay_equals_live_and_the_store_round_trips(self) -> None:
        for gid in self.models:
            events = self.svc.store.events(gid)
            assert [e.originator_version for e in events] == list(range(1, len(events) + 1))
            replayed = project_generator(None, events)
            assert vars(replayed) == vars(self.live[gid])
            assert vars(self.svc.store.get(gid)) == vars(replayed)
            assert self.svc.get_view(gid) == view_of(replayed)

    @invariant()
    def lifecycle_invariants_hold(self) -> None:
        for gid in self.models:
            view = self.svc.get_view(gid)
            old = self.seen.get(gid)
            if old is not None:
                if old.state in ENDED:
                    assert view.state == old.state, "a terminal generator changed"
                for before, now in zip(old.phases, view.phases, strict=True):
                    if before.state in ENDED:
                        assert (now.state, now.reasons) == (before.state, before.reasons)
                    assert now.stop_requested >= before.stop_requested
                    assert (now.epoch, now.step) >= (before.epoch, before.step)
                    assert now.epoch >= before.epoch
            for p in view.phases:
                if p.state == "succeeded":
                    assert p.reasons and ("unknown" not in p.reasons or p.reasons == ["unknown"])
                    if p.stop_requested:
                        assert "manually_stopped" in p.reasons
            if view.kind == "anonymization":
                assert view.phases == []
            if view.state == "cancelled":
                parts = [*view.phases, *view.steps]
                assert all(p.state in ENDED for p in parts)
                assert all(p.checkpoint is None for p in view.phases)
                try:
                    self.svc.continue_training(gid)
                    raise AssertionError("continue training from a cancelled generator")
                except errors.FfwdError as e:
                    assert e.code in ("parent_not_succeeded", "not_applicable")
            self.seen[gid] = view

    @invariant()
    def history_respects_the_pipeline_order(self) -> None:
        for gid in self.models:
            generator = None
            for event in self.svc.store.events(gid):
                name = type(event).__name__
                if name == "StepStarted":
                    order = list(generator.steps)
                    i = order.index(event.pipeline_step)
                    if i == 0:
                        assert all(p.state == "succeeded" for p in generator.phases.values())
                    else:
                        assert generator.steps[order[i - 1]].state == "succeeded"
                elif name in ("PhaseSucceeded", "PhaseFailed"):
                    assert generator.phases[event.phase].state in ("running", "stopping")
                    if name == "PhaseSucceeded":
                        assert event.checkpoint["id"]
                generator = event.mutate(generator)

    def _other_phases(self, gid, pid) -> list:
        return [p for p in self.svc.get_view(gid).phases if p.id != pid]

    def _phase_id(self, gid, choice: int, prefer: tuple = ("running", "stopping")) -> str:
        """Mostly a phase in a state where the command can land, so programs go deep."""
        phases = self.models[gid].phases
        fitting = [pid for pid, p in phases.items() if p.state in prefer]
        if fitting and choice < 7:
            return fitting[choice % len(fitting)]
        return list(phases)[choice % len(phases)] if phases and choice < 11 else UNKNOWN_PHASE

    def _counters(self, gid, pid, stale, d_epoch, d_step) -> tuple[int, int, int]:
        p = self.models[gid].phases.get(pid)
        if p is None:
            return 1, max(0, d_epoch), max(0, d_step)
        return p.attempt + stale, max(0, p.epoch + d_epoch), max(0, p.step + d_step)


Lifecycle.TestCase.settings = settings(
    max_examples=EXAMPLES,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
test_lifecycle = Lifecycle.TestCase
