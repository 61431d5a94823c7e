"""`ffwd admin ...`: upkeep of a store."""

import time

import typer

from ffwd.adapters.cli.options import DEFAULT_STORE, Store

admin_app = typer.Typer(
    name="admin", help="Upkeep of a store: rebuild its read models.", rich_markup_mode=None
)


@admin_app.command("rebuild")
def rebuild(store: Store = DEFAULT_STORE) -> None:
    """Rebuild every generator's summary (what lists and workers read) from the event log.
    Commands wait while it runs; a store opens with them rebuilt when they are missing or of
    an older layout, so this is for a store whose summaries were damaged or edited by hand."""
    from ffwd.adapters.storage.event_store import EventSourcedStore

    opened = EventSourcedStore(store)
    try:
        started = time.perf_counter()
        generators, events = opened.rebuild_summaries()
        seconds = time.perf_counter() - started
    finally:
        opened.close()
    rate = f" ({events / seconds:,.0f} events/s)" if seconds > 0 and events else ""
    print(f"rebuilt {generators:,} summaries from {events:,} events in {seconds:.1f} s{rate}")
