"""Adam, the optimizer of every reference model, with its state as plain arrays."""

import numpy as np

BETA1 = 0.9
BETA2 = 0.999
EPS = 1e-8


class Adam:
    """Adam over named parameter arrays, updated in place."""

    def __init__(
        self,
        params: dict[str, np.ndarray],
        learning_rate: float,
        scales: dict[str, float] | None = None,
        decay: dict[str, float] | None = None,
    ) -> None:
        self.params = params
        self.learning_rate = learning_rate
        self.scales = scales or {}
        self.decay = decay or {}
        self.t = 0
        self.m = {k: np.zeros_like(v) for k, v in params.items()}
        self.v = {k: np.zeros_like(v) for k, v in params.items()}
        # scratch arrays: the update allocates nothing (large temporaries cost page faults)
        self._scratch = {k: (np.empty_like(v), np.empty_like(v)) for k, v in params.items()}

    def update(self, grads: dict[str, np.ndarray]) -> None:
        self.t += 1
        scale = self.learning_rate * np.sqrt(1 - BETA2**self.t) / (1 - BETA1**self.t)
        for key, g in grads.items():
            m, v, param = self.m[key], self.v[key], self.params[key]
            a, b = self._scratch[key]
            if key in self.decay:
                # L2 on the weights: applied after any DP noise, it reads no data.
                np.multiply(param, self.decay[key], out=a)
                a += g
                g = a
            m *= BETA1
            np.multiply(g, 1 - BETA1, out=b)
            m += b
            v *= BETA2
            np.multiply(g, g, out=b)
            b *= 1 - BETA2
            v += b
            # param -= scale * m / (sqrt(v) + EPS)
            np.sqrt(v, out=b)
            b += EPS
            np.divide(m, b, out=b)
            b *= scale * self.scales.get(key, 1.0)
            param -= b

    def state(self) -> dict[str, np.ndarray]:
        arrays = {f"adam_m.{k}": v for k, v in self.m.items()}
        arrays |= {f"adam_v.{k}": v for k, v in self.v.items()}
        arrays["adam_t"] = np.array(self.t, dtype=np.int64)
        return arrays

    def restore(self, arrays: dict[str, np.ndarray]) -> None:
        if "adam_t" not in arrays:
            return
        self.t = int(arrays["adam_t"])
        for k in self.params:
            self.m[k][...] = arrays[f"adam_m.{k}"]
            self.v[k][...] = arrays[f"adam_v.{k}"]
