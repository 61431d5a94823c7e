"""One decision for every rank of a distributed phase (ADR 0026).

Under `torch.distributed` each rank trains its share of the batches, and all of them must stop
at the same step: a rank that stops while another goes on waits forever in the next
collective. So rank 0 alone asks the phase's control (and alone keeps checkpoints and
reports), and its answer reaches every rank in one broadcast of a small tensor at each step
boundary: stop or go on, the reasons, or a cancel.
"""

from collections.abc import Callable

import torch
import torch.distributed as dist

from ffwd.application.training import Decision, PhaseInterrupted
from ffwd.domain.reasons import ORDER

_STOP, _CANCELLED, _FAILED = 1, 2, 4
_REASON_BITS = {reason: 8 << i for i, reason in enumerate(ORDER)}


def _encode(decision: Decision) -> int:
    code = _STOP if decision.stop else 0
    for reason in decision.reasons:
        code |= _REASON_BITS[reason]
    return code


def _decode(code: int) -> Decision:
    if code & _CANCELLED:
        raise PhaseInterrupted("the generator was cancelled")
    if code & _FAILED:
        raise PhaseInterrupted("rank 0 ended the phase with an error: this rank keeps nothing")
    reasons = tuple(r for r in ORDER if code & _REASON_BITS[r])
    return Decision(stop=bool(code & _STOP), reasons=reasons)


class Ranks:
    """The processes a phase trains on: the default process group when `torch.distributed`
    is initialized (or `group`), else this process alone, which is then rank 0."""

    def __init__(self, group: dist.ProcessGroup | None = None) -> None:
        self.group = group
        self.distributed = dist.is_available() and dist.is_initialized()
        self.rank = dist.get_rank(group) if self.distributed else 0
        self.leader = self.rank == 0
        self._source = dist.get_global_rank(group, 0) if group is not None else 0
        device = torch.device("cpu")
        if self.distributed and dist.get_backend(group) == "nccl":
            device = torch.device("cuda", torch.cuda.current_device())
        self._code = torch.zeros(1, dtype=torch.int64, device=device)
        self._sending: dist.Work | None = None
        self._value = torch.zeros(2, dtype=torch.float64, device=device)

    def decide(self, ask: Callable[[], Decision]) -> Decision:
        """`ask()` on rank 0, its answer on every rank. A cancel raises PhaseInterrupted on
        every rank; an error of rank 0's control raises there and interrupts the others."""
        if not self.distributed:
            return ask()
        failure: BaseException | None = None
        decision = Decision(stop=False)
        if self.leader:
            if self._sending is not None:  # the last decision is out before this one is written
                self._sending.wait()
            try:
                decision = ask()
                self._code[0] = _encode(decision)
            except PhaseInterrupted as e:
                failure, self._code[0] = e, _CANCELLED
            except BaseException as e:  # the other ranks must hear of it too
                failure, self._code[0] = e, _FAILED
            # rank 0 knows the decision: it goes on while the others receive it
            self._sending = dist.broadcast(self._code, self._source, self.group, async_op=True)
            if failure is not None or decision.stop:
                self._sending.wait()
            if failure is not None:
                raise failure
            return decision
        dist.broadcast(self._code, self._source, group=self.group)
        return _decode(int(self._code[0]))

    def leaders(self, value: float | None) -> float | None:
        """Rank 0's value on every rank (a validation loss, so every rank keeps the same
        checkpoint as rank 0); `value` itself outside a distributed run."""
        if not self.distributed:
            return value
        if self.leader:
            present = value is not None
            self._value[0], self._value[1] = float(present), float(value) if present else 0.0
        dist.broadcast(self._value, self._source, group=self.group)
        return float(self._value[1]) if self._value[0] else None
