"""Server-sent events: one message per new stored event of a generator, by following the store.

Any process may store the events (a worker, `ffwd stop` in a terminal, this server): the
stream polls the generator's version, a cheap read, and reads the history only when it grew.
A client gets the events stored after it connected. Each message's `id:` is the event's
version, so a client that reconnects with `Last-Event-ID` resumes right after the last event it
saw; `?after=N` resumes after version N (`?after=0`: the whole history first). Once the
generator is terminal and every event was sent, an `end` event closes the stream: at once,
for a new client of a finished generator.
"""

import asyncio
import json
import time
from collections.abc import AsyncIterator
from uuid import UUID

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from ffwd.application.service import GeneratorService
from ffwd.application.views import HistoryEntry
from ffwd.domain.lifecycle import TERMINAL

DEFAULT_POLL_S = 0.15
KEEPALIVE_S = 15.0
RETRY_MS = 1000


def resume_point(request: Request, after: int | None, current: int) -> int:
    """The last version the client has: `Last-Event-ID` (a reconnect) wins over `?after=`;
    with neither, the generator's `current` version, so a new client gets only new events."""
    header = request.headers.get("last-event-id", "").strip()
    if header.isdigit():
        return int(header)
    return current if after is None else max(after, 0)


def message(entry: HistoryEntry) -> str:
    return f"id: {entry.version}\ndata: {entry.model_dump_json()}\n\n"


def _new_entries(
    svc: GeneratorService, generator_id: UUID, after: int
) -> tuple[list[HistoryEntry], str]:
    generator = svc.get_generator(generator_id)
    entries: list[HistoryEntry] = []
    if generator.version > after:
        entries = [e for e in svc.history(generator_id) if e.version > after]
    return entries, generator.state


async def stream(
    svc: GeneratorService,
    generator_id: UUID,
    after: int,
    request: Request,
    *,
    poll_s: float = DEFAULT_POLL_S,
    keepalive_s: float = KEEPALIVE_S,
) -> AsyncIterator[str]:
    """The event stream; store reads run in the threadpool, never on the event loop."""
    yield f"retry: {RETRY_MS}\n\n"
    last, quiet_since = after, time.monotonic()
    while True:
        entries, state = await run_in_threadpool(_new_entries, svc, generator_id, last)
        for entry in entries:
            yield message(entry)
            last = entry.version
        if entries:
            quiet_since = time.monotonic()
        elif state in TERMINAL:
            # Every event up to the terminal one was sent (state was read before the history).
            yield f"event: end\ndata: {json.dumps({'state': state, 'version': last})}\n\n"
            return
        elif time.monotonic() - quiet_since > keepalive_s:
            yield ": keep-alive\n\n"
            quiet_since = time.monotonic()
        if await request.is_disconnected():
            return
        await asyncio.sleep(poll_s)
