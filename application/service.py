"""The generator service: the facade that embedded callers, the CLI and the HTTP API use."""

import copy
import math
import random
import re
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterator, MutableMapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID

from ffwd.application.inputs import InputFolders
from ffwd.application.lists import list_page
from ffwd.application.ports import (
    ClaimTurn,
    ConcurrentWrite,
    EventFeed,
    EventListener,
    GeneratorStore,
    Pipelines,
    PipelinesFactory,
    Workspace,
)
from ffwd.application.spec import GeneratorSpec, check_size
from ffwd.application.spec_check import SpecCheck
from ffwd.application.summaries import DEFAULT_LIMIT
from ffwd.application.training import TrainingEngine
from ffwd.application.views import (
    GeneratorPage,
    GeneratorView,
    HistoryEntry,
    MetricRow,
    history_entry,
    view_of,
)
from ffwd.domain import errors
from ffwd.domain.generator import DEFAULT_LEASE_S, TRAINING, Generator
from ffwd.domain.lifecycle import RUNNING, STOPPING, SUCCEEDED

T = TypeVar("T")
MIN_PREFIX = 8
# Events remembered as delivered: far more than a feed can bring back before it catches up.
_DELIVERED_MEMORY = 10_000
# How long the feed's delivery waits for this process's own writes to one generator to end.
_OWN_WRITES_WAIT_S = 1.0
_HEX_PREFIX = re.compile(r"^[0-9a-f-]+$")


class GeneratorService:
    """The use cases: create, stop, cancel, continue, read; and, through `pipelines`, run.

    `check_spec` validates specs against the world (tables, engines); `engines` are the
    engines it and `pipelines` know (one mapping, shared); `pipelines(self, **options)` builds
    what runs pipelines, driving generators through this service's runner-facing commands.
    """

    def __init__(
        self,
        store: GeneratorStore,
        check_spec: SpecCheck,
        *,
        engines: MutableMapping[str, TrainingEngine] | None = None,
        pipelines: PipelinesFactory | None = None,
        workspace: Workspace | None = None,
        feed: EventFeed | None = None,
        worker: str = "local",
        max_retries: int = 20,
    ) -> None:
        self.store = store
        self.check_spec = check_spec
        self.engines: MutableMapping[str, TrainingEngine] = {} if engines is None else engines
        self.workspace = workspace
        self.feed = feed
        self._pipelines = pipelines
        self.worker = worker
        self.max_retries = max_retries
        self._listeners: list[EventListener] = []
        self._delivered: OrderedDict[tuple[UUID, int], None] = OrderedDict()
        self._running: set[Pipelines] = set()
        self._running_lock = threading.Lock()
        self._delivered_lock = threading.Lock()
        # Generators whose events threads of this process are storing and delivering.
        self._storing: Counter[UUID] = Counter()
        self._storing_done = threading.Condition()

    # Running generators.

    def run(self, generator: UUID | str, *, progress_interval_s: float = 1.0) -> GeneratorView:
        """Execute the generator's pipeline in this process, blocking; returns the final view."""
        generator_id = self.resolve(generator)
        orchestrator = self.orchestrator(progress_interval_s=progress_interval_s)
        with self._running_lock:
            self._running.add(orchestrator)
        try:
            with self.following():
                orchestrator.run(generator_id)
        finally:
            with self._running_lock:
                self._running.discard(orchestrator)
        return self.get_view(generator_id)

    def preempt(self) -> None:
        """This process is shutting down: the pipelines `run` executes here hand their parts
        back at the next step boundary and start nothing more (a worker resumes them)."""
        with self._running_lock:
            running = list(self._running)
        for pipelines in running:
            pipelines.preempt()

    def orchestrator(self, **options: Any) -> Pipelines:
        """What runs pipelines for this service: `run` here, or `work_on` in a worker."""
        if self._pipelines is None:
            raise errors.NotApplicable("this service was built without engines to run generators")
        return self._pipelines(self, **{"worker": self.worker, **options})

    @contextmanager
    def following(self, events: Sequence[type] = ()) -> Iterator[None]:
        """While inside, stops and cancels stored by other processes reach this process's
        running phases (through the feed): every event, or those of the `events` classes."""
        topics = [cls.TOPIC for cls in events]
        stop_following = self.feed.follow(self._notify_followed, topics) if self.feed else None
        try:
            yield
        finally:
            if stop_following:
                stop_following()

    # Creating generators.

    def create_generator(
        self,
        spec: GeneratorSpec | dict[str, Any],
        *,
        base_dir: str | Path | None = None,
        inputs: InputFolders | None = None,
    ) -> UUID:
        """Validate the spec and its tables, then record a queued generator.

        `inputs`: the only folders its tables may be in (a spec sent to a server, ADR 0021).
        """
        parsed = self.check_spec(spec, Path(base_dir or "."), inputs)
        return self._record_new(parsed, parent=None, resume_from=None)

    def continue_training(
        self,
        generator: UUID | str,
        overrides: dict[str, Any] | None = None,
        *,
        more_epochs: int | None = None,
        inputs: InputFolders | None = None,
    ) -> UUID:
        """A new generator that trains on from a succeeded generator's kept checkpoints.

        `more_epochs`: each phase trains this many epochs beyond the checkpoint it resumes
        from. With neither it nor a `training.max_epochs` override, as many more as the
        parent's limit; with that override, it is each phase's total and must lie beyond the
        checkpoint. `inputs`: the only folders the tables the overrides name may be in
        (ADR 0021).
        """
        check_size(overrides, "overrides")
        parent = self.store.get(self.resolve(generator))
        if parent.kind != TRAINING:
            raise errors.NotApplicable("an anonymization generator has no checkpoint to continue")
        if parent.state != SUCCEEDED:
            raise errors.ParentNotSucceeded(
                f"generator {parent.id} is {parent.state}; only a succeeded one has checkpoints"
            )
        raw = _merged(parent.spec, overrides or {})
        confined = inputs if overrides and "tables" in overrides else None
        spec = self.check_spec(raw, Path("."), confined)
        private_parent = bool(parent.spec["training"].get("differential_privacy"))
        private_child = bool(spec.training and spec.training.differential_privacy)
        if private_parent != private_child:
            raise errors.InvalidSpec(
                [
                    "training.differential_privacy: a private lineage stays private"
                    if private_parent
                    else "training.differential_privacy: a checkpoint trained without "
                    "differential privacy cannot continue with it: its privacy is already "
                    "unbounded"
                ]
            )
        budget = spec.training.differential_privacy if spec.training else None
        limit = budget.max_epsilon if budget else math.inf
        spent = {p: c.get("epsilon") or 0.0 for p, c in parent.checkpoints().items()}
        over = [
            f"training.differential_privacy.max_epsilon: {limit:g} is below the epsilon "
            f"{e:.3g} the lineage already spent in phase {p}"
            for p, e in spent.items()
            if e > limit
        ]
        if over:
            raise errors.InvalidSpec(over)
        resume_from = {
            phase_id: {**checkpoint, "generator": str(parent.id)}
            for phase_id, checkpoint in parent.checkpoints().items()
        }
        training = (overrides or {}).get("training")
        if more_epochs is None and not (isinstance(training, dict) and "max_epochs" in training):
            more_epochs = parent.spec["training"].get("max_epochs")
        limits = _epoch_limits(resume_from, spec, more_epochs)
        return self._record_new(spec, parent.id, resume_from, limits)

    def _record_new(
        self,
        spec: GeneratorSpec,
        parent: UUID | None,
        resume_from: dict[str, Any] | None,
        epoch_limits: dict[str, int] | None = None,
    ) -> UUID:
        generator = Generator.create(
            name=spec.name,
            kind=spec.kind,
            spec=spec.model_dump(mode="json"),
            text_tables=[t.name for t in spec.tables if t.text_columns],
            parent=parent,
            resume_from=resume_from,
            epoch_limits=epoch_limits,
        )
        self._save(generator)
        return generator.id

    # Commands from people.

    def request_stop(
        self, generator: UUID | str, phase: str, requested_by: str = "user"
    ) -> GeneratorView:
        """Fast-forward one phase: it ends at its next step boundary, keeping its checkpoint."""
        return self._command_then_view(generator, lambda g: g.request_stop(phase, requested_by))

    def cancel(self, generator: UUID | str, requested_by: str = "user") -> GeneratorView:
        """Abort the whole generator: every phase and step, no checkpoint kept."""
        running: list[str] = []

        def cancel(g: Generator) -> None:
            parts = [*g.phases.values(), *g.steps.values()]
            running[:] = [p.id for p in parts if p.state in (RUNNING, STOPPING)]
            g.cancel(requested_by)

        view = self._command_then_view(generator, cancel)
        if not running and self._pipelines is not None:
            # No runner holds its files, so none will see the cancel and delete them (a worker
            # would sweep them up at its next look for work): delete them now.
            self.orchestrator().discard_cancelled(view.id)
        return view

    # Commands from the orchestrator and runners.

    def start_phase(
        self, generator: UUID, phase: str, worker: str, lease_s: float = DEFAULT_LEASE_S
    ) -> int:
        return self.execute(generator, lambda g: g.start_phase(phase, worker, lease_s))

    def record_progress(self, generator: UUID, phase: str, attempt: int, **metrics: Any) -> None:
        self.execute(generator, lambda g: g.record_progress(phase, attempt, **metrics))

    def record_privacy(self, generator: UUID, phase: str, attempt: int, **plan: Any) -> None:
        self.execute(generator, lambda g: g.record_privacy(phase, attempt, **plan))

    def finish_phase(self, generator: UUID, phase: str, attempt: int, **outcome: Any) -> list[str]:
        return self.execute(generator, lambda g: g.finish_phase(phase, attempt, **outcome))

    def fail_phase(self, generator: UUID, phase: str, attempt: int, error: str) -> None:
        self.execute(generator, lambda g: g.fail_phase(phase, attempt, error))

    def start_step(
        self, generator: UUID, step: str, worker: str, lease_s: float = DEFAULT_LEASE_S
    ) -> int:
        return self.execute(generator, lambda g: g.start_step(step, worker, lease_s))

    def release_phase(self, generator: UUID, phase: str, attempt: int, **released: Any) -> None:
        self.execute(generator, lambda g: g.release_phase(phase, attempt, **released))

    def release_step(self, generator: UUID, step: str, attempt: int) -> None:
        self.execute(generator, lambda g: g.release_step(step, attempt))

    def heartbeat(self, generator: UUID, part: str, attempt: int) -> None:
        self.execute(generator, lambda g: g.heartbeat(part, attempt))

    def wait_for_resources(
        self, generator: UUID, part: str, attempt: int, resources: str | None
    ) -> None:
        self.execute(generator, lambda g: g.wait_for_resources(part, attempt, resources))

    def take_over(
        self,
        generator: UUID,
        part: str,
        worker: str,
        now: datetime,
        lease_s: float = DEFAULT_LEASE_S,
        *,
        lost: int | None = None,
    ) -> int:
        return self.execute(generator, lambda g: g.take_over(part, worker, now, lease_s, lost=lost))

    def finish_step(
        self, generator: UUID, step: str, attempt: int, outputs: dict[str, Any]
    ) -> None:
        self.execute(generator, lambda g: g.finish_step(step, attempt, outputs))

    def fail_step(self, generator: UUID, step: str, attempt: int, error: str) -> None:
        self.execute(generator, lambda g: g.fail_step(step, attempt, error))

    def claim_turn(self, generator_id: UUID) -> ClaimTurn | None:
        return self.store.claim_turn(generator_id)

    # Queries.

    def get_generator(self, generator: UUID | str, at_version: int | None = None) -> Generator:
        generator_id = self.resolve(generator)
        if at_version is not None and at_version < 1:
            raise errors.UnknownGenerator(f"generator {generator_id} has no version {at_version}")
        return self.store.get(generator_id, version=at_version)

    def get_view(self, generator: UUID | str, at_version: int | None = None) -> GeneratorView:
        """The view now, or as it was at `at_version` (then as of that event)."""
        now = datetime.now(UTC) if at_version is None else None
        return view_of(self.get_generator(generator, at_version), now)

    def metrics(self, generator: UUID | str, phase: str) -> list[MetricRow]:
        """A row per completed epoch of the phase, in order; a phase that resumed from its
        parent's checkpoint begins with the parent's rows up to that checkpoint."""
        generator_id = self.resolve(generator)
        events = self.store.events(generator_id)
        created = events[0]
        layout = {p["id"]: p for p in created.phases}
        if phase not in layout:
            known = ", ".join(layout) or "none"
            raise errors.UnknownPhase(f"no phase {phase!r} (phases: {known})")
        rows: list[MetricRow] = []
        resumed = layout[phase].get("resume_from")
        if resumed and created.parent is not None:
            inherited = self.metrics(created.parent, phase)
            rows = [r for r in inherited if r.epoch <= resumed.get("epoch", 0)]
        for event in events:
            if getattr(event, "phase", None) == phase:
                for row in getattr(event, "epochs", ()):
                    rows.append(MetricRow(**row, generator=generator_id))
        return rows

    def history(self, generator: UUID | str) -> list[HistoryEntry]:
        return [history_entry(e) for e in self.store.events(self.resolve(generator))]

    def list_generators(
        self,
        *,
        state: str | None = None,
        name: str | None = None,
        limit: int = DEFAULT_LIMIT,
        after: str | None = None,
        parent: UUID | str | None = None,
    ) -> GeneratorPage:
        """A page of generators, newest first: those in `state`, whose name contains `name`
        (any case), that continue `parent`; `after` is the `next` cursor of the page
        before."""
        continues = None if parent is None else self.resolve(parent)
        return list_page(
            self.store.summaries,
            state=state,
            name=name,
            limit=limit,
            after=after,
            parent=continues,
        )

    def resolve(self, generator: UUID | str) -> UUID:
        """A generator id from a UUID, its text, or a unique prefix of 8 characters or more."""
        if isinstance(generator, UUID):
            return generator
        ref = generator.strip().lower()
        try:
            return UUID(ref)
        except ValueError:
            pass
        if len(ref) < MIN_PREFIX or not _HEX_PREFIX.match(ref):
            raise errors.UnknownGenerator(
                f"{generator!r} is neither a generator id nor a prefix of {MIN_PREFIX}+ characters"
            )
        matches = self.store.ids_starting_with(ref, 2)
        if not matches:
            raise errors.UnknownGenerator(f"no generator id starts with {generator!r}")
        if len(matches) > 1:
            raise errors.AmbiguousId(f"more than one generator starts with {generator!r}")
        return matches[0]

    # Notification of stored events to in-process listeners (the training control).

    def subscribe(self, listener: EventListener) -> Callable[[], None]:
        """Call `listener` once with each event this service stores, in the storing thread,
        and, while a run follows the store, with each event other processes store; returns
        the function that unsubscribes."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    # The command loop.

    def execute(self, generator: UUID | str, command: Callable[[Generator], T]) -> T:
        """Run a command on the latest state and store its events, retrying on a race.

        A command that raises writes nothing: its events are only ever saved after it returns.
        The command must not keep the generator it is given (the store keeps it).
        """
        generator_id = self.resolve(generator)
        for attempt in range(self.max_retries):
            with self._storing_events_of(generator_id):
                try:
                    result, events = self.store.update(generator_id, command)
                except ConcurrentWrite:
                    pass
                else:
                    if events:
                        self._notify(events)
                    return result
            # Jittered backoff, so writers racing on one generator stop colliding in step.
            time.sleep(random.uniform(0, min(0.05, 0.001 * 2**attempt)))
        raise errors.Conflict(
            f"generator {generator_id} kept changing; gave up after {self.max_retries} attempts"
        )

    def _command_then_view(
        self, generator: UUID | str, command: Callable[[Generator], Any]
    ) -> GeneratorView:
        def command_returning_view(g: Generator) -> GeneratorView:
            command(g)
            return view_of(g)

        return self.execute(generator, command_returning_view)

    def _save(self, generator: Generator) -> None:
        with self._storing_events_of(generator.id):
            events = self.store.save(generator)
            if events:
                self._notify(events)

    @contextmanager
    def _storing_events_of(self, generator_id: UUID) -> Iterator[None]:
        with self._storing_done:
            self._storing[generator_id] += 1
        try:
            yield
        finally:
            with self._storing_done:
                self._storing[generator_id] -= 1
                if not self._storing[generator_id]:
                    del self._storing[generator_id]
                self._storing_done.notify_all()

    def _notify_followed(self, events: Sequence[Any]) -> None:
        """The feed's delivery waits while threads here store events of the same generators:
        a feed polling between a thread's commit and its delivery would otherwise deliver that
        thread's events in its own thread first, and listeners are promised the storing thread
        (a stop asked from a listener lands at the phase's next step boundary). Bounded: a
        stop from another process is never held up for long."""
        generators = {e.originator_id for e in events}
        with self._storing_done:
            self._storing_done.wait_for(
                lambda: not generators & self._storing.keys(), timeout=_OWN_WRITES_WAIT_S
            )
        self._notify(events)

    def _notify(self, events: Sequence[Any]) -> None:
        """Deliver events to listeners exactly once: the feed also brings back our own."""
        with self._delivered_lock:
            fresh = [e for e in events if self._first_delivery(e)]
        if fresh:
            for listener in list(self._listeners):
                listener(fresh)

    def _first_delivery(self, event: Any) -> bool:
        key = (event.originator_id, event.originator_version)
        if key in self._delivered:
            return False
        self._delivered[key] = None
        if len(self._delivered) > _DELIVERED_MEMORY:
            self._delivered.popitem(last=False)
        return True


def _epoch_limits(
    resume_from: dict[str, dict[str, Any]], spec: GeneratorSpec, more_epochs: int | None
) -> dict[str, int] | None:
    """Each continued phase's epoch limit: `more_epochs` beyond its checkpoint; or the
    spec's total, which must then lie beyond every checkpoint (a child resumed at epoch 131
    with a total of 5 would train one step, and say "131 / 5")."""
    if more_epochs is not None:
        if more_epochs < 1:
            raise errors.InvalidSpec([f"more_epochs: must be at least 1, not {more_epochs}"])
        return {p: c.get("epoch", 0) + more_epochs for p, c in resume_from.items()}
    total = spec.training.max_epochs if spec.training else 0
    behind = {p: c.get("epoch", 0) for p, c in resume_from.items() if c.get("epoch", 0) >= total}
    if behind:
        at = ", ".join(f"{p} at epoch {e}" for p, e in behind.items())
        raise errors.InvalidSpec(
            [
                f"training.max_epochs: {total} is the total number of epochs, and the "
                f"checkpoints resume beyond it ({at}): give a larger total, or more_epochs "
                "(`ffwd continue --more-epochs N`) to train N epochs more"
            ]
        )
    return None


def _merged(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merged(merged[key], value)
        else:
            merged[key] = value
    return merged
