"""Joining a Ray cluster, and what its machines can hold. A bad address is said in seconds
with a stable code: `ray.init` alone waits minutes for a cluster that does not answer."""

import logging
import socket
import threading
from typing import Any

from ffwd.application.placement import Resources
from ffwd.domain.errors import ClusterUnavailable

CONNECT_TIMEOUT_S = 60.0
PROBE_TIMEOUT_S = 5.0
GB = 10**9  # memory_gb counts decimal gigabytes, as the name says
TOKEN_HINT = (
    " (a cluster with token authentication needs RAY_AUTH_MODE=token here, and its token in "
    "RAY_AUTH_TOKEN or ~/.ray/auth_token)"
)


def join(address: str, timeout_s: float = CONNECT_TIMEOUT_S) -> None:
    """Connect this process to the Ray cluster at `address` (`auto`: the one on this machine)
    as its driver; ClusterUnavailable, saying why, when it cannot."""
    import ray

    if address != "auto":
        _probe(address)
    outcome: list[BaseException | None] = []

    def connect() -> None:
        try:
            ray.init(address=address, logging_level=logging.ERROR, log_to_driver=True)
            outcome.append(None)
        except BaseException as e:  # said below, in the driver's words
            outcome.append(e)

    joining = threading.Thread(target=connect, name="ffwd-ray-join", daemon=True)
    joining.start()
    joining.join(timeout_s)
    if not outcome:
        raise ClusterUnavailable(
            f"the Ray cluster at {address} did not let this driver join within "
            f"{timeout_s:.0f} s{TOKEN_HINT}"
        )
    if outcome[0] is not None:
        first = str(outcome[0]).strip().splitlines()[0]
        raise ClusterUnavailable(f"cannot join the Ray cluster at {address}: {first}{TOKEN_HINT}")


def _probe(address: str) -> None:
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise ClusterUnavailable(f"{address!r} is not a Ray address (HOST:PORT, or auto)")
    try:
        socket.create_connection((host, int(port)), timeout=PROBE_TIMEOUT_S).close()
    except OSError as e:
        raise ClusterUnavailable(f"no Ray cluster answers at {address}: {e}") from None


def never_fits(asked: Resources, nodes: list[dict[str, Any]]) -> str | None:
    """Why no live machine of the cluster can ever hold the request, or None when one can
    (maybe not now: then Ray queues it until its resources are free)."""
    alive = [n.get("Resources", {}) for n in nodes if n.get("Alive")]
    for node in alive:
        if (
            node.get("CPU", 0) >= asked.cpus
            and node.get("GPU", 0) >= asked.gpus
            and (asked.memory_gb is None or node.get("memory", 0) >= asked.memory_gb * GB)
        ):
            return None
    largest = ", ".join(
        f"{n.get('CPU', 0):g} CPU, {n.get('GPU', 0):g} GPU, {n.get('memory', 0) / GB:.1f} GB"
        for n in alive
    )
    return (
        f"no machine of the Ray cluster can hold what it asks ({asked}); its machines have: "
        f"{largest or 'none alive'}"
    )
