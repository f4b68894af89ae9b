"""Interleaved timing: per-round ratios, their interval, and robustness to a changing load."""

from __future__ import annotations

import math
import time

import pytest
from slowdown_utils import Slowdown

from vdmbench.timing import (
    TimedModel,
    order_statistic_interval,
    summarize_ratios,
    time_interleaved,
    time_sequential,
)


def _noop() -> None:
    return None


def test_order_statistic_interval_coverage() -> None:
    # n = 10: [x(2), x(9)] covers the median with 1 - 2 * 11/1024 = 97.85%
    k, cov = order_statistic_interval(10)
    assert k == 2 and math.isclose(cov, 1 - 2 * 11 / 1024)
    assert order_statistic_interval(6) == (1, 1 - 2 / 64)
    k, cov = order_statistic_interval(20)  # [x(6), x(15)]: 1 - 2 * P(B(20, .5) <= 5) = 95.86%
    assert k == 6 and cov >= 0.95
    with pytest.raises(ValueError, match="at least 6"):
        order_statistic_interval(5)


def test_summary_flags_a_wide_interval() -> None:
    tight = summarize_ratios([2.0, 2.02, 1.98, 2.01, 1.99, 2.0, 2.03, 1.97, 2.0, 2.01], 0.10)
    assert tight.median == 2.0 and not tight.noisy
    assert tight.lo == 1.98 and tight.hi == 2.02  # 2nd smallest and 2nd largest of 10
    wide = summarize_ratios([2.0, 2.6, 1.5, 2.0, 2.4, 1.7, 2.0, 2.2, 1.9, 2.1], 0.10)
    assert wide.noisy and wide.lo == 1.7 and wide.hi == 2.4


def test_interleaving_cancels_a_load_that_changes_with_time() -> None:
    """The same callable under two names while the load changes (×4 for 2 s, ×1 for 2 s):
    timed one after the other (the former method) the second looks ~4× faster; timed in
    interleaved rounds the speed-up is ≈ 1 (or flagged noisy) — never a confident 2×."""
    slow = Slowdown(unit_s=0.005, slow_factor=4.0, slow_s=2.0, fast_s=2.0)

    def models() -> list[TimedModel]:
        return [TimedModel(n, {"video": slow.wrap(_noop), "denoise": slow.wrap(_noop)})
                for n in ("a", "a-again")]

    slow.restart()  # "a" is timed in the slow phase, "a-again" mostly in the fast one
    seq = time_sequential(models()[:1] + models()[1:], reference="a", warmup=0, iterations=1,
                          min_seconds=0.75)
    ratio_seq = seq["models"]["a-again"]["speedup"]["per_video"]
    assert ratio_seq > 2.0, f"sequential timing should be fooled by the load change: {ratio_seq}"

    slow.restart()
    rounds = 16  # 2 callables × 2 models × 0.05 s per round: 16 rounds span ~3.2 s
    res = time_interleaved(models(), reference="a", rounds=rounds, warmup=0, iterations=rounds,
                           min_seconds=0.05 * rounds, noise_threshold=0.10)
    for part in ("per_video", "denoise"):
        s = res["models"]["a-again"]["speedup"][part]
        assert abs(s["median"] - 1.0) <= 0.15 or s["noisy"], s
        assert s["median"] < 2.0 and s["n_rounds"] == rounds
    factors = res["models"]["a"]["per_video"]["round_medians_s"]
    assert max(factors) > 2.5 * min(factors), "the rounds should have seen both phases"
    assert res["session"]["method"] == "interleaved" and res["session"]["threads"] >= 1
    assert res["models"]["a"]["speedup"]["per_video"]["ci95"] == [1.0, 1.0]


def test_interleaved_timing_keeps_the_validity_rule() -> None:
    res = time_interleaved([TimedModel("x", {"video": _noop})], reference="x", rounds=6,
                           warmup=0, iterations=12, min_seconds=0.0)
    pv = res["models"]["x"]["per_video"]
    assert pv["valid"] and pv["count"] >= 12 and len(pv["round_medians_s"]) == 6
    res = time_interleaved([TimedModel("x", {"video": lambda: time.sleep(0.002)})],
                           reference="x", rounds=6, warmup=0, iterations=600, max_seconds=0.06)
    pv = res["models"]["x"]["per_video"]
    assert not pv["valid"] and "of 600 iterations" in pv["reason"]
    assert not res["models"]["x"]["speedup"]["per_video"]["valid"]
