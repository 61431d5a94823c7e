"""The rule book: phase, step and generator lifecycles as shared `transitions` machines.

Phase (one per training phase; `stop` is the fast-forward button)::

                 stop (pre-queue: stays pending, stop_requested)
                 +----+
                 v    |
             +---------+  start   +---------+  stop   +----------+
             | pending |--------->| running |-------->| stopping |--+ stop (no-op)
             +---------+          +---------+         +----------+<-+
                  |                 |     |  finish      |    |
                  |                 |     +------+-------+    |
                  |                 |            v            |
                  |                 |      +-----------+      |
                  |                 |      | succeeded |      |
                  |                 |      +-----------+      |
                  |                 +--fail--> failed <--fail-+
                  +---------- cancel (from any live state) --> cancelled

Start of a pending phase whose stop was pre-queued is `start` then `stop`: it lands in
`stopping` and the stop is applied at the first step boundary (RULES.md decision 1).

`release` (preemption: its worker is shutting down) puts a running phase back to `pending`,
resuming from the checkpoint it kept; a `stopping` phase is not released, its stop lands.

Step (synthesis, report, anonymize): pending -start-> running -finish-> succeeded,
running -fail-> failed, running -release-> pending (run again), pending|running -cancel->
cancelled.

Generator: queued -start-> running -finish-> succeeded, running -fail-> failed,
queued|running -cancel-> cancelled.

The machines are built once with `model=None` and compiled into plain tables at import:
the aggregate asks "where does this trigger lead from this state?" and records the answer
in its event, so no Machine is ever bound to an aggregate (ARCHITECTURE.md, ADR 0003).
"""

from transitions import Machine

from ffwd.domain.states import (  # noqa: F401 (the rule book names them too)
    CANCELLED,
    FAILED,
    GENERATOR_STATES,
    LIVE_PHASE_STATES,
    PENDING,
    QUEUED,
    RUNNING,
    STOPPING,
    SUCCEEDED,
    TERMINAL,
)

PHASE_MACHINE = Machine(
    model=None,
    states=[PENDING, RUNNING, STOPPING, SUCCEEDED, FAILED, CANCELLED],
    initial=PENDING,
    auto_transitions=False,
    transitions=[
        {"trigger": "start", "source": PENDING, "dest": RUNNING},
        {"trigger": "stop", "source": PENDING, "dest": PENDING},
        {"trigger": "stop", "source": RUNNING, "dest": STOPPING},
        {"trigger": "stop", "source": STOPPING, "dest": STOPPING},
        {"trigger": "progress", "source": RUNNING, "dest": RUNNING},
        {"trigger": "progress", "source": STOPPING, "dest": STOPPING},
        {"trigger": "finish", "source": [RUNNING, STOPPING], "dest": SUCCEEDED},
        {"trigger": "fail", "source": [RUNNING, STOPPING], "dest": FAILED},
        {"trigger": "release", "source": RUNNING, "dest": PENDING},
        {"trigger": "cancel", "source": [PENDING, RUNNING, STOPPING], "dest": CANCELLED},
    ],
)

STEP_MACHINE = Machine(
    model=None,
    states=[PENDING, RUNNING, SUCCEEDED, FAILED, CANCELLED],
    initial=PENDING,
    auto_transitions=False,
    transitions=[
        {"trigger": "start", "source": PENDING, "dest": RUNNING},
        {"trigger": "finish", "source": RUNNING, "dest": SUCCEEDED},
        {"trigger": "fail", "source": RUNNING, "dest": FAILED},
        {"trigger": "release", "source": RUNNING, "dest": PENDING},
        {"trigger": "cancel", "source": [PENDING, RUNNING], "dest": CANCELLED},
    ],
)

GENERATOR_MACHINE = Machine(
    model=None,
    states=[QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED],
    initial=QUEUED,
    auto_transitions=False,
    transitions=[
        {"trigger": "start", "source": QUEUED, "dest": RUNNING},
        {"trigger": "finish", "source": RUNNING, "dest": SUCCEEDED},
        {"trigger": "fail", "source": RUNNING, "dest": FAILED},
        {"trigger": "cancel", "source": [QUEUED, RUNNING], "dest": CANCELLED},
    ],
)


def compile_machine(machine: Machine) -> dict[tuple[str, str], str]:
    """{(state, trigger): next state} for every transition the machine allows."""
    return {
        (source, trigger): transition.dest
        for trigger, event in machine.events.items()
        for source, transitions in event.transitions.items()
        for transition in transitions
    }


PHASE_RULES = compile_machine(PHASE_MACHINE)
STEP_RULES = compile_machine(STEP_MACHINE)
GENERATOR_RULES = compile_machine(GENERATOR_MACHINE)


def next_state(rules: dict[tuple[str, str], str], state: str, trigger: str) -> str | None:
    """Where `trigger` leads from `state`, or None when the rule book forbids it."""
    return rules.get((state, trigger))
