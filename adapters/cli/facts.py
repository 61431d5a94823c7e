"""What a person decides a stop by, said in words under each phase of the terminal panel:
the best checkpoint so far and how long ago, whether a usable checkpoint exists, the time
left to the phase's limits, the validation loss as a sparkline, and a runner gone silent."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from ffwd.application.views import GeneratorView, MetricRow, PhaseView

SPARKS = "▁▂▃▄▅▆▇█"
SPARK_WIDTH = 24


def sparkline(values: Sequence[float | None], width: int = SPARK_WIDTH) -> str:
    """The last `width` values as bars from lowest to highest (gaps where none)."""
    shown = list(values)[-width:]
    known = [v for v in shown if v is not None]
    if not known:
        return ""
    low, high = min(known), max(known)
    span = (high - low) or 1.0
    top = len(SPARKS) - 1
    return "".join(" " if v is None else SPARKS[round((v - low) / span * top)] for v in shown)


def ago(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def best_words(p: PhaseView) -> str:
    if p.best is None:
        return "best: none yet" if p.state in ("running", "stopping") else ""
    loss = "" if p.best.val_loss is None else f", val loss {p.best.val_loss:.3f}"
    since = p.epochs_since_best or 0
    when = "this epoch" if since == 0 else f"{since} epoch{'s' if since != 1 else ''} ago"
    return f"best: epoch {p.best.epoch}{loss} ({when})"


def usable_words(p: PhaseView) -> str:
    if p.state not in ("running", "stopping"):
        return ""
    return "usable checkpoint: yes" if p.best is not None else "usable checkpoint: not yet"


def time_left(p: PhaseView, view: GeneratorView, rows: Sequence[MetricRow]) -> float | None:
    """Seconds until the phase's epoch limit or its time limit, whichever comes first, at
    the pace of the epochs this generator trained; None while there is no pace yet."""
    if p.state not in ("running", "stopping"):
        return None
    own = [r for r in rows if r.generator == view.id]
    estimates = []
    if own:
        first_epoch = own[0].epoch - 1
        pace = own[-1].elapsed_s / max(1, own[-1].epoch - first_epoch)
        estimates.append(max(0, p.epoch_limit - p.epoch) * pace)
    limit = ((view.spec.get("training") or {}).get("max_training_time_s")) or None
    if limit:
        estimates.append(max(0.0, limit - p.elapsed_s))
    return min(estimates) if estimates else None


def silence_words(p: PhaseView, now: datetime) -> str:
    """A running phase that has not reported for longer than it should: said plainly."""
    if not p.stale or p.last_report_at is None:
        return ""
    quiet = ago((now - p.last_report_at).total_seconds())
    words = f"no report for {quiet}: its worker may be gone; "
    if p.lease_expires_at is None:
        return words + "another worker takes over when its lease ends"
    left = (p.lease_expires_at - now).total_seconds()
    if left <= 0:
        return words + "its lease has ended: another worker takes over at its next look"
    return words + f"another worker takes over when the lease ends in {ago(left)}"


def phase_facts(
    p: PhaseView, view: GeneratorView, rows: Sequence[MetricRow], now: datetime
) -> list[tuple[str, str]]:
    """(words, style) lines for one phase, most urgent first; none for a phase not begun."""
    lines: list[tuple[str, str]] = []
    silent = silence_words(p, now)
    if silent:
        lines.append((silent, "bold red"))
    facts = [best_words(p), usable_words(p)]
    left = time_left(p, view, rows)
    if left is not None:
        facts.append(f"~{ago(left)} left")
    spark = sparkline([r.val_loss for r in rows])
    if spark:
        facts.append(f"val loss {spark}")
    said = " · ".join(f for f in facts if f)
    if said:
        lines.append((said, "dim"))
    return lines


def curves(svc: Any, view: GeneratorView) -> dict[str, list[MetricRow]]:
    """Each phase's curve, for the panel (a phase not begun has none)."""
    return {p.id: svc.metrics(view.id, p.id) for p in view.phases if p.state != "pending" or p.best}
