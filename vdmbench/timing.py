"""Timing several models against each other: interleaved rounds and per-round ratios.

Two timings taken minutes apart on a shared machine do not give a speed-up: the load changes in
between. :func:`time_interleaved` times all models of a suite in one process, in alternating
rounds (A, B, C, A, B, C, …; in each round every component of every model and its whole video, a
few calls each), with the number of torch threads fixed, and reports

- per model and component, the median / p90 / min over all timed calls (as
  :func:`vdmbench.speed.measure` does, with the same validity rule over the whole session);
- per model, its speed-up against the reference model for the whole video and for one denoiser
  step: the median of the per-round ratios ``reference round median / model round median`` and a
  95% distribution-free interval for that median from order statistics (the interval
  ``[r_(k), r_(n+1-k)]`` of the sorted ratios with the largest ``k`` whose binomial coverage
  ``1 − 2·P(Binomial(n, ½) ≤ k − 1)`` is ≥ 95%; it needs at least 6 rounds). A ratio whose interval
  reaches beyond ``median × (1 ± noise_threshold)`` is *noisy*.

A load change hits every model of a round alike, so it cancels in the per-round ratio; a round
that straddles a change gives an outlying ratio, which the median ignores and the interval shows.

:func:`time_sequential` is the former method (each model timed to its minimums, one after the
other; speed-up = ratio of medians), kept for comparison benchmarks.
"""

from __future__ import annotations

import contextlib
import math
import os
import secrets
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import torch

from vdmbench.speed import Timing, measure, time_call

TIMING_METHOD_VERSION = 2  # 1: sequential (one model after the other); 2: interleaved rounds
WHOLE = "video"  # the key of the whole-video callable in TimedModel.components
RATIO_PARTS = {"per_video": WHOLE, "denoise": "denoise"}  # speed-up name -> component timed


@dataclass(frozen=True)
class TimedModel:
    """A model as timing sees it: named zero-argument callables (``"video"``: one whole video at
    batch 1; others: its components such as ``"encode"``, ``"denoise"``, ``"decode"``)."""

    name: str
    components: dict[str, Callable[[], object]]


@dataclass(frozen=True)
class RatioSummary:
    """A speed-up (reference time / model time, > 1 = faster) from ``n`` per-round ratios."""

    median: float
    lo: float
    hi: float
    coverage: float
    n: int
    noisy: bool
    noise_threshold: float
    per_round: list[float]

    def to_dict(self) -> dict[str, Any]:
        return {"median": self.median, "ci95": [self.lo, self.hi], "coverage": self.coverage,
                "n_rounds": self.n, "noisy": self.noisy, "noise_threshold": self.noise_threshold,
                "interval": "order statistics of the per-round ratios (binomial, "
                            "distribution-free)",
                "per_round": self.per_round}


def order_statistic_interval(n: int, level: float = 0.95) -> tuple[int, float]:
    """The largest ``k`` (1-based) such that ``[x_(k), x_(n+1-k)]`` covers the median of the
    sampled distribution with probability ≥ ``level``, and that probability.

    Raises ``ValueError`` when even ``[x_(1), x_(n)]`` falls short (n < 6 for 95%)."""
    best: tuple[int, float] | None = None
    for k in range(1, n // 2 + 1):
        tail = sum(math.comb(n, i) for i in range(k)) / 2.0**n  # P(Binomial(n, ½) ≤ k − 1)
        coverage = 1.0 - 2.0 * tail
        if coverage >= level:
            best = (k, coverage)
        else:
            break
    if best is None:
        raise ValueError(f"{n} rounds cannot give a {level:.0%} interval for a median "
                         f"(at least 6 are needed for 95%)")
    return best


def summarize_ratios(ratios: Sequence[float], noise_threshold: float,
                     level: float = 0.95) -> RatioSummary:
    """Median of ``ratios`` with its order-statistics interval; noisy if the interval reaches
    beyond ``median × (1 ± noise_threshold)``."""
    s = sorted(ratios)
    k, coverage = order_statistic_interval(len(s), level)
    med = statistics.median(s)
    lo, hi = s[k - 1], s[len(s) - k]
    noisy = lo < med * (1.0 - noise_threshold) or hi > med * (1.0 + noise_threshold)
    return RatioSummary(median=med, lo=lo, hi=hi, coverage=coverage, n=len(s), noisy=noisy,
                        noise_threshold=noise_threshold, per_round=list(ratios))


def load_average() -> list[float] | None:
    """The machine's 1, 5 and 15-minute load averages (None where the OS does not say)."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except (AttributeError, OSError):
        return None


@contextlib.contextmanager
def torch_threads(threads: int | None) -> Iterator[int]:
    """Fix the number of torch intra-op threads (None: keep the current one); yields it and
    restores the previous value on exit."""
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield torch.get_num_threads()
    finally:
        torch.set_num_threads(before)


def new_session_id() -> str:
    """An id for one timing session: UTC time and 6 random hex digits."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return f"t-{stamp}-{secrets.token_hex(3)}"


def time_interleaved(models: Sequence[TimedModel], *, reference: str, rounds: int = 10,
                     warmup: int = 1, iterations: int = 5, min_seconds: float = 0.0,
                     device: str = "cpu", threads: int | None = None,
                     noise_threshold: float = 0.10, max_seconds: float | None = None,
                     on_round: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Time ``models`` in ``rounds`` alternating rounds (see the module docstring).

    Each model gets ``warmup`` untimed calls of every callable first. In every round each
    callable is called until it has ``ceil(iterations / rounds)`` calls and
    ``min_seconds / rounds`` seconds, or until ``max_seconds / rounds`` have passed (default
    ``max_seconds``: 10 × min_seconds + 60 s); a model's calls are valid when they meet
    ``iterations`` and ``min_seconds`` in total over all rounds. ``on_round(done, rounds)`` is
    called after each round. Returns ``{"session": {...}, "models": {name: speed dict}}`` where a
    speed dict has ``components`` and ``per_video`` (:class:`Timing` dicts plus
    ``round_medians_s``) and ``speedup`` (``per_video`` / ``denoise``:
    :meth:`RatioSummary.to_dict` plus ``valid``: both timings met their minimums).
    """
    names = [m.name for m in models]
    if reference not in names:
        raise ValueError(f"reference model {reference!r} is not among the timed models {names}")
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate model names: {names}")
    order_statistic_interval(rounds)  # fail before timing anything
    cuda = device.startswith("cuda") and torch.cuda.is_available()
    per_round_calls = max(1, math.ceil(iterations / rounds))
    per_round_seconds = min_seconds / rounds
    cap_seconds = (max_seconds if max_seconds is not None
                   else 10.0 * min_seconds + 60.0) / rounds
    times: dict[str, dict[str, list[float]]] = {m.name: {c: [] for c in m.components}
                                                for m in models}
    medians: dict[str, dict[str, list[float]]] = {m.name: {c: [] for c in m.components}
                                                  for m in models}
    peaks: dict[str, int | None] = dict.fromkeys(names)
    session_id = new_session_id()
    load_start = load_average()
    started = time.time()
    with torch_threads(threads) as n_threads, torch.inference_mode():
        for m in models:
            for fn in m.components.values():
                for _ in range(warmup):
                    fn()
        if cuda:
            torch.cuda.synchronize(device)
        for r in range(rounds):
            for m in models:
                if cuda:
                    torch.cuda.reset_peak_memory_stats(device)
                for c, fn in m.components.items():
                    calls: list[float] = []
                    t_start = time.perf_counter()
                    while len(calls) < per_round_calls or sum(calls) < per_round_seconds:
                        calls.append(time_call(fn, cuda))
                        if time.perf_counter() - t_start >= cap_seconds:
                            break
                    times[m.name][c] += calls
                    medians[m.name][c].append(statistics.median(calls))
                if cuda:
                    peak = int(torch.cuda.max_memory_allocated(device))
                    peaks[m.name] = max(peaks[m.name] or 0, peak)
            if on_round is not None:
                on_round(r + 1, rounds)
    load_end = load_average()
    session = {"id": session_id, "method": "interleaved", "method_version": TIMING_METHOD_VERSION,
               "rounds": rounds, "order": names, "reference": reference, "threads": n_threads,
               "calls_per_round": per_round_calls, "seconds_per_round": per_round_seconds,
               "load_average": {"start": load_start, "end": load_end},
               "started": datetime.fromtimestamp(started, timezone.utc).isoformat(
                   timespec="seconds"), "wall_s": round(time.time() - started, 3)}
    timings = {m.name: {c: {**Timing.of(times[m.name][c], warmup=warmup, iterations=iterations,
                                         min_seconds=min_seconds, device=device,
                                         peak_memory_bytes=peaks[m.name]).to_dict(),
                            "round_medians_s": medians[m.name][c]}
                        for c in m.components} for m in models}
    out: dict[str, Any] = {}
    for m in models:
        speedup: dict[str, Any] = {"reference": reference}
        for part, comp in RATIO_PARTS.items():
            if comp in medians[m.name] and comp in medians[reference]:
                ratios = [a / b if b > 0 else math.inf
                          for a, b in zip(medians[reference][comp], medians[m.name][comp])]
                speedup[part] = {**summarize_ratios(ratios, noise_threshold).to_dict(),
                                 "valid": bool(timings[m.name][comp]["valid"]
                                               and timings[reference][comp]["valid"])}
        mine = dict(timings[m.name])
        out[m.name] = {"per_video": mine.pop(WHOLE, None), "components": mine,
                       "speedup": speedup}
    return {"session": session, "models": out}


def time_sequential(models: Sequence[TimedModel], *, reference: str, warmup: int = 1,
                    iterations: int = 5, min_seconds: float = 0.0, device: str = "cpu",
                    threads: int | None = None) -> dict[str, Any]:
    """The former method: each model's callables timed to their minimums with
    :func:`~vdmbench.speed.measure`, one model after the other; the speed-up is the ratio of the
    two medians (no interval). Same return shape as :func:`time_interleaved`, with a bare number
    per speed-up."""
    load_start = load_average()
    out: dict[str, Any] = {}
    with torch_threads(threads) as n_threads:
        for m in models:
            timings = {c: measure(fn, warmup=warmup, iters=iterations, min_seconds=min_seconds,
                                  device=device).to_dict() for c, fn in m.components.items()}
            out[m.name] = {"per_video": timings.pop(WHOLE, None), "components": timings}
    for m in models:
        mine, ref = out[m.name], out[reference]
        out[m.name]["speedup"] = {
            "reference": reference,
            "per_video": ref["per_video"]["median_s"] / mine["per_video"]["median_s"]
            if mine["per_video"] and ref["per_video"] else None,
            "denoise": ref["components"]["denoise"]["median_s"]
            / mine["components"]["denoise"]["median_s"]
            if "denoise" in mine["components"] and "denoise" in ref["components"] else None}
    session = {"method": "sequential", "method_version": 1, "threads": n_threads,
               "reference": reference, "order": [m.name for m in models],
               "load_average": {"start": load_start, "end": load_average()}}
    return {"session": session, "models": out}
