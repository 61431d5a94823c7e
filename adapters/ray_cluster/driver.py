"""`ffwd worker --ray`: the driver's pipelines, built on the cluster it joins."""

from collections.abc import Callable
from pathlib import Path

from ffwd.adapters.ray_cluster.cluster import join
from ffwd.adapters.ray_cluster.placement import RayPlacement
from ffwd.application.placed_pipelines import PlacedPipelines
from ffwd.application.placement import ClaimedPart, PlacedRun
from ffwd.application.service import GeneratorService
from ffwd.domain.errors import InvalidSpec


def ray_pipelines(
    svc: GeneratorService,
    address: str,
    store: str,
    data: str,
    *,
    lease_s: float,
    kill_after_s: float,
    on_start: Callable[[ClaimedPart, PlacedRun], None] | None = None,
) -> PlacedPipelines:
    """Join the cluster at `address` and place every part claimed here on it. Its tasks open
    the store and the data folder by the same names from wherever Ray runs them: relative
    paths are made absolute here."""
    shared = _shared_store(store)
    join(address)
    placement = RayPlacement(shared, str(Path(data).expanduser().resolve()), lease_s)
    return PlacedPipelines(
        svc,
        svc.orchestrator(lease_s=lease_s),
        placement,
        lease_s=lease_s,
        kill_after_s=kill_after_s,
        on_start=on_start,
    )


def _shared_store(store: str) -> str:
    if store.startswith("memory:"):
        raise InvalidSpec(
            ["store: memory:// lives in one process, out of the reach of Ray's tasks: "
             "use postgresql:// (or sqlite:/// with every task on this machine)"]
        )  # fmt: skip
    if store.startswith("sqlite:///"):
        path = Path(store.removeprefix("sqlite:///")).expanduser().resolve()
        return f"sqlite:///{path}"
    return store
