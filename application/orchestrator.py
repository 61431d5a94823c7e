"""Runs a generator's pipeline: tabular phase, text phases, synthesis, report.

`run` executes every part in this process; `work_on` claims one runnable part for a worker
(starting a pending one, or taking over one whose worker's lease expired). Each phase gets a
PhaseControl whose flags follow the stored events of its generator, so a stop stored by
anyone reaches the engine at its next step boundary and a cancel interrupts it.
"""

import threading
import traceback
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from application.control import PhaseControl, Progress
from application.phase_follower import PhaseFollower
from application.ports import Workspace
from application.spec import GeneratorSpec
from application.training import (
    Anonymizer,
    PhaseInterrupted,
    PhaseJob,
    ReportWriter,
    TrainingEngine,
)
from domain import errors
from domain.generator import ANONYMIZATION, DEFAULT_LEASE_S, Generator
from domain.lifecycle import CANCELLED, PENDING, SUCCEEDED, TERMINAL
from domain.parts import TABULAR

if TYPE_CHECKING:
    from application.service import GeneratorService

Claim = Callable[[], int]


class LeaseLost(PhaseInterrupted):
    """Another worker took this part over (our lease expired): stop, keep nothing of ours."""


class ClaimLost(Exception):
    """Another worker claimed the part first: the loser of the race moves on."""


class Orchestrator:
    def __init__(
        self,
        service: "GeneratorService",
        engines: Mapping[str, TrainingEngine],
        reports: ReportWriter,
        workspace: Workspace,
        *,
        anonymizer: Anonymizer | None = None,
        worker: str = "local",
        progress_interval_s: float = 1.0,
        lease_s: float = DEFAULT_LEASE_S,
    ) -> None:
        self.service = service
        self.engines = engines
        self.reports = reports
        self.workspace = workspace
        self.anonymizer = anonymizer
        self.worker = worker
        self.progress_interval_s = progress_interval_s
        self.lease_s = lease_s

    def run(self, generator_id: UUID) -> None:
        """Execute every pending part of the pipeline, in order, until the generator ends."""
        g = self.service.get_generator(generator_id)
        spec = GeneratorSpec.model_validate(g.spec)
        engine = None if g.kind == ANONYMIZATION else self._engine(spec)
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
        except (errors.FfwdError, PhaseInterrupted):
            # A cancel, or another phase's failure, ended the generator under our feet.
            if self.service.get_generator(generator_id).state not in TERMINAL:
                raise
        finally:
            # A cancel may also land between two parts, with no error to say so.
            if self.service.get_generator(generator_id).state == CANCELLED:
                self.discard(generator_id, engine)

    def work_on(self, generator_id: UUID, now: datetime) -> bool:
        """Claim one runnable part and run it; False when there is none to claim (all done,
        waiting for another part, or held by a live worker) or another worker won the race."""
        g = self.service.get_generator(generator_id)
        if g.state in TERMINAL:
            return False
        part, takeover = next_part(g, now)
        if part is None:
            return False
        spec = GeneratorSpec.model_validate(g.spec)
        engine = None if g.kind == ANONYMIZATION else self._engine(spec)
        claim = self._claim(generator_id, part, now, takeover)
        try:
            if part in g.phases:
                self._run_phase(generator_id, part, spec, engine, claim)
            elif part == "synthesis":
                self._synthesize(generator_id, spec, engine, claim)
            elif part == "anonymize":
                self._anonymize(generator_id, spec, claim)
            else:
                after, tables = (
                    ("anonymize", "anonymized") if engine is None else ("synthesis", "synthetic")
                )
                self._report(generator_id, spec, after=after, tables=tables, claim=claim)
        except ClaimLost:
            return False
        except LeaseLost:
            return True
        except (errors.FfwdError, PhaseInterrupted):
            if self.service.get_generator(generator_id).state not in TERMINAL:
                raise
        finally:
            if self.service.get_generator(generator_id).state == CANCELLED:
                self.discard(generator_id, engine)
        return True

    def _claim(self, generator_id: UUID, part: str, now: datetime, takeover: bool) -> Claim:
        """Appending the "started" (or "taken over") event at the expected version is the
        lock: a concurrent claim makes one of the two saves fail, and its retry is refused."""

        def claim() -> int:
            try:
                if takeover:
                    return self.service.take_over(
                        generator_id, part, self.worker, now, lease_s=self.lease_s
                    )
                if part in self.service.get_generator(generator_id).phases:
                    return self.service.start_phase(
                        generator_id, part, self.worker, lease_s=self.lease_s
                    )
                return self.service.start_step(
                    generator_id, part, self.worker, lease_s=self.lease_s
                )
            except (errors.InvalidTransition, errors.PhaseAlreadyFinished) as e:
                raise ClaimLost(str(e)) from e

        return claim

    def discard(self, generator_id: UUID, engine: TrainingEngine | None) -> None:
        """A cancelled generator keeps nothing: checkpoints and outputs are deleted."""
        if engine is not None:
            engine.discard(str(generator_id))
        self.workspace.discard(str(generator_id))

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
        if self.service.get_generator(generator_id).state in TERMINAL:
            return
        claim = claim or (
            lambda: self.service.start_phase(generator_id, phase_id, self.worker, self.lease_s)
        )
        follower = PhaseFollower(generator_id, phase_id)
        unsubscribe = self.service.subscribe(follower)
        try:
            attempt = claim()
            g = self.service.get_generator(generator_id)
            phase = g.phases[phase_id]
            control = PhaseControl(
                spec.training,
                self._progress_reporter(generator_id, phase_id, attempt),
                stop_requested=phase.stop_requested,
                progress_interval_s=self.progress_interval_s,
            )
            follower.attach(control)
            job = PhaseJob(
                generator_id=str(generator_id),
                phase_id=phase_id,
                kind=phase.kind,
                tables=_tables_for(spec, phase.table),
                training=spec.training,
                resume_from=phase.resume_from,
                seed=generator_id.int % 2**31,
            )
            try:
                outcome = engine.train(job, control)
            except PhaseInterrupted:
                raise
            except errors.FfwdError:
                raise
            except Exception as e:  # an engine bug or bad data: the phase fails, with why
                self._fail(generator_id, phase_id, attempt, e)
                return
            self._report_end(
                generator_id,
                phase_id,
                attempt,
                reasons=list(outcome.reasons),
                checkpoint=outcome.checkpoint,
                epoch=outcome.epoch,
                step=outcome.step,
                elapsed_s=round(control.elapsed(), 3),
                val_loss=outcome.val_loss,
                epsilon=outcome.epsilon,
            )
        finally:
            unsubscribe()

    def _progress_reporter(
        self, generator_id: UUID, phase_id: str, attempt: int
    ) -> Callable[[Progress], None]:
        def report(p: Progress) -> None:
            try:
                self.service.record_progress(
                    generator_id,
                    phase_id,
                    attempt,
                    epoch=p.epoch,
                    step=p.step,
                    elapsed_s=round(p.elapsed_s, 3),
                    val_loss=p.val_loss,
                    epsilon=p.epsilon,
                    kept=p.kept,
                )
            except errors.StaleRunner as e:
                raise LeaseLost(str(e)) from e
            except errors.GeneratorCancelled as e:
                raise PhaseInterrupted(str(e)) from e

        return report

    def _report_end(self, generator_id: UUID, phase_id: str, attempt: int, **outcome: Any) -> None:
        try:
            self.service.finish_phase(generator_id, phase_id, attempt, **outcome)
        except errors.StaleRunner as e:
            raise LeaseLost(str(e)) from e

    def _fail(self, generator_id: UUID, phase_id: str, attempt: int, e: Exception) -> None:
        message = f"{type(e).__name__}: {e}"
        last = traceback.extract_tb(e.__traceback__)[-1:]
        if last:
            message += f" (at {last[0].filename.rsplit('/', 1)[-1]}:{last[0].lineno})"
        self.service.fail_phase(generator_id, phase_id, attempt, message)

    # Pipeline steps.

    def _synthesize(
        self,
        generator_id: UUID,
        spec: GeneratorSpec,
        engine: TrainingEngine,
        claim: Claim | None = None,
    ) -> None:
        g = self.service.get_generator(generator_id)
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
        g = self.service.get_generator(generator_id)
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
            if self.service.get_generator(generator_id).steps[step_id].state != PENDING:
                return
            claim = lambda: self.service.start_step(  # noqa: E731
                generator_id, step_id, self.worker, self.lease_s
            )
        attempt = claim()
        with _Heartbeat(self.service, generator_id, step_id, attempt, self.lease_s / 3):
            try:
                outputs = work()
            except Exception as e:  # the step fails, and the generator with it, saying why
                self.service.fail_step(generator_id, step_id, attempt, f"{type(e).__name__}: {e}")
                return
        try:
            self.service.finish_step(generator_id, step_id, attempt, outputs)
        except errors.StaleRunner as e:
            raise LeaseLost(str(e)) from e

    def _engine(self, spec: GeneratorSpec) -> TrainingEngine:
        try:
            return self.engines[spec.engine]
        except KeyError:
            known = ", ".join(sorted(self.engines))
            raise errors.InvalidSpec(
                [f"engine: unknown engine {spec.engine!r} ({known})"]
            ) from None


def next_part(g: Generator, now: datetime) -> tuple[str | None, bool]:
    """The part a worker may claim now, in pipeline order, and whether that is a takeover."""
    tabular_done = TABULAR not in g.phases or g.phases[TABULAR].state == SUCCEEDED
    for p in g.phases.values():
        if p.state == PENDING and (p.id == TABULAR or tabular_done):
            return p.id, False
        if g.lease_expired(p.id, now):
            return p.id, True
    for s in g.steps.values():
        if s.state == PENDING and g.step_is_ready(s.id):
            return s.id, False
        if g.lease_expired(s.id, now):
            return s.id, True
    return None, False


class _Heartbeat:
    """Renews a running step's lease from a background thread while its work goes on."""

    def __init__(
        self,
        service: "GeneratorService",
        generator_id: UUID,
        part: str,
        attempt: int,
        every_s: float,
    ) -> None:
        self._stop = threading.Event()
        self._beat = lambda: service.heartbeat(generator_id, part, attempt)
        self._every_s = every_s
        self._thread = threading.Thread(target=self._run, name="ffwd-heartbeat", daemon=True)

    def __enter__(self) -> "_Heartbeat":
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self._every_s):
            try:
                self._beat()
            except errors.FfwdError:
                return  # cancelled or taken over: the work's own report will say so


def _tables_for(spec: GeneratorSpec, table: str | None) -> list:
    return list(spec.tables) if table is None else [spec.table(table)]
