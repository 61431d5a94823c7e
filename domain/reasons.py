"""Why a training phase ended: a non-empty set, always kept in one stable order."""

MANUALLY_STOPPED = "manually_stopped"
EARLY_STOPPED = "early_stopped"
PRIVACY_BUDGET_EXHAUSTED = "privacy_budget_exhausted"
MAX_EPOCHS_REACHED = "max_epochs_reached"
TIME_LIMIT_REACHED = "time_limit_reached"
UNKNOWN = "unknown"

ORDER = (
    MANUALLY_STOPPED,
    EARLY_STOPPED,
    PRIVACY_BUDGET_EXHAUSTED,
    MAX_EPOCHS_REACHED,
    TIME_LIMIT_REACHED,
    UNKNOWN,
)


def normalize(
    reasons: list[str] | tuple[str, ...] | set[str], *, stop_requested: bool
) -> list[str]:
    """The recorded reason set: known names only, `manually_stopped` when a stop was
    requested, `unknown` alone and only when nothing else applies, in ORDER."""
    chosen = {r for r in reasons if r in ORDER and r != UNKNOWN}
    if stop_requested:
        chosen.add(MANUALLY_STOPPED)
    return [r for r in ORDER if r in chosen] or [UNKNOWN]
