"""The `ffwd` command line: every command of the public contract.

Each command imports what it uses when it runs: `ffwd --help`, `stop`, `cancel`, `show`,
`history` and `list` load neither the web server nor the engines (ADR 0019).
"""

import contextlib
import json
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ffwd.adapters.cli.admin import admin_app
from ffwd.adapters.cli.notify import notify_app, notify_while_running
from ffwd.adapters.cli.options import (
    DEFAULT_DATA,
    DEFAULT_STORE,
    AsJson,
    Data,
    Generator,
    NotifyOption,
    Store,
    console,
    service,
    settings,
    who,
)
from ffwd.adapters.cli.terminal import clean
from ffwd.domain.errors import FfwdError, InvalidQuery, InvalidSpec

if TYPE_CHECKING:
    from uuid import UUID

    from ffwd.application.placement import ClaimedPart, PlacedRun
    from ffwd.application.ports import Pipelines
    from ffwd.application.service import GeneratorService

DEFAULT_LEASE_S = 30.0  # the same as ffwd.domain.generator.DEFAULT_LEASE_S
GRACE_S = 25.0  # a spot instance or a node drain gives about 30 s before it kills
KILL_AFTER_S = 10.0

app = typer.Typer(
    name="ffwd",
    help="Stop, pre-queue, cancel and continue the training phases of synthetic-data "
    "generators. Every change is an event; `history` replays them.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain help and usage errors: typer's rich formatting imports ~0.1 s of modules first.
    rich_markup_mode=None,
)


def _print_json(payload: object) -> None:
    print(json.dumps(payload, indent=2, default=str))


@app.command()
def run(
    spec: Annotated[str, typer.Argument(help="The generator spec, a JSON or YAML file.")],
    ctx: typer.Context,
    detach: Annotated[bool, typer.Option(help="Only create it (queued) for a worker.")] = False,
    store: Store = DEFAULT_STORE,
    data: Data = DEFAULT_DATA,
    notify: NotifyOption = None,
) -> None:
    """Create a generator and run its pipeline here; prints the generator id first."""
    from ffwd.adapters.cli.spec_file import load_spec_file
    from ffwd.adapters.container import build_container

    raw, base_dir = load_spec_file(spec)
    container = build_container(store, data, lock_timeout_s=settings["lock_timeout_s"])
    container.spec_check()(raw, base_dir)  # before the store opens: a rejected spec writes nothing
    svc = container.service()
    notify_while_running(ctx, svc.store, notify)
    gid = svc.create_generator(raw, base_dir=base_dir)
    print(gid, flush=True)
    if not detach:
        _run_here(svc, gid)


def _run_here(svc: "GeneratorService", gid: "UUID") -> None:
    """Run the generator in this terminal, drawing the panel; exit 1 unless it succeeds, 143
    when terminated (its running phases handed back for a worker to resume)."""
    from ffwd.adapters.cli.live import Drawing, run_in_terminal

    out = console()
    view = run_in_terminal(svc, gid, out)
    out.print(Drawing(svc)(view))
    if view.state in ("queued", "running"):
        print(f"generator {gid} handed back: `ffwd worker` resumes it", file=sys.stderr)
        raise typer.Exit(143)
    if view.state != "succeeded":
        why = view.error or "nothing was kept"
        print(f"generator {gid} ended {view.state}: {clean(why)}", file=sys.stderr)
        raise typer.Exit(1)


@app.command()
def stop(
    generator: Generator,
    phase: Annotated[str, typer.Argument(help="tabular or text:<table>")],
    store: Store = DEFAULT_STORE,
    data: Data = DEFAULT_DATA,
) -> None:
    """Request a graceful stop of one phase, pending or running: it ends at its next step
    boundary, keeps its checkpoint, and the pipeline goes on."""
    view = service(store, data).request_stop(generator, phase, requested_by=who())
    p = next(p for p in view.phases if p.id == phase)
    when = "when it begins" if p.state == "pending" else "at its next step boundary"
    print(f"Stop requested for {clean(phase)} of {view.id}: applied {when}.")


@app.command()
def cancel(generator: Generator, store: Store = DEFAULT_STORE, data: Data = DEFAULT_DATA) -> None:
    """Cancel the whole generator: everything aborted, no checkpoint kept."""
    view = service(store, data).cancel(generator, requested_by=who())
    print(f"Generator {view.id} is {view.state}.")


@app.command(name="continue")
def continue_training(
    generator: Generator,
    more_epochs: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Train N epochs beyond each phase's kept checkpoint (the default: as many "
            "more as the parent's limit).",
            metavar="N",
        ),
    ] = None,
    max_epochs: Annotated[
        int | None,
        typer.Option(
            min=1, help="Train each phase to N epochs in all (beyond its checkpoint).", metavar="N"
        ),
    ] = None,
    max_training_time_s: Annotated[float | None, typer.Option(help="New time limit.")] = None,
    max_epsilon: Annotated[float | None, typer.Option(help="New DP budget.")] = None,
    detach: Annotated[bool, typer.Option(help="Only create it (queued) for a worker.")] = False,
    store: Store = DEFAULT_STORE,
    data: Data = DEFAULT_DATA,
) -> None:
    """A new generator that trains on from a succeeded generator's checkpoints: prints its id,
    then runs it here like `ffwd run` (panel, Ctrl-C) unless --detach."""
    if more_epochs is not None and max_epochs is not None:
        raise typer.BadParameter("give --more-epochs or --max-epochs, not both")
    training: dict = {}
    if max_epochs is not None:
        training["max_epochs"] = max_epochs
    if max_training_time_s is not None:
        training["max_training_time_s"] = max_training_time_s
    if max_epsilon is not None:
        training["differential_privacy"] = {"max_epsilon": max_epsilon}
    svc = service(store, data)
    child = svc.continue_training(
        generator, {"training": training} if training else None, more_epochs=more_epochs
    )
    print(child, flush=True)
    if not detach:
        _run_here(svc, child)


@app.command()
def show(
    generator: Generator,
    as_json: AsJson = False,
    watch_it: Annotated[
        bool, typer.Option("--watch", help="Follow it live until it ends.")
    ] = False,
    store: Store = DEFAULT_STORE,
    data: Data = DEFAULT_DATA,
) -> None:
    """The generator view: the Model Training panel, then the pipeline steps."""
    svc = service(store, data)
    if watch_it and not as_json:
        from ffwd.adapters.cli.live import watch

        with contextlib.suppress(KeyboardInterrupt):
            watch(svc, svc.resolve(generator), console())
        return
    view = svc.get_view(generator)
    if as_json:
        print(view.model_dump_json(indent=2))
    else:
        from ffwd.adapters.cli.live import Drawing

        console().print(Drawing(svc)(view))


@app.command()
def history(
    generator: Generator,
    as_json: AsJson = False,
    at: Annotated[
        int | None,
        typer.Option("--at", help="Show the view as it was at VERSION.", metavar="VERSION"),
    ] = None,
    store: Store = DEFAULT_STORE,
    data: Data = DEFAULT_DATA,
) -> None:
    """The audit history: every event, who asked, and when; --at replays the view then."""
    svc = service(store, data)
    if at is not None:
        view = svc.get_view(generator, at_version=at)
        if as_json:
            print(view.model_dump_json(indent=2))
        else:
            from ffwd.adapters.cli.panel import render

            console().print(render(view))
        return
    entries = svc.history(generator)
    if as_json:
        _print_json([e.model_dump(mode="json") for e in entries])
    else:
        from ffwd.adapters.cli.panel import history_table

        console().print(history_table(entries))


@app.command()
def metrics(
    generator: Generator,
    phase: Annotated[str, typer.Argument(help="tabular or text:<table>")],
    as_json: AsJson = False,
    store: Store = DEFAULT_STORE,
    data: Data = DEFAULT_DATA,
) -> None:
    """The learning curve of one phase: a row per completed epoch, every epoch, in order
    (a continued phase begins with its parent's)."""
    rows = service(store, data).metrics(generator, phase)
    if as_json:
        _print_json([row.model_dump(mode="json") for row in rows])
        return
    print(f"{'epoch':>6} {'step':>8} {'elapsed':>9} {'val loss':>9} {'train loss':>10} epsilon")
    for r in rows:
        print(
            f"{r.epoch:>6} {r.step:>8} {r.elapsed_s:>8.1f}s {_number(r.val_loss):>9} "
            f"{_number(r.train_loss):>10} {_number(r.epsilon)}"
        )


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


@app.command(name="list")
def list_generators(
    as_json: AsJson = False,
    state: Annotated[
        str | None, typer.Option(help="Only generators in this state (e.g. running).")
    ] = None,
    name: Annotated[
        str | None, typer.Option(help="Only generators whose name contains TEXT.", metavar="TEXT")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=500, help="Generators per page.")] = 50,
    after: Annotated[
        str | None,
        typer.Option(help="The page after the one that printed this cursor.", metavar="CURSOR"),
    ] = None,
    store: Store = DEFAULT_STORE,
    data: Data = DEFAULT_DATA,
) -> None:
    """Generators, newest first, a page at a time."""
    from ffwd.adapters.storage.summary_reader import open_reader
    from ffwd.application.lists import find_page
    from ffwd.application.summaries import summary_json

    reader = open_reader(store, timeout_s=settings["lock_timeout_s"])
    if reader is None:  # not a local file with current summaries: the store opens it
        page = service(store, data).list_generators(
            state=state, name=name, limit=limit, after=after
        )
        items, cursor, as_dicts = page.items, page.next, page.model_dump(mode="json")["items"]
    else:  # the quick way: neither the store's library nor pydantic is loaded
        with contextlib.closing(reader):
            items, cursor = find_page(
                reader.summaries, state=state, name=name, limit=limit, after=after
            )
        as_dicts = [summary_json(s) for s in items]
    if as_json:
        print(json.dumps({"items": as_dicts, "next": cursor}, indent=2, ensure_ascii=False))
        return
    for s in items:
        when = f"{s.created_at:%Y-%m-%d %H:%M}"
        print(f"{s.id}  {s.state:<10} {s.kind:<14} {when}  {clean(s.name)}")
    if cursor:
        print(f"more: ffwd list --after {cursor}", file=sys.stderr)


@app.command()
def worker(
    ctx: typer.Context,
    once: Annotated[bool, typer.Option(help="Exit when no part is left to claim.")] = False,
    concurrency: Annotated[int, typer.Option(min=1, help="Parts run side by side.")] = 1,
    poll_s: Annotated[float, typer.Option(help="Seconds between looks for work.")] = 1.0,
    lease_s: Annotated[
        float,
        typer.Option(
            help="A part whose worker shows no sign of life this long is "
            "taken over by another worker."
        ),
    ] = DEFAULT_LEASE_S,
    grace_s: Annotated[
        float,
        typer.Option(
            min=0,
            help="After SIGTERM, how long to wait for the parts in hand to be handed back "
            "before exiting anyway.",
        ),
    ] = GRACE_S,
    on_ray: Annotated[
        str | None,
        typer.Option(
            "--ray",
            metavar="ADDRESS",
            help="Run each claimed part as a task on this Ray cluster (HOST:PORT, or auto: "
            "the one on this machine), with the resources its spec asks; needs the ray extra.",
        ),
    ] = None,
    kill_after_s: Annotated[
        float,
        typer.Option(
            min=0,
            help="With --ray: a part's task still going this long after its generator was "
            "cancelled (or its part taken over) is ended by Ray.",
        ),
    ] = KILL_AFTER_S,
    store: Store = DEFAULT_STORE,
    data: Data = DEFAULT_DATA,
    notify: NotifyOption = None,
) -> None:
    """Execute queued generators from the store: claim their phases and steps one at a time
    (any number of workers may share a store). SIGTERM (a preemption, a node drain) hands
    each running phase back at its next step boundary, with its checkpoint, for another
    worker to resume at once; Ctrl-C lets the parts in hand finish. With --ray, this process
    claims and Ray runs: --concurrency parts at once, each where the cluster has room."""
    from ffwd.application.worker import Worker

    svc = service(store, data)
    notify_while_running(ctx, svc.store, notify)
    if on_ray is None:
        pipelines = svc.orchestrator(lease_s=lease_s)
    else:
        pipelines = _on_ray(svc, on_ray, store, data, lease_s, kill_after_s)
    work = Worker(
        svc,
        pipelines,
        concurrency=concurrency,
        poll_s=poll_s,
        on_part=lambda gid: print(f"{gid} {svc.get_view(gid).state}", flush=True),
    )

    def preempted(*_: object) -> None:
        print(
            f"terminated: handing the parts in hand back at their next step boundary "
            f"(exiting within {grace_s:g} s)",
            file=sys.stderr,
            flush=True,
        )
        work.preempt(grace_s)

    signal.signal(signal.SIGTERM, preempted)
    try:
        work.run(once=once)
    except KeyboardInterrupt:
        work.stop()


def _on_ray(
    svc: "GeneratorService",
    address: str,
    store: str,
    data: str,
    lease_s: float,
    kill_after_s: float,
) -> "Pipelines":
    try:
        from ffwd.adapters.ray_cluster.driver import ray_pipelines
    except ImportError as e:
        raise typer.BadParameter(
            f"the ray extra is not installed: pip install 'ffwd[ray]' ({e})"
        ) from None

    def started(claimed: "ClaimedPart", placed: "PlacedRun") -> None:
        where = getattr(placed, "where", {})
        print(
            f"{claimed.generator_id} {claimed.part} attempt {claimed.attempt} on ray: "
            f"{where.get('host')} pid {where.get('pid')}",
            flush=True,
        )

    return ray_pipelines(
        svc, address, store, data, lease_s=lease_s, kill_after_s=kill_after_s, on_start=started
    )


@app.command()
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    inputs: Annotated[
        list[Path] | None,
        typer.Option(
            "--inputs",
            envvar="FFWD_INPUTS",
            help="A folder whose files specs sent to this server may name (repeatable; "
            "FFWD_INPUTS is :-separated). Default: {data}/inputs.",
        ),
    ] = None,
    allowed_host: Annotated[
        list[str] | None,
        typer.Option(
            "--allowed-host",
            help="A host name clients reach this server by (repeatable; '*': any). "
            "Default: the bound address, plus localhost and 127.0.0.1 on loopback.",
        ),
    ] = None,
    no_token: Annotated[
        bool,
        typer.Option(
            "--no-token", help="Serve beyond loopback without FFWD_API_TOKEN (not advised)."
        ),
    ] = False,
    max_table_mb: Annotated[
        float,
        typer.Option(
            envvar="FFWD_MAX_TABLE_MB", min=0, help="The largest table file a spec may name."
        ),
    ] = 100.0,
    workers: Annotated[
        int,
        typer.Option(
            min=0,
            help="Run the store's queued generators here, at most this many parts at once "
            "(whoever queued them); 0: the API only.",
        ),
    ] = 1,
    notify: NotifyOption = None,
    store: Store = DEFAULT_STORE,
    data: Data = DEFAULT_DATA,
) -> None:
    """The HTTP API (OpenAPI at /docs) and the web page with the Model Training panel; runs
    the store's queued generators like `ffwd worker`. Needs the `web` extra."""
    try:
        from ffwd.adapters.http.serve import Exposed, app_settings
        from ffwd.adapters.http.serve import serve as serve_http
    except ImportError as e:
        raise typer.BadParameter(
            f"the web extra is not installed: pip install 'ffwd[web]' ({e})"
        ) from None
    options = {
        "inputs": inputs or (),
        "allowed_hosts": allowed_host or (),
        "no_token": no_token,
        "max_table_bytes": int(max_table_mb * 1_000_000),
    }
    try:
        app_settings(host, data, **options)
    except Exposed as e:
        raise typer.BadParameter(str(e)) from None
    if notify:
        notify_while_running(ctx, service(store, data).store, notify)
    serve_http(
        store=store,
        data=data,
        host=host,
        port=port,
        workers=workers,
        lock_timeout_s=settings["lock_timeout_s"],
        **options,
    )


@app.command()
def demo(
    store: Store = DEFAULT_STORE,
    data: Data = DEFAULT_DATA,
) -> None:
    """The main job on the shipped sample data: pre-queue a stop on one text phase, stop
    the tabular phase after a few epochs, let the rest run, print the timeline."""
    from ffwd.adapters.cli.demo import run_demo

    run_demo(service(store, data), console())


@app.callback()
def everywhere(
    lock_timeout: Annotated[
        float,
        typer.Option(
            "--lock-timeout",
            envvar="FFWD_LOCK_TIMEOUT",
            min=0.1,
            help="Seconds a command waits for another process's lock on an SQLite store "
            "before saying store_unavailable.",
        ),
    ] = 5.0,
) -> None:
    settings["lock_timeout_s"] = lock_timeout


app.add_typer(notify_app, name="notify")
app.add_typer(admin_app, name="admin")


def main() -> None:
    try:
        app()
    except FfwdError as e:
        for line in getattr(e, "problems", None) or [e.message]:
            print(f"error: {e.code}: {clean(line)}", file=sys.stderr)
        sys.exit(2 if isinstance(e, InvalidSpec | InvalidQuery) else 1)  # bad usage: 2
