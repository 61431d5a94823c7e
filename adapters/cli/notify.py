"""`ffwd notify ...`: try a webhook, run delivery on its own, see how endpoints stand; and the
`--notify CONFIG` option that `run` and `worker` use to deliver while they run."""

import json
import signal
import sys
import threading
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ffwd.adapters.cli.options import DEFAULT_STORE, NotifyOption, console
from ffwd.adapters.cli.terminal import clean, plain
from ffwd.domain.errors import InvalidSpec

if TYPE_CHECKING:
    from rich.table import Table

Store = Annotated[str, typer.Option("--store", envvar="FFWD_STORE", help="The store to follow.")]
PENDING_SHOWN = 1000
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)

notify_app = typer.Typer(
    name="notify",
    help="Notifications: webhooks and log lines for phase and generator events.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


@notify_app.command("test")
def send_test(
    url: Annotated[str, typer.Argument(help="The webhook URL to POST a sample delivery to.")],
    secret: Annotated[
        str | None, typer.Option(help="Shared secret to sign with; unsigned without it.")
    ] = None,
    timeout_s: Annotated[float, typer.Option(help="Seconds to wait for the answer.")] = 10.0,
) -> None:
    """Send one signed sample delivery (a phase.succeeded notice) and print the answer."""
    import httpx

    from ffwd.adapters.notify.notices import sample_notice
    from ffwd.adapters.notify.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER
    from ffwd.adapters.notify.webhook import WebhookNotifier

    notifier = WebhookNotifier("test", url, secret, ("phase.succeeded",), timeout_s)
    notice = sample_notice()
    try:
        answer = notifier.post(notice)
    except httpx.HTTPError as e:
        print(f"error: no answer from {url}: {type(e).__name__}: {clean(e)}", file=sys.stderr)
        raise typer.Exit(1) from None
    finally:
        notifier.close()
    sent = answer.request.headers
    print(f"POST {url}")
    print(f"Idempotency-Key: {notice.key}")
    for header in (TIMESTAMP_HEADER, SIGNATURE_HEADER):
        print(f"{header}: {sent.get(header, '(unsigned)')}")
    print(f"-> {answer.status_code} {clean(answer.reason_phrase)}")
    print(clean(answer.text))
    if not answer.is_success:
        raise typer.Exit(1)


@notify_app.command("run")
def run_delivery(
    notify: NotifyOption = None,
    store: Store = DEFAULT_STORE,
    once: Annotated[
        bool, typer.Option(help="Deliver what is stored, then exit (1 if not all went out).")
    ] = False,
) -> None:
    """Deliver notices from the store until Ctrl-C or SIGTERM; a restart goes on from the
    position kept in the store."""
    from ffwd.adapters.notify.config import load_config
    from ffwd.adapters.notify.runtime import start_delivery
    from ffwd.adapters.storage.event_store import EventSourcedStore

    config = load_config(notify)
    events_store = EventSourcedStore(store)
    delivery = start_delivery(events_store, config)
    try:
        if once:
            if not delivery.stop(drain_s=max(config.drain_s, 1.0)):
                raise typer.Exit(1)
            return
        _wait_for_signal()
    finally:
        delivery.stop()
        events_store.close()


def _wait_for_signal() -> None:
    stopped = threading.Event()
    previous = {s: signal.signal(s, lambda *_: stopped.set()) for s in _STOP_SIGNALS}
    try:
        while not stopped.wait(1.0):  # a timed wait, so that signals are seen at once
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@notify_app.command("status")
def status(
    notify: NotifyOption = None,
    store: Store = DEFAULT_STORE,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    letters: Annotated[int, typer.Option(help="Dead letters to list per endpoint.")] = 5,
) -> None:
    """Each endpoint: position, what is pending, deliveries, dead letters, who delivers."""
    from ffwd.adapters.notify.config import load_config
    from ffwd.adapters.notify.delivery import LogSource
    from ffwd.adapters.notify.notices import topics_of
    from ffwd.adapters.notify.recorder import delivery_recorder
    from ffwd.adapters.storage.event_store import EventSourcedStore

    config = load_config(notify)
    events_store = EventSourcedStore(store)
    try:
        recorder = delivery_recorder(events_store.app)
        source = LogSource(events_store.app)
        head = source.head()
        rows = []
        for endpoint in config.endpoints:
            record = recorder.record(endpoint.name)
            position = record.position or 0
            pending = len(
                events_store.app.recorder.select_notifications(
                    position + 1, PENDING_SHOWN, topics=topics_of(endpoint.events)
                )
            )
            rows.append(
                {
                    "endpoint": endpoint.name,
                    "state": _state(record, pending),
                    "position": record.position,
                    "head": head,
                    "pending": pending,
                    "delivered": record.delivered,
                    "dead_lettered": record.dead_lettered,
                    "last_error": record.last_error,
                    "owner": record.owner,
                    "lease_until": _when(record.lease_until),
                    "dead_letters": [
                        {**vars(x), "recorded_at": _when(x.recorded_at)}
                        for x in recorder.dead_letters(endpoint.name, letters)
                    ],
                }
            )
    finally:
        events_store.close()
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    out = console()
    out.print(_table(rows))
    for row in rows:
        for x in row["dead_letters"]:
            out.print(
                f"[red]dead letter[/red] {row['endpoint']} {x['key']} {x['type']} "
                f"after {x['attempts']} attempts: {x['error']}"
            )


@notify_app.command("redeliver")
def redeliver(
    notify: NotifyOption = None,
    store: Store = DEFAULT_STORE,
    endpoint: Annotated[
        str | None, typer.Option(help="Only this endpoint's dead letters (default: all).")
    ] = None,
) -> None:
    """Send dead letters again, oldest first, with each endpoint's retries; one that goes out
    leaves the dead letters. Exits 1 if any is still a dead letter."""
    from rich.text import Text

    from ffwd.adapters.notify.config import load_config
    from ffwd.adapters.notify.runtime import NotificationDelivery
    from ffwd.adapters.storage.event_store import EventSourcedStore

    config = load_config(notify)
    names = [e.name for e in config.endpoints]
    if endpoint is not None and endpoint not in names:
        raise InvalidSpec([f"--endpoint: no endpoint {endpoint!r} (configured: {names})"])
    events_store = EventSourcedStore(store)
    delivery = NotificationDelivery(events_store, config)
    try:
        results = delivery.redeliver(endpoint)
    finally:
        delivery.close()
        events_store.close()
    left, out = 0, console()
    for name, letters in results.items():
        for letter, error in letters:
            if error is None:
                said = plain(f" {name} {letter.key} {letter.type}")
                out.print(Text.assemble(("redelivered", "green"), said))
            else:
                left += 1
                said = plain(f" {name} {letter.key} {letter.type}: {error}")
                out.print(Text.assemble(("still dead", "red"), said))
    sent = sum(len(letters) for letters in results.values()) - left
    print(f"{sent} redelivered, {left} still dead letters")
    if left:
        raise typer.Exit(1)


def _state(record: Any, pending: int) -> str:
    if record.position is None:
        return "not started"
    if record.failing:
        return "failing"
    return "behind" if pending else "ok"


def _when(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds")


def _table(rows: list[dict[str, Any]]) -> "Table":
    from rich.table import Table

    table = Table(title=f"Notifications ({time.strftime('%H:%M:%S')})")
    for column in ("endpoint", "state", "position", "pending", "delivered", "dead", "owner"):
        table.add_column(column)
    style = {"ok": "green", "failing": "red", "behind": "yellow"}
    for r in rows:
        table.add_row(
            plain(r["endpoint"]),
            f"[{style.get(r['state'], 'dim')}]{r['state']}[/]",
            f"{r['position']}/{r['head']}",
            f"{r['pending']}{'+' if r['pending'] >= PENDING_SHOWN else ''}",
            str(r["delivered"]),
            str(r["dead_lettered"]),
            plain(r["owner"] or "-"),
        )
    return table


def notify_while_running(ctx: typer.Context, store: Any, config: str | None) -> None:
    """With a config, deliver from `store` until the command ends (drained then, for up to
    the config's `drain_s`): what `--notify` does on `run` and `worker`."""
    if config:
        from ffwd.adapters.notify.runtime import start_delivery

        ctx.call_on_close(start_delivery(store, config).stop)
