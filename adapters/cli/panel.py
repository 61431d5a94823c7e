"""The Model Training panel in a terminal: phases with their fast-forward state, then steps."""

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.panel import Panel
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from ffwd.adapters.cli.facts import phase_facts
from ffwd.adapters.cli.terminal import plain
from ffwd.application.views import GeneratorView, HistoryEntry, MetricRow, PhaseView

WIDE = 100  # columns from which the panel has room for the epochs bar
MANY_EPOCHS = 1e6  # a budget that allows this many more epochs does not limit anyone
REASON_LABELS = {
    "manually_stopped": "Manually stopped",
    "early_stopped": "Early stopped",
    "privacy_budget_exhausted": "Privacy budget exhausted",
    "max_epochs_reached": "Max epochs reached",
    "time_limit_reached": "Time limit reached",
    "unknown": "Unknown",
}
STATE_STYLES = {
    "pending": "dim",
    "queued": "dim",
    "running": "cyan",
    "stopping": "yellow",
    "succeeded": "green",
    "failed": "red",
    "cancelled": "magenta",
}


def reason_labels(reasons: list[str]) -> str:
    return ", ".join(REASON_LABELS.get(r, r) for r in reasons)


def _fast_forward(p: PhaseView) -> Text:
    if p.state in ("pending", "running") and not p.stop_requested:
        return Text("⏩", style="bold")
    if p.stop_requested and p.state in ("pending", "stopping"):
        return Text("⏸", style="yellow")
    return Text(" ")


def _progress(p: PhaseView) -> ProgressBar:
    limit = p.epoch_limit or 1
    done = p.state == "succeeded"
    return ProgressBar(total=limit, completed=limit if done else min(p.epoch, limit), width=16)


def _state(state: str) -> Text:
    return Text(state, style=STATE_STYLES.get(state, ""))


def _metric(value: float | None, fmt: str = "{:.3f}") -> str:
    return "" if value is None else fmt.format(value)


def _note(p: PhaseView) -> Text:
    if p.reasons:
        return plain(reason_labels(p.reasons))
    if p.stop_requested:
        return Text("stop requested (pre-queued)" if p.state == "pending" else "stop requested")
    if p.waiting_for:
        return plain(f"waiting for resources: {p.waiting_for}", style="yellow")
    return plain(p.error or "")


Curves = Mapping[str, Sequence[MetricRow]]


def privacy_words(p: PhaseView, view: GeneratorView) -> str | None:
    """A private phase's budget in words: spent, noise, and what the budget still allows."""
    budget = p.privacy
    if budget is None:
        return None
    training = view.spec.get("training") or {}
    chosen = (training.get("differential_privacy") or {}).get("noise_multiplier") is None
    spent = (
        f"ε {budget.epsilon:.2f} of {budget.max_epsilon:g} spent"
        if budget.epsilon
        else (f"ε budget {budget.max_epsilon:g}")
    )
    words = [f"  {p.id}: {spent} (δ {budget.delta:g})"]
    if budget.noise_multiplier is None:
        words.append("noise multiplier chosen for the budget when the phase starts")
    else:
        how = ", chosen for the budget" if chosen else ""
        words.append(f"noise multiplier {budget.noise_multiplier:.3g}{how}")
    if budget.epochs_left is not None:
        words.append(_forecast(p, budget.epochs_left, training.get("max_epochs")))
    return "; ".join(words)


def _forecast(p: PhaseView, left: float, max_epochs: int | None) -> str:
    if left >= MANY_EPOCHS:
        return "the budget does not limit it"
    if p.state in ("succeeded", "failed", "cancelled"):
        return f"the budget allows {left:g} more epochs"
    if left == 0:
        return "the budget is spent: it ends at its next step"
    if max_epochs is not None and left >= max_epochs - p.epoch:
        return f"the budget allows {left:g} more epochs: its epoch limit ends it first"
    return f"the budget ends it in {left:g} epochs"


class _Panel:
    """The panel, laid out for the width it is drawn in."""

    def __init__(self, view: GeneratorView, hint: str, curves: Curves, now: datetime) -> None:
        self.view, self.hint, self.curves, self.now = view, hint, curves, now

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        wide = options.max_width >= WIDE
        yield _panel(self.view, self.hint, self.curves, self.now, wide=wide)


def render(
    view: GeneratorView,
    hint: str = "",
    curves: Curves | None = None,
    now: datetime | None = None,
) -> _Panel:
    """The generator view as a terminal panel, Model Training first, then the pipeline steps;
    with each phase's curve (`curves`), the facts a stop is decided by under it."""
    return _Panel(view, hint, curves or {}, now or datetime.now(UTC))


def _panel(view: GeneratorView, hint: str, curves: Curves, now: datetime, wide: bool) -> Panel:
    # Why a phase ended is the panel's point: in a narrow terminal the epochs bar gives way,
    # never the reasons.
    phases = Table(expand=True, box=None, pad_edge=False)
    bar = ("epochs",) if wide else ()
    for column in ("", "phase", "state", *bar, "elapsed", "epoch", "step", "val loss"):
        phases.add_column(column, no_wrap=True)
    dp = any(p.epsilon is not None for p in view.phases)
    if dp:
        phases.add_column("ε", no_wrap=True)
    phases.add_column("reasons")
    for p in view.phases:
        row = [
            _fast_forward(p),
            plain(p.id),
            _state(p.state),
            *([_progress(p)] if wide else []),
            f"{p.elapsed_s:.1f}s",
            f"{p.epoch} / {p.epoch_limit}",
            str(p.step),
            _metric(p.val_loss),
        ]
        if dp:
            row.append(_metric(p.epsilon, "{:.2f}"))
        phases.add_row(*row, _note(p))
    facts = [
        Text.assemble(plain(f"  {p.id}: "), Text(words, style=style))
        for p in view.phases
        for words, style in phase_facts(p, view, curves.get(p.id, ()), now)
    ]
    budgets = [line for p in view.phases if (line := privacy_words(p, view))]
    steps = Table(box=None, show_header=False, pad_edge=False)
    for s in view.steps:
        note = f"waiting for resources: {s.waiting_for}" if s.waiting_for else s.error or ""
        steps.add_row(Text("•"), plain(s.id), _state(s.state), plain(note))
    if not view.phases:  # an anonymization generator: nothing trains, nothing to stop
        phases = Text("No training phase: this generator anonymizes its tables.", style="dim")
    parts: list = [phases, *facts]
    if budgets:
        parts += [Text(""), Text("Privacy budget", style="bold"), *map(Text, budgets)]
    parts += [Text(""), Text("Pipeline", style="bold"), steps]
    if view.outputs:
        parts += [Text(""), *_outputs(view)]
    if view.error:
        parts.append(plain(f"error: {view.error}", style="red"))
    if hint:
        parts += [Text(""), Text(hint, style="dim")]
    title = Text.assemble(
        ("Model Training", "bold"), "  ", plain(view.name), "  ", _state(view.state)
    )
    subtitle = Text(f"{view.id}" + (f"  continues {view.parent}" if view.parent else ""))
    return Panel(Group(*parts), title=title, subtitle=subtitle, title_align="left")


def _outputs(view: GeneratorView) -> list[Text]:
    lines = [Text("Outputs", style="bold")]
    for kind in ("synthetic", "anonymized"):
        for table, path in (view.outputs.get(kind) or {}).items():
            lines.append(plain(f"  {kind} {table}: {path}"))
    for key in ("report", "report_html"):
        if key in view.outputs:
            lines.append(plain(f"  {key.replace('_', ' ')}: {view.outputs[key]}"))
    return lines


def history_table(entries: list[HistoryEntry]) -> Table:
    table = Table(title="History", expand=True)
    for column in ("version", "time", "event", "phase", "who", "details"):
        table.add_column(column, overflow="fold")
    released: dict[str, HistoryEntry] = {}  # phases handed back, until they start again
    for e in entries:
        words = _words(e, released)
        table.add_row(
            str(e.version),
            _time(e.timestamp),
            plain(e.type),
            plain(e.phase or e.pipeline_step or ""),
            plain(e.requested_by or ""),
            plain("; ".join(w for w in (words, _details(e)) if w)),
        )
    return table


def _words(e: HistoryEntry, released: dict[str, HistoryEntry]) -> str:
    """Preemptions and waits said in words: where the phase was handed back, who resumed it,
    what a part waited for."""
    if e.type == "PhaseReleased" and e.phase:
        released[e.phase] = e
        return f"preempted at epoch {e.data['epoch']}, step {e.data['step']}"
    if e.type in ("PhaseStarted", "TakenOver") and e.phase in released:
        before = released.pop(e.phase)
        if e.type == "PhaseStarted":
            return (
                f"resumed by {e.data['worker']} after its preemption at epoch "
                f"{before.data['epoch']}, step {before.data['step']}"
            )
    if e.type == "StepReleased":
        return "preempted: runs again"
    if e.type == "PartWaiting":
        waiting = e.data.get("resources")
        return f"waiting for resources: {waiting}" if waiting else "its resources came free: began"
    return ""


def _time(t: datetime) -> str:
    return t.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


# `epochs` are the learning curve's rows: `ffwd metrics` shows them; a wait's `resources` are
# in its words
_SKIP = {"phase", "pipeline_step", "requested_by", "spec", "phases", "steps", "epochs", "resources"}
_CHECKPOINTS = {"checkpoint", "kept", "resume_from"}


def _details(e: HistoryEntry) -> str:
    parts = []
    for key, value in e.data.items():
        if key in _SKIP or value is None or value == [] or value == {}:
            continue
        if key == "reasons":
            value = reason_labels(value)
        elif key in _CHECKPOINTS and isinstance(value, dict):
            value = value.get("id")
        elif isinstance(value, float):
            value = f"{value:.4g}"
        parts.append(f"{key}={value}")
    return " ".join(parts)
