"""Drivers (`ffwd worker --ray`) on one real local Ray cluster per module, with a PostgreSQL
store per test: the same tiny generators as the worker fault tests."""

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.workers.conftest import (  # noqa: F401 (fixtures)
    Workers,
    open_service,
    tables,
    workers_on,
)
from tests.ray_cluster import RayCluster

# "<generator> <part> attempt <n> on ray: <host> pid <pid>", printed by the driver
PLACED = re.compile(r"^(\S+) (\S+) attempt (\d+) on ray: \S+ pid (\d+)$", re.M)


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[RayCluster]:
    """One cluster for the module's tests, gone before the rest of the suite runs."""
    cluster = RayCluster(cpus=2).start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def drivers_on(
    ray_cluster: RayCluster,
    workers_on: Callable[..., Workers],  # noqa: F811 (the fixture imported above)
) -> Callable[..., Workers]:
    """`drivers_on(store, data, lease_s=...)`: `ffwd worker --ray` processes on the cluster."""

    def make(store: str, data: Path, lease_s: float = 3.0, *options: str) -> Workers:
        pool = workers_on(
            store,
            data,
            options=("--ray", ray_cluster.address, "--kill-after-s", "5", *options),
            env=ray_cluster.env,
        )
        pool.lease_s = lease_s
        return pool

    return make


def placed(pool: Workers) -> list[dict[str, Any]]:
    """Every part the pool's drivers placed so far: generator, part, attempt, Ray worker pid."""
    found = []
    for path in sorted(pool.logs.glob("worker-*.log")):
        for gid, part, attempt, pid in PLACED.findall(path.read_text(errors="replace")):
            found.append({"generator": gid, "part": part, "attempt": int(attempt), "pid": int(pid)})
    return found
