"""PyTorch and Lightning as runners (extra `ffwd[torch]`, ADR 0015).

`ControlledLoop` turns a plain training loop into a runner; `calibrated_noise` chooses the noise
multiplier a budget needs; `OpacusBudget` feeds an Opacus accountant's epsilon to the
privacy-budget policy; `ffwd.adapters.engines.torch.lightning` has the
Lightning callback. Importing this package imports torch: the core never does.
"""

from ffwd.adapters.engines.torch.loop import ControlledLoop, TorchCheckpoints
from ffwd.adapters.engines.torch.privacy import OpacusBudget, calibrated_noise

__all__ = ["ControlledLoop", "OpacusBudget", "TorchCheckpoints", "calibrated_noise"]
