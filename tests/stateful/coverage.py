"""What every CI-sized run of the lifecycle machine must reach, in RULES.md's words: each
accepted transition of each machine (so each state), each no-op, each rejection code, stale
reports of every kind after a takeover, and preemption's releases and resumptions."""

from collections import Counter

HANDFUL = 5  # times each must be reached in one CI-sized run

PHASE = [
    "phase pending -start-> running",
    "phase pending -start-> stopping",
    "phase pending -stop-> pending",
    "phase pending -stop-> pending (no event)",
    "phase running -stop-> stopping",
    "phase stopping -stop-> stopping (no event)",
    "phase running -progress-> running",
    "phase stopping -progress-> stopping",
    "phase running -finish-> succeeded",
    "phase stopping -finish-> succeeded",
    "phase running -fail-> failed",
    "phase stopping -fail-> failed",
    "phase pending -cancel-> cancelled",
    "phase running -cancel-> cancelled",
    "phase stopping -cancel-> cancelled",
    "phase pending -abort-> cancelled",
    "phase running -abort-> cancelled",
    "phase stopping -abort-> cancelled",
    "phase running -heartbeat-> running",
    "phase stopping -heartbeat-> stopping",
    "phase running -take over-> running",
    "phase stopping -take over-> stopping",
    "phase running -privacy-> running",
    "phase stopping -privacy-> stopping",
    "phase running -release-> pending",
]
STEP = [
    "step pending -start-> running",
    "step running -finish-> succeeded",
    "step running -fail-> failed",
    "step pending -cancel-> cancelled",
    "step running -cancel-> cancelled",
    "step pending -abort-> cancelled",  # a running step is never aborted: steps run one at a time
    "step running -heartbeat-> running",
    "step running -take over-> running",
    "step running -release-> pending",
]
GENERATOR = [
    "generator queued -start-> running",
    "generator running -finish-> succeeded",
    "generator running -fail-> failed",
    "generator queued -cancel-> cancelled",
    "generator running -cancel-> cancelled",
    "generator cancelled -cancel-> cancelled (no event)",
    "generator succeeded -continue-> a new generator",
    "cancel discards checkpoints",
]
REJECTED = [
    "rejected: unknown_phase",
    "rejected: invalid_transition",
    "rejected: stale_runner",
    "rejected: phase_already_finished",
    "rejected: generator_cancelled",
    "rejected: generator_already_finished",
    "rejected: not_applicable",
    "rejected: parent_not_succeeded",
    "rejected: invalid_spec",
    "stale record_progress after a takeover rejected",
    "stale finish_phase after a takeover rejected",
    "stale fail_phase after a takeover rejected",
    "stale heartbeat after a takeover rejected",
    "stale finish_step after a takeover rejected",
    "stale fail_step after a takeover rejected",
    "stale release_phase after a takeover rejected",
    "stale release_step after a takeover rejected",
]
# RULES.md, "Preemption".
PREEMPTION = [
    "release of a stopping phase refused",
    "a stopping phase's stop lands instead of a release",
    "a released phase resumes from the checkpoint it kept",
    "a released step runs again",
    "a phase released again",
]
REQUIRED = PHASE + STEP + GENERATOR + REJECTED + PREEMPTION


def shortfall(reached: Counter) -> dict[str, int]:
    """The required labels reached fewer than HANDFUL times, with their counts."""
    return {label: reached[label] for label in REQUIRED if reached[label] < HANDFUL}
