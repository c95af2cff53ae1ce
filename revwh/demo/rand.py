"""Fast scalar random draws from one numpy Generator (buffered; deterministic)."""

from __future__ import annotations

import math
from bisect import bisect_right
from itertools import accumulate

import numpy as np

_BLOCK = 1 << 15


class Rand:
    """Scalar draws served from blocks of a numpy Generator (numpy per-call overhead is ~1 µs).

    The same seed gives the same sequence; array draws go through ``.gen`` directly.
    """

    def __init__(self, gen: np.random.Generator):
        self.gen = gen
        self._u: list[float] = []
        self._z: list[float] = []

    def random(self) -> float:
        if not self._u:
            self._u = self.gen.random(_BLOCK).tolist()
        return self._u.pop()

    def std_normal(self) -> float:
        if not self._z:
            self._z = self.gen.standard_normal(_BLOCK).tolist()
        return self._z.pop()

    def integers(self, lo: int, hi: int | None = None) -> int:
        if hi is None:
            lo, hi = 0, lo
        return lo + int(self.random() * (hi - lo))

    def uniform(self, a: float, b: float) -> float:
        return a + (b - a) * self.random()

    def normal(self, mu: float = 0.0, sd: float = 1.0) -> float:
        return mu + sd * self.std_normal()

    def lognormal(self, mu: float = 0.0, sigma: float = 1.0) -> float:
        return math.exp(mu + sigma * self.std_normal())

    def exponential(self, scale: float = 1.0) -> float:
        return -scale * math.log(1.0 - self.random())

    def choice(self, n: int, p=None) -> int:
        if p is None:
            return self.integers(n)
        cum = list(accumulate(p))
        return min(n - 1, bisect_right(cum, self.random() * cum[-1]))

    def pick(self, seq):
        return seq[int(self.random() * len(seq))]

    def poisson(self, lam: float) -> int:
        if lam <= 0:
            return 0
        if lam > 30:
            return max(0, round(self.normal(lam, math.sqrt(lam))))
        l_, k, p = math.exp(-lam), 0, 1.0
        while True:
            p *= self.random()
            if p <= l_:
                return k
            k += 1
