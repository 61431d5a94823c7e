"""The Placement port on Ray: each claimed part a Ray task with the resources its spec asks,
Ray's own retries off (a part is run again only by ffwd's takeover, so never twice at once)."""

import logging
from typing import Any

from ffwd.adapters.ray_cluster.cluster import GB, never_fits
from ffwd.adapters.ray_cluster.task import run_part
from ffwd.application.placement import ClaimedPart, Ending, Unplaceable

log = logging.getLogger(__name__)


class RayRun:
    """One part's Ray task, a stream of two items: where it began, then its end."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self.started = False
        self.where: dict[str, Any] = {}
        self._killed = False

    def wait(self, timeout_s: float) -> Ending | None:
        import ray

        ready, _ = ray.wait([self._stream], timeout=timeout_s)
        if not ready:
            return None
        try:
            item = ray.get(next(self._stream))
        except StopIteration:  # cancelled (a hand-back): the task goes on to its boundary
            return Ending()
        except ray.exceptions.TaskCancelledError:
            return Ending()
        except ray.exceptions.RayError as e:
            return Ending(None if self._killed else _why(e))
        if not self.started:
            self.started, self.where = True, item
            return None
        return Ending()

    def release(self) -> None:
        import ray

        ray.cancel(self._stream, force=False)

    def kill(self) -> None:
        import ray

        self._killed = True
        ray.cancel(self._stream, force=True)


class RayPlacement:
    """Places parts on the Ray cluster this process joined (`cluster.join`); each task opens
    `store` and `data` itself, so every machine needs the same store URL and data folder."""

    def __init__(self, store: str, data: str, lease_s: float) -> None:
        import ray

        self.store, self.data, self.lease_s = store, data, lease_s
        self._task = ray.remote(run_part)

    def start(self, claimed: ClaimedPart) -> RayRun:
        import ray

        asked = claimed.resources
        why = never_fits(asked, ray.nodes())
        if why is not None:
            raise Unplaceable(why)
        options: dict[str, Any] = {
            "num_cpus": asked.cpus,
            "num_gpus": asked.gpus,
            "max_retries": 0,
            "retry_exceptions": False,
            "num_returns": "streaming",
            "name": f"ffwd {claimed.part} {str(claimed.generator_id)[:8]}",
        }
        if asked.memory_gb is not None:
            options["memory"] = int(asked.memory_gb * GB)
        task = self._task.options(**options)
        return RayRun(task.remote(self.store, self.data, self.lease_s, claimed))


def _why(e: Exception) -> str:
    first = str(e).strip().splitlines()[0] if str(e).strip() else ""
    return f"{type(e).__name__}: {first}"
