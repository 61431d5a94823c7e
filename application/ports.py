"""The ports: what the application needs from the outside world, as small Protocols."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar, runtime_checkable
from uuid import UUID

from ffwd.application.summaries import Summary, SummaryQuery
from ffwd.domain.generator import Generator

T = TypeVar("T")


class ConcurrentWrite(Exception):
    """Another writer saved the same generator first; the command may be retried."""


class ClaimTurn(Protocol):
    """One worker's turn to look for a part of one generator and claim it."""

    def release(self) -> None:
        """End the turn (again: nothing)."""


@runtime_checkable
class GeneratorStore(Protocol):
    """Event-sourced storage of generators (memory, SQLite, PostgreSQL)."""

    def get(self, generator_id: UUID, version: int | None = None) -> Generator:
        """The generator, now or as it was at `version`; UnknownGenerator if absent."""

    def save(self, generator: Generator) -> Sequence[Any]:
        """Append the generator's pending events atomically; ConcurrentWrite on a race."""

    def update(
        self, generator_id: UUID, command: Callable[[Generator], T]
    ) -> tuple[T, Sequence[Any]]:
        """Run `command` on the latest state (a generator it must not keep) and append the
        events it triggers atomically: its result and the stored events. ConcurrentWrite on
        a race; the command's own error, and nothing written, when it rejects."""

    def events(self, generator_id: UUID) -> Sequence[Any]:
        """Every stored event of one generator, oldest first."""

    def summaries(self, query: SummaryQuery) -> list[Summary]:
        """A page of generators' summaries, newest first (ADR 0020)."""

    def summary(self, generator_id: UUID) -> Summary | None: ...

    def ids_starting_with(self, prefix: str, limit: int) -> list[UUID]:
        """Ids that start with `prefix` (lowercase, with dashes), found by index."""

    def claimable(self, now: datetime, limit: int) -> list[UUID]:
        """Generators with a part to claim now (pending and its turn, or its lease run out),
        oldest first."""

    def cancelled_since(self, since: datetime, limit: int) -> list[UUID]:
        """Generators cancelled at `since` or later, earliest first."""

    def claim_turn(self, generator_id: UUID) -> ClaimTurn | None:
        """This worker's turn to claim a part of the generator, or None while another
        worker has it: workers skip a generator another is claiming from, instead of all
        racing for its part (the claim itself stays an append at the expected version)."""

    def generator_ids(self) -> list[UUID]:
        """Every generator's id, oldest first (for tools: it reads every summary)."""

    def rebuild_summaries(self, force: bool = True) -> tuple[int, int]:
        """Every summary anew from the events; (generators, events) read."""

    def close(self) -> None: ...


@dataclass(frozen=True)
class TableInfo:
    columns: list[str]
    rows: int
    text_columns: list[str]


class DatasetProblem(Exception):
    """A table file that cannot be used; the message says why."""


@runtime_checkable
class Datasets(Protocol):
    """Reads the user's tables."""

    def describe(self, path: str, max_bytes: int | None = None) -> TableInfo:
        """Columns, row count and detected text columns; DatasetProblem if unusable or
        larger than `max_bytes`. Memory stays bounded whatever the file's size."""


EventListener = Callable[[Sequence[Any]], None]


class RunnerCommands(Protocol):
    """What the runners of a pipeline tell a generator, and what they read of it: the narrow
    port through which the orchestrator drives the aggregate (the service implements it)."""

    def get_generator(self, generator: UUID | str, at_version: int | None = None) -> Generator:
        """The generator now (or at `at_version`)."""

    def subscribe(self, listener: EventListener) -> Callable[[], None]:
        """Hear every event stored from now on; returns the function that stops it."""

    def claim_turn(self, generator_id: UUID) -> ClaimTurn | None:
        """The turn to claim a part of the generator, or None while another worker has it."""

    def start_phase(self, generator: UUID, phase: str, worker: str, lease_s: float) -> int:
        """Claim a pending phase; its attempt number."""

    def record_progress(self, generator: UUID, phase: str, attempt: int, **metrics: Any) -> None:
        """Counters and metrics of a running phase (renews its lease)."""

    def record_privacy(self, generator: UUID, phase: str, attempt: int, **plan: Any) -> None:
        """The DP-SGD settings a running private phase trains with (a `PrivacyPlan`)."""

    def finish_phase(self, generator: UUID, phase: str, attempt: int, **outcome: Any) -> list[str]:
        """End a phase keeping its checkpoint; the recorded reasons."""

    def fail_phase(self, generator: UUID, phase: str, attempt: int, error: str) -> None: ...

    def start_step(self, generator: UUID, step: str, worker: str, lease_s: float) -> int:
        """Claim a ready pipeline step; its attempt number."""

    def heartbeat(self, generator: UUID, part: str, attempt: int) -> None: ...

    def wait_for_resources(
        self, generator: UUID, part: str, attempt: int, resources: str | None
    ) -> None:
        """The part's runner waits for a cluster's resources (in words), or began (None)."""

    def take_over(
        self,
        generator: UUID,
        part: str,
        worker: str,
        now: datetime,
        lease_s: float,
        *,
        lost: int | None = None,
    ) -> int:
        """Run a part whose worker's lease expired as a new attempt; its number. With
        `lost`, the holder of that attempt says its runner is gone: at once."""

    def finish_step(
        self, generator: UUID, step: str, attempt: int, outputs: dict[str, Any]
    ) -> None: ...

    def fail_step(self, generator: UUID, step: str, attempt: int, error: str) -> None: ...

    def release_phase(self, generator: UUID, phase: str, attempt: int, **released: Any) -> None:
        """Hand a running phase back at a step boundary (preemption)."""

    def release_step(self, generator: UUID, step: str, attempt: int) -> None:
        """Hand a running step back (preemption): it runs again."""


class Pipelines(Protocol):
    """Runs generators' pipelines: a whole one here (`run`), or one part for a worker."""

    def run(self, generator_id: UUID) -> None:
        """Every pending part of the pipeline, in order, until the generator ends."""

    def work_on(self, generator_id: UUID, now: datetime) -> bool:
        """Claim one runnable part and run it; False when there was none to claim."""

    def discard_cancelled(self, generator_id: UUID) -> bool:
        """Delete a cancelled generator's files; False when it is not cancelled."""

    def preempt(self) -> None:
        """Hand back every part in hand (at the next step boundary) and start nothing more."""


# (the commands the runners give, **options such as progress_interval_s) -> Pipelines
PipelinesFactory = Callable[..., Pipelines]


@runtime_checkable
class Workspace(Protocol):
    """Where a generator's outputs (synthetic tables, reports) are written."""

    def outputs_dir(self, generator_id: str) -> str:
        """The generator's own output folder, created if needed."""

    def discard(self, generator_id: str) -> None:
        """Delete every output of the generator (cancel)."""


@runtime_checkable
class EventFeed(Protocol):
    """Events stored by any process, delivered to a listener (polling or push)."""

    def follow(self, listener: EventListener, topics: Sequence[str] = ()) -> Callable[[], None]:
        """Start delivering every event stored from now on (of these topics only, when
        given); returns a stop function."""


@dataclass(frozen=True)
class Notice:
    """One stored lifecycle event as told to the outside world.

    `key` ("{generator id}:{version}") names it for good: every delivery of the same event
    carries the same key, so a receiver can drop duplicates (delivery is at-least-once).
    `occurred_at` is the event's own timestamp, ISO 8601 in UTC.
    """

    key: str
    type: str
    event: str
    generator_id: str
    version: int
    occurred_at: str
    phase: str | None
    data: dict[str, Any]
    link: str | None = None


class DeliveryFailed(Exception):
    """A destination did not take a notice; `retryable` says whether trying again may help."""

    def __init__(self, message: str, *, retryable: bool = True, retry_after_s: float | None = None):
        super().__init__(message)
        self.retryable = retryable
        self.retry_after_s = retry_after_s


@runtime_checkable
class Notifier(Protocol):
    """One destination of lifecycle notices: a log, a webhook endpoint, a list in a test."""

    name: str

    def wants(self, notice_type: str) -> bool:
        """Whether this destination is told about notices of this type ("phase.started")."""

    def send(self, notice: Notice, attempt: int) -> None:
        """Deliver once (no retry here); DeliveryFailed when the destination did not take it."""
