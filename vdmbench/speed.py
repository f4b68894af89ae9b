"""Speed measurement, kept apart from the thing measured (as MLPerf's load generator does).

:func:`measure` runs ``fn`` for a warm-up, then times at least ``iters`` calls and at least
``min_seconds`` in total (up to ``max_iters``), with CUDA events on a GPU and
``time.perf_counter`` on CPU. It reports the median, p90 and minimum in seconds, and ``valid`` is
false — with the reason — whenever a minimum was not met. An invalid timing is never shown as valid.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import torch


@dataclass(frozen=True)
class Timing:
    """Seconds per call: ``median_s``, ``p90_s``, ``min_s`` over ``count`` timed calls lasting
    ``total_s``; ``warmup`` untimed calls before; ``valid`` iff ``count >= min_iters`` and
    ``total_s >= min_seconds``; ``peak_memory_bytes`` on CUDA (None on CPU)."""

    median_s: float
    p90_s: float
    min_s: float
    count: int
    total_s: float
    warmup: int
    min_iters: int
    min_seconds: float
    valid: bool
    reason: str
    device: str
    peak_memory_bytes: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def of(cls, times: list[float], *, warmup: int, iterations: int, min_seconds: float,
           device: str, peak_memory_bytes: int | None = None) -> Timing:
        """The timing of calls that took ``times`` seconds, with the one validity rule: at
        least ``iterations`` calls lasting at least ``min_seconds`` in all."""
        total = sum(times)
        reasons = []
        if len(times) < iterations:
            reasons.append(f"only {len(times)} of {iterations} iterations")
        if total < min_seconds:
            reasons.append(f"timed {total:.3f}s < min_seconds {min_seconds}")
        return cls(median_s=statistics.median(times), p90_s=percentile(times, 90),
                   min_s=min(times), count=len(times), total_s=total, warmup=warmup,
                   min_iters=iterations, min_seconds=min_seconds, valid=not reasons,
                   reason="; ".join(reasons) or "ok", device=device,
                   peak_memory_bytes=peak_memory_bytes)


def time_call(fn: Callable[[], object], cuda: bool) -> float:
    """Seconds taken by one call of ``fn``: CUDA events on a GPU, ``perf_counter`` on CPU."""
    if cuda:
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        return float(start.elapsed_time(end)) / 1000.0
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def percentile(values: list[float], q: float) -> float:
    """Linear-interpolated percentile, ``q`` in [0, 100]."""
    s = sorted(values)
    if len(s) == 1:
        return s[0]
    pos = (len(s) - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def measure(fn: Callable[[], object], warmup: int = 1, iters: int = 5, min_seconds: float = 0.0,
            device: str = "cpu", max_iters: int | None = None,
            max_seconds: float | None = None) -> Timing:
    """Time ``fn()``; see the module docstring.

    ``iters``: minimum timed calls; ``min_seconds``: minimum total timed duration; calls continue
    until both are met or ``max_iters`` / ``max_seconds`` (defaults: no limit on calls,
    10 × min_seconds + 60 s of wall time) stop them, in which case the timing is marked invalid.
    """
    if iters < 1:
        raise ValueError("iters must be >= 1")
    max_iters = max_iters if max_iters is not None else 10**9
    max_seconds = max_seconds if max_seconds is not None else 10 * min_seconds + 60.0
    cuda = device.startswith("cuda") and torch.cuda.is_available()
    with torch.inference_mode():
        for _ in range(warmup):
            fn()
        if cuda:
            torch.cuda.synchronize(device)
            torch.cuda.reset_peak_memory_stats(device)
        times: list[float] = []
        wall_start = time.perf_counter()
        while True:
            times.append(time_call(fn, cuda))
            total = sum(times)
            if len(times) >= iters and total >= min_seconds:
                break
            if len(times) >= max_iters or time.perf_counter() - wall_start >= max_seconds:
                break
    peak = int(torch.cuda.max_memory_allocated(device)) if cuda else None
    return Timing.of(times, warmup=warmup, iterations=iters, min_seconds=min_seconds,
                     device=device, peak_memory_bytes=peak)


def count_parameters(module: torch.nn.Module) -> int:
    """Number of parameters (elements) of a module."""
    return int(sum(p.numel() for p in module.parameters()))


def count_flops(fn: Callable[[], object]) -> dict[str, Any]:
    """FLOPs of one call of ``fn`` via ``torch.utils.flop_counter`` (2 FLOPs per multiply-add)."""
    from torch.utils.flop_counter import FlopCounterMode

    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        fn()
    return {"flops": int(counter.get_total_flops()),
            "convention": "torch.utils.flop_counter: 2 FLOPs per multiply-accumulate"}
