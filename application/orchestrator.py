"""Runs a generator's pipeline: tabular phase, text phases, synthesis, report.

`run` executes every part in this process; `work_on` claims one runnable part for a worker
(starting a pending one, or taking over one whose worker's lease expired). Each phase gets a
PhaseControl whose flags follow the stored events of its generator, so a stop stored by
anyone reaches the engine at its next step boundary and a cancel interrupts it.
"""

import logging
import threading
import traceback
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime
from typing import Any
from uuid import UUID

from ffwd.application.control import PhaseControl
from ffwd.application.leases import (
    ClaimLost,
    CountingOn,
    Heartbeat,
    LeasedControl,
    LeaseLost,
    Reporter,
    TakeoverWatch,
    as_trained,
    counters_behind,
    durably,
    next_part,
)
from ffwd.application.phase_follower import PhaseFollower
from ffwd.application.placement import STEP, ClaimedPart, resources_for
from ffwd.application.ports import ClaimTurn, RunnerCommands, Workspace
from ffwd.application.spec import GeneratorSpec
from ffwd.application.training import (
    Anonymizer,
    PhaseInterrupted,
    PhaseJob,
    ReportWriter,
    TrainingEngine,
)
from ffwd.domain import errors
from ffwd.domain.generator import ANONYMIZATION, DEFAULT_LEASE_S, Generator
from ffwd.domain.lifecycle import CANCELLED, PENDING, RUNNING, STOPPING, SUCCEEDED, TERMINAL
from ffwd.domain.parts import TABULAR

Claim = Callable[[], int]
log = logging.getLogger(__name__)


class Orchestrator:
    def __init__(
        self,
        commands: RunnerCommands,
        engines: Mapping[str, TrainingEngine],
        reports: ReportWriter,
        workspace: Workspace,
        *,
        anonymizer: Anonymizer | None = None,
        worker: str = "local",
        progress_interval_s: float = 1.0,
        lease_s: float = DEFAULT_LEASE_S,
    ) -> None:
        self.commands = commands
        self.engines = engines
        self.reports = reports
        self.workspace = workspace
        self.anonymizer = anonymizer
        self.worker = worker
        # Progress renews a phase's lease: at least three times per lease (ADR 0016).
        self.progress_interval_s = min(progress_interval_s, lease_s / 3)
        self.lease_s = lease_s
        self._preempted = threading.Event()
        self._in_hand: dict[tuple[UUID, str], Any] = {}  # phase -> control, step -> attempt
        self._lock = threading.Lock()

    def preempt(self) -> None:
        """This process is shutting down (SIGTERM, a node drain): each running phase is
        handed back at its next step boundary, keeping its checkpoint; each running step is
        handed back now (it runs again elsewhere); nothing more is started (ADR 0026)."""
        self._preempted.set()
        with self._lock:
            in_hand = list(self._in_hand.items())
        for (generator_id, part), held in in_hand:
            if isinstance(held, PhaseControl):
                held.request_release()
                continue
            try:
                durably(
                    lambda g=generator_id, s=part, a=held: self.commands.release_step(g, s, a),
                    f"releasing {part} of {generator_id}",
                )
            except errors.FfwdError as e:  # ended meanwhile: nothing to hand back
                log.info("%s of %s not released: %s", part, generator_id, e)

    def run(self, generator_id: UUID) -> None:
        """Execute every pending part of the pipeline, in order, until the generator ends (or
        this process is preempted: then what is left waits for a worker)."""
        g = self.commands.get_generator(generator_id)
        spec = GeneratorSpec.model_validate(g.spec)
        engine = None if g.kind == ANONYMIZATION else self._engine(spec)
        with self._ended_by_others(generator_id):
            try:
                if engine is None:
                    self._anonymize(generator_id, spec)
                    self._report(generator_id, spec, after="anonymize", tables="anonymized")
                else:
                    self._train(g, spec, engine)
                    self._synthesize(generator_id, spec, engine)
                    self._report(generator_id, spec, after="synthesis", tables="synthetic")
            except LeaseLost:
                pass  # another worker runs that part now

    def work_on(self, generator_id: UUID, now: datetime) -> bool:
        """Claim one runnable part and run it; False when there is none to claim (all done,
        waiting for another part, or held by a live worker), another worker is claiming from
        the same generator, or another worker won the race."""
        if self._preempted.is_set():
            return False
        turn = self.commands.claim_turn(generator_id)
        if turn is None:
            return False
        try:
            return self._take_and_run(generator_id, now, turn)
        finally:
            turn.release()

    def claim_next(self, generator_id: UUID, now: datetime) -> ClaimedPart | None:
        """Claim one runnable part for a runner elsewhere (a cluster's): the claim is stored
        here, exactly as `work_on` stores it, and the part runs where it is placed."""
        if self._preempted.is_set():
            return None
        turn = self.commands.claim_turn(generator_id)
        if turn is None:
            return None
        try:
            found = self._claimable(generator_id, now)
            if found is None:
                return None
            g, part, takeover, spec, _ = found
            try:
                attempt = self._claim(generator_id, part, now, takeover, turn)()
            except ClaimLost:
                return None
        finally:
            turn.release()
        kind = g.phases[part].kind if part in g.phases else STEP
        return ClaimedPart(generator_id, part, attempt, kind, resources_for(spec, kind))

    def run_claimed(self, claimed: ClaimedPart) -> None:
        """Run a part that a driver claimed, as the attempt it claimed; nothing when that
        attempt is over already (cancelled, taken over, handed back meanwhile)."""
        generator_id = claimed.generator_id
        g = self.commands.get_generator(generator_id)
        held = g.part(claimed.part)
        if held.attempt != claimed.attempt or held.state not in (RUNNING, STOPPING):
            self.discard_cancelled(generator_id)
            return
        spec = GeneratorSpec.model_validate(g.spec)
        engine = None if g.kind == ANONYMIZATION else self._engine(spec)
        self._run_part(g, claimed.part, spec, engine, lambda: claimed.attempt)

    def _take_and_run(self, generator_id: UUID, now: datetime, turn: ClaimTurn) -> bool:
        found = self._claimable(generator_id, now)
        if found is None:
            return False
        g, part, takeover, spec, engine = found
        claim = self._claim(generator_id, part, now, takeover, turn)
        return self._run_part(g, part, spec, engine, claim)

    def _claimable(
        self, generator_id: UUID, now: datetime
    ) -> tuple[Generator, str, bool, GeneratorSpec, TrainingEngine | None] | None:
        """The generator, its next part, whether that is a takeover, its spec and engine;
        None when nothing may be claimed. Raises, claiming nothing, for an engine this
        process lacks."""
        g = self.commands.get_generator(generator_id)
        if g.state in TERMINAL:
            return None
        part, takeover = next_part(g, now)
        if part is None:
            return None
        spec = GeneratorSpec.model_validate(g.spec)
        engine = None if g.kind == ANONYMIZATION else self._engine(spec)
        return g, part, takeover, spec, engine

    def _run_part(
        self,
        g: Generator,
        part: str,
        spec: GeneratorSpec,
        engine: TrainingEngine | None,
        claim: Claim,
    ) -> bool:
        generator_id = g.id
        with self._ended_by_others(generator_id):
            try:
                if part in g.phases:
                    self._run_phase(generator_id, part, spec, engine, claim)
                elif part == "synthesis":
                    self._synthesize(generator_id, spec, engine, claim)
                elif part == "anonymize":
                    self._anonymize(generator_id, spec, claim)
                else:
                    after, tables = (
                        ("anonymize", "anonymized")
                        if engine is None
                        else ("synthesis", "synthetic")
                    )
                    self._report(generator_id, spec, after=after, tables=tables, claim=claim)
            except ClaimLost:
                return False
            except LeaseLost:
                pass  # another worker runs that part now: this one did its part
        return True

    @contextmanager
    def _ended_by_others(self, generator_id: UUID) -> Iterator[None]:
        """A part that a cancel, or another part's failure, ended under its feet ends quietly;
        and a cancelled generator's files are deleted, also when the cancel landed between
        two parts, with no error to say so."""
        try:
            yield
        except (errors.FfwdError, PhaseInterrupted):
            if self.commands.get_generator(generator_id).state not in TERMINAL:
                raise
        finally:
            self.discard_cancelled(generator_id)

    def _claim(
        self, generator_id: UUID, part: str, now: datetime, takeover: bool, turn: ClaimTurn
    ) -> Claim:
        """Appending the "started" (or "taken over") event at the expected version is the
        lock: a concurrent claim makes one of the two saves fail, and its retry is refused.
        The turn ends once the claim is stored (or refused): the part runs without it."""

        def claim() -> int:
            try:
                if takeover:
                    return self.commands.take_over(
                        generator_id, part, self.worker, now, lease_s=self.lease_s
                    )
                if part in self.commands.get_generator(generator_id).phases:
                    return self.commands.start_phase(
                        generator_id, part, self.worker, lease_s=self.lease_s
                    )
                return self.commands.start_step(
                    generator_id, part, self.worker, lease_s=self.lease_s
                )
            except (errors.InvalidTransition, errors.PhaseAlreadyFinished) as e:
                raise ClaimLost(str(e)) from e
            finally:
                turn.release()

        return claim

    def discard(self, generator_id: UUID, engine: TrainingEngine | None) -> None:
        """A cancelled generator keeps nothing: checkpoints and outputs are deleted."""
        if engine is not None:
            engine.discard(str(generator_id))
        self.workspace.discard(str(generator_id))

    def discard_cancelled(self, generator_id: UUID) -> bool:
        """Delete a cancelled generator's files (a worker sweeping up after a cancel that
        landed between two parts, when no runner was there to see it); False if not
        cancelled."""
        g = self.commands.get_generator(generator_id)
        if g.state != CANCELLED:
            return False
        engine = None if g.kind == ANONYMIZATION else self.engines.get(g.spec.get("engine", ""))
        self.discard(generator_id, engine)
        return True

    # Training phases.

    def _train(self, g: Generator, spec: GeneratorSpec, engine: TrainingEngine) -> None:
        if g.phases[TABULAR].state == PENDING:
            self._run_phase(g.id, TABULAR, spec, engine)
        text = [p.id for p in g.phases.values() if p.id != TABULAR and p.state == PENDING]
        parallel = spec.training.max_parallel_phases if spec.training else 1
        if parallel > 1 and len(text) > 1:
            with ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="phase") as pool:
                for done in [pool.submit(self._run_phase, g.id, p, spec, engine) for p in text]:
                    done.result()
        else:
            for phase_id in text:
                self._run_phase(g.id, phase_id, spec, engine)

    def _run_phase(
        self,
        generator_id: UUID,
        phase_id: str,
        spec: GeneratorSpec,
        engine: TrainingEngine,
        claim: Claim | None = None,
    ) -> None:
        if self._preempted.is_set():
            return
        if self.commands.get_generator(generator_id).state in TERMINAL:
            return
        claim = claim or (
            lambda: self.commands.start_phase(generator_id, phase_id, self.worker, self.lease_s)
        )
        follower = PhaseFollower(generator_id, phase_id)
        takeovers = TakeoverWatch(generator_id, phase_id)
        unsubscribe = self.commands.subscribe(follower)
        unwatch = self.commands.subscribe(takeovers)
        try:
            attempt = claim()
            g = self.commands.get_generator(generator_id)
            phase = g.phases[phase_id]
            reporter = Reporter(self.commands, generator_id, phase_id, attempt, phase.last_kept)
            control = LeasedControl(
                spec.training,
                reporter,
                (phase.epoch, phase.step),
                stop_requested=phase.stop_requested,
                progress_interval_s=self.progress_interval_s,
                start_epoch=max(phase.epoch, (phase.resume_from or {}).get("epoch", 0)),
                elapsed_before_s=phase.elapsed_s,
                epoch_limit=phase.epoch_limit,
            )
            follower.attach(control)
            takeovers.attach(control, attempt)
            with self._lock:
                self._in_hand[generator_id, phase_id] = control
            if self._preempted.is_set():  # preempted while it was being claimed
                control.request_release()
            job = PhaseJob(
                generator_id=str(generator_id),
                phase_id=phase_id,
                kind=phase.kind,
                tables=_tables_for(spec, phase.table),
                training=spec.training,
                resume_from=as_trained(phase.resume_from),
                seed=_seed(spec, generator_id),
                attempt=attempt,
            )
            epochs, steps = counters_behind(phase)
            counting = CountingOn(control, epochs, steps, phase.resume_from)
            counted = counting if epochs or steps else control  # the boundary's quick path
            try:
                outcome = engine.train(job, counted)
            except PhaseInterrupted as e:
                if takeovers.lost:
                    raise LeaseLost(f"{phase_id} was taken over by another worker") from e
                raise
            except errors.FfwdError:
                raise
            except Exception as e:  # an engine bug or bad data: the phase fails, with why
                self._fail(generator_id, phase_id, attempt, e)
                return
            if control.released and self._report_release(
                generator_id,
                phase_id,
                attempt,
                epoch=outcome.epoch + epochs,
                step=outcome.step + steps,
                elapsed_s=round(control.elapsed(), 3),
                kept=counting.counted(outcome.checkpoint),
                epochs=list(control.unreported_epochs()),
            ):
                return
            self._report_end(
                generator_id,
                phase_id,
                attempt,
                reasons=list(outcome.reasons),
                checkpoint=counting.counted(outcome.checkpoint),
                epoch=outcome.epoch + epochs,
                step=outcome.step + steps,
                elapsed_s=round(control.elapsed(), 3),
                val_loss=outcome.val_loss,
                epsilon=outcome.epsilon,
                epochs=list(control.unreported_epochs()),
            )
        finally:
            with self._lock:
                self._in_hand.pop((generator_id, phase_id), None)
            unwatch()
            unsubscribe()

    def _report_release(
        self, generator_id: UUID, phase_id: str, attempt: int, **released: Any
    ) -> bool:
        """Hand the phase back; False when it became stopping meanwhile (a stop asked for as
        it was released): then it ends as stopped instead."""

        def release() -> None:
            try:
                self.commands.release_phase(generator_id, phase_id, attempt, **released)
            except errors.StaleRunner as e:
                raise LeaseLost(str(e)) from e

        try:
            durably(release, f"releasing {phase_id} of {generator_id}")
        except errors.InvalidTransition:
            return False
        return True

    def _report_end(self, generator_id: UUID, phase_id: str, attempt: int, **outcome: Any) -> None:
        def finish() -> None:
            try:
                self.commands.finish_phase(generator_id, phase_id, attempt, **outcome)
            except errors.StaleRunner as e:
                raise LeaseLost(str(e)) from e
            except errors.PhaseAlreadyFinished:
                # The store failed after committing our report, and the retry found it
                # stored: that is success, not a refusal.
                phase = self.commands.get_generator(generator_id).phases[phase_id]
                if not (phase.state == SUCCEEDED and phase.attempt == attempt):
                    raise

        durably(finish, f"finishing {phase_id} of {generator_id}")

    def _fail(self, generator_id: UUID, phase_id: str, attempt: int, e: Exception) -> None:
        message = f"{type(e).__name__}: {e}"
        last = traceback.extract_tb(e.__traceback__)[-1:]
        if last:
            message += f" (at {last[0].filename.rsplit('/', 1)[-1]}:{last[0].lineno})"

        def fail() -> None:
            try:
                self.commands.fail_phase(generator_id, phase_id, attempt, message)
            except errors.StaleRunner as stale:
                raise LeaseLost(str(stale)) from stale

        durably(fail, f"failing {phase_id} of {generator_id}")

    # Pipeline steps.

    def _synthesize(
        self,
        generator_id: UUID,
        spec: GeneratorSpec,
        engine: TrainingEngine,
        claim: Claim | None = None,
    ) -> None:
        g = self.commands.get_generator(generator_id)
        if any(p.state != SUCCEEDED for p in g.phases.values()):
            return
        out = self.workspace.outputs_dir(str(generator_id))
        self._step(
            generator_id,
            "synthesis",
            lambda: {"synthetic": engine.synthesize(str(generator_id), spec, g.checkpoints(), out)},
            claim,
        )

    def _anonymize(
        self, generator_id: UUID, spec: GeneratorSpec, claim: Claim | None = None
    ) -> None:
        if self.anonymizer is None:
            raise errors.NotApplicable("this service was built without an anonymizer")
        out = self.workspace.outputs_dir(str(generator_id))
        self._step(
            generator_id,
            "anonymize",
            lambda: {"anonymized": self.anonymizer.anonymize(spec, out)},
            claim,
        )

    def _report(
        self,
        generator_id: UUID,
        spec: GeneratorSpec,
        *,
        after: str,
        tables: str,
        claim: Claim | None = None,
    ) -> None:
        g = self.commands.get_generator(generator_id)
        if g.steps[after].state != SUCCEEDED:
            return
        out = self.workspace.outputs_dir(str(generator_id))
        self._step(
            generator_id, "report", lambda: self.reports.write(spec, g.outputs[tables], out), claim
        )

    def _step(
        self,
        generator_id: UUID,
        step_id: str,
        work: Callable[[], dict[str, Any]],
        claim: Claim | None = None,
    ) -> None:
        if claim is None:
            if self.commands.get_generator(generator_id).steps[step_id].state != PENDING:
                return
            claim = lambda: self.commands.start_step(  # noqa: E731
                generator_id, step_id, self.worker, self.lease_s
            )
        if self._preempted.is_set():
            return
        attempt = claim()

        def report(end: Callable[[], None]) -> None:
            try:
                end()
            except errors.StaleRunner as e:
                raise LeaseLost(str(e)) from e

        with self._lock:
            self._in_hand[generator_id, step_id] = attempt
        try:
            with Heartbeat(self.commands, generator_id, step_id, attempt, self.lease_s / 3):
                try:
                    outputs = work()
                except Exception as e:  # the step fails, and the generator with it, saying why
                    if self._preempted.is_set():
                        return  # handed back already: it runs again elsewhere
                    error = f"{type(e).__name__}: {e}"
                    durably(
                        lambda: report(
                            lambda: self.commands.fail_step(generator_id, step_id, attempt, error)
                        ),
                        f"failing {step_id} of {generator_id}",
                    )
                    return
        finally:
            with self._lock:
                self._in_hand.pop((generator_id, step_id), None)
        if self._preempted.is_set():
            return  # handed back already: it runs again elsewhere
        durably(
            lambda: report(
                lambda: self.commands.finish_step(generator_id, step_id, attempt, outputs)
            ),
            f"finishing {step_id} of {generator_id}",
        )

    def _engine(self, spec: GeneratorSpec) -> TrainingEngine:
        try:
            return self.engines[spec.engine]
        except KeyError:
            known = ", ".join(sorted(self.engines))
            raise errors.InvalidSpec(
                [f"engine: unknown engine {spec.engine!r} ({known})"]
            ) from None


def _seed(spec: GeneratorSpec, generator_id: UUID) -> int:
    """The spec's training seed, else one of the generator's own."""
    chosen = spec.training.seed if spec.training else None
    return chosen if chosen is not None else generator_id.int % 2**31


def _tables_for(spec: GeneratorSpec, table: str | None) -> list:
    return list(spec.tables) if table is None else [spec.table(table)]
