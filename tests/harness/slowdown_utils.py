"""A test-only load that changes with wall-clock phase, made deterministic.

Real load is hard to reproduce on demand, so the tests slow the timed callables instead: after
each call, :class:`Slowdown` sleeps ``unit_s × factor`` seconds, where ``factor`` is
``slow_factor`` during the first ``slow_s`` seconds of every ``slow_s + fast_s`` period counted
from ``t0`` and 1 otherwise. Sleeping costs no CPU, so the tests stay light on a shared machine.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Slowdown:
    unit_s: float = 0.005
    slow_factor: float = 4.0
    slow_s: float = 2.0
    fast_s: float = 2.0
    t0: float = field(default_factory=time.perf_counter)

    def factor(self) -> float:
        phase = (time.perf_counter() - self.t0) % (self.slow_s + self.fast_s)
        return self.slow_factor if phase < self.slow_s else 1.0

    def restart(self) -> None:
        """Start a slow phase now."""
        self.t0 = time.perf_counter()

    def wrap(self, fn: Callable[[], object]) -> Callable[[], object]:
        def slowed() -> object:
            out = fn()
            time.sleep(self.unit_s * self.factor())
            return out

        return slowed
