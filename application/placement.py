"""Where a claimed part runs when it does not run here: the port a cluster implements, and
what a part asks of it (ADR 0027)."""

from dataclasses import dataclass
from typing import Protocol
from uuid import UUID

from ffwd.application.spec import GeneratorSpec, ResourceRequest

STEP = "step"  # the kind of a pipeline step (synthesis, report, anonymize)


@dataclass(frozen=True)
class Resources:
    """What one part asks of the machine that runs it: logical CPUs, GPUs, memory."""

    cpus: float = 1.0
    gpus: float = 0.0
    memory_gb: float | None = None

    def __str__(self) -> str:
        asked = [f"{self.cpus:g} CPU", f"{self.gpus:g} GPU"]
        if self.memory_gb is not None:
            asked.append(f"{self.memory_gb:g} GB of memory")
        return ", ".join(asked)


def resources_for(spec: GeneratorSpec, kind: str) -> Resources:
    """A part's resources: its phase kind's own request, then the spec's, then one CPU."""
    asked = spec.training.resources if spec.training else None
    if asked is None:
        return Resources()
    own: ResourceRequest | None = getattr(asked, kind, None) if kind != STEP else None

    def pick(name: str, default: float | None) -> float | None:
        for request in (own, asked):
            value = getattr(request, name) if request is not None else None
            if value is not None:
                return value
        return default

    return Resources(pick("cpus", 1.0), pick("gpus", 0.0), pick("memory_gb", None))  # type: ignore[arg-type]


@dataclass(frozen=True)
class ClaimedPart:
    """A part claimed in the store (its attempt), to be run by a runner elsewhere."""

    generator_id: UUID
    part: str
    attempt: int
    kind: str  # tabular, text or step
    resources: Resources


@dataclass(frozen=True)
class Ending:
    """How a placed runner ended: by itself (`lost` None), or lost, saying why (its process
    died, its machine vanished)."""

    lost: str | None = None


class Unplaceable(Exception):
    """No machine of the cluster can ever hold what the part asks; the message says why."""


class PlacedRun(Protocol):
    """One part's runner, placed on a cluster."""

    started: bool  # it began (found its resources); until then it waits in the cluster's queue

    def wait(self, timeout_s: float) -> Ending | None:
        """How it ended, or None while it still runs (or waits) after `timeout_s`."""

    def release(self) -> None:
        """Ask it to hand its part back at the next step boundary (preemption)."""

    def kill(self) -> None:
        """End it now, whatever it is doing."""


class Placement(Protocol):
    """Where claimed parts run: each on a machine with the resources it asks for."""

    def start(self, claimed: ClaimedPart) -> PlacedRun:
        """Place the part's runner; Unplaceable when no machine can ever hold it."""
