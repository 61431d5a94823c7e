"""Runs one generator's pipeline: tabular phase, text phases, synthesis, report.

Each phase gets a PhaseControl whose flags follow the stored events of its generator, so a
stop stored by anyone reaches the engine at its next step boundary and a cancel interrupts it.
"""

import traceback
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any
from uuid import UUID

from application.control import PhaseControl, Progress
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
from domain.generator import ANONYMIZATION, Generator
from domain.lifecycle import CANCELLED, PENDING, SUCCEEDED, TERMINAL
from domain.parts import TABULAR

if TYPE_CHECKING:
    from application.service import GeneratorService


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
    ) -> None:
        self.service = service
        self.engines = engines
        self.reports = reports
        self.workspace = workspace
        self.anonymizer = anonymizer
        self.worker = worker
        self.progress_interval_s = progress_interval_s

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
        except (errors.FfwdError, PhaseInterrupted):
            # A cancel, or another phase's failure, ended the generator under our feet.
            if self.service.get_generator(generator_id).state not in TERMINAL:
                raise
        finally:
            # A cancel may also land between two parts, with no error to say so.
            if self.service.get_generator(generator_id).state == CANCELLED:
                self.discard(generator_id, engine)

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
        self, generator_id: UUID, phase_id: str, spec: GeneratorSpec, engine: TrainingEngine
    ) -> None:
        if self.service.get_generator(generator_id).state in TERMINAL:
            return
        follower = _PhaseFollower(generator_id, phase_id)
        unsubscribe = self.service.subscribe(follower)
        try:
            attempt = self.service.start_phase(generator_id, phase_id, self.worker)
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
            self.service.finish_phase(
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
                )
            except (errors.GeneratorCancelled, errors.StaleRunner) as e:
                raise PhaseInterrupted(str(e)) from e

        return report

    def _fail(self, generator_id: UUID, phase_id: str, attempt: int, e: Exception) -> None:
        message = f"{type(e).__name__}: {e}"
        last = traceback.extract_tb(e.__traceback__)[-1:]
        if last:
            message += f" (at {last[0].filename.rsplit('/', 1)[-1]}:{last[0].lineno})"
        self.service.fail_phase(generator_id, phase_id, attempt, message)

    # Pipeline steps.

    def _synthesize(self, generator_id: UUID, spec: GeneratorSpec, engine: TrainingEngine) -> None:
        g = self.service.get_generator(generator_id)
        if any(p.state != SUCCEEDED for p in g.phases.values()):
            return
        out = self.workspace.outputs_dir(str(generator_id))
        self._step(
            generator_id,
            "synthesis",
            lambda: {"synthetic": engine.synthesize(str(generator_id), spec, g.checkpoints(), out)},
        )

    def _anonymize(self, generator_id: UUID, spec: GeneratorSpec) -> None:
        if self.anonymizer is None:
            raise errors.NotApplicable("this service was built without an anonymizer")
        out = self.workspace.outputs_dir(str(generator_id))
        self._step(
            generator_id, "anonymize", lambda: {"anonymized": self.anonymizer.anonymize(spec, out)}
        )

    def _report(self, generator_id: UUID, spec: GeneratorSpec, *, after: str, tables: str) -> None:
        g = self.service.get_generator(generator_id)
        if g.steps[after].state != SUCCEEDED:
            return
        out = self.workspace.outputs_dir(str(generator_id))
        self._step(generator_id, "report", lambda: self.reports.write(spec, g.outputs[tables], out))

    def _step(self, generator_id: UUID, step_id: str, work: Callable[[], dict[str, Any]]) -> None:
        if self.service.get_generator(generator_id).steps[step_id].state != PENDING:
            return
        attempt = self.service.start_step(generator_id, step_id, self.worker)
        try:
            outputs = work()
        except Exception as e:  # the step fails, and the generator with it, saying why
            self.service.fail_step(generator_id, step_id, attempt, f"{type(e).__name__}: {e}")
            return
        self.service.finish_step(generator_id, step_id, attempt, outputs)

    def _engine(self, spec: GeneratorSpec) -> TrainingEngine:
        try:
            return self.engines[spec.engine]
        except KeyError:
            known = ", ".join(sorted(self.engines))
            raise errors.InvalidSpec(
                [f"engine: unknown engine {spec.engine!r} ({known})"]
            ) from None


class _PhaseFollower:
    """Turns stored events into the control's flags for one phase; flags seen before the
    control exists are kept and handed to it when it is attached."""

    def __init__(self, generator_id: UUID, phase_id: str) -> None:
        self.generator_id = generator_id
        self.phase_id = phase_id
        self.control: PhaseControl | None = None
        self.stop_requested = False
        self.ended = False

    def attach(self, control: PhaseControl) -> None:
        self.control = control
        self._apply()

    def __call__(self, events: Sequence[Any]) -> None:
        for e in events:
            if e.originator_id != self.generator_id:
                continue
            kind = type(e)
            if kind is Generator.StopRequested and e.phase == self.phase_id:
                self.stop_requested = True
            elif kind in (Generator.Cancelled, Generator.Failed):
                self.ended = True
        self._apply()

    def _apply(self) -> None:
        if self.control is None:
            return
        if self.stop_requested:
            self.control.request_stop()
        if self.ended:
            self.control.interrupt()


def _tables_for(spec: GeneratorSpec, table: str | None) -> list:
    return list(spec.tables) if table is None else [spec.table(table)]
