"""The states of phases, steps and generators: plain names, shared by the rule book
(`lifecycle`), the parts and every reader, which need the names and not the rules."""

PENDING = "pending"
RUNNING = "running"
STOPPING = "stopping"
SUCCEEDED = "succeeded"
FAILED = "failed"
CANCELLED = "cancelled"
QUEUED = "queued"

TERMINAL = frozenset({SUCCEEDED, FAILED, CANCELLED})
GENERATOR_STATES = (QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED)
LIVE_PHASE_STATES = frozenset({PENDING, RUNNING, STOPPING})
