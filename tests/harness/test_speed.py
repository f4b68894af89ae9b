import time

from vdmbench.speed import count_flops, count_parameters, measure


def test_valid_when_minimums_met():
    t = measure(lambda: None, warmup=1, iters=5, min_seconds=0.0)
    assert t.valid and t.count >= 5 and t.reason == "ok"


def test_invalid_when_iterations_fall_short():
    t = measure(lambda: time.sleep(0.01), warmup=0, iters=50, max_iters=3)
    assert not t.valid and t.count == 3 and "3 of 50" in t.reason


def test_invalid_when_duration_falls_short():
    t = measure(lambda: None, warmup=0, iters=2, min_seconds=5.0, max_seconds=0.05)
    assert not t.valid and "min_seconds" in t.reason


def test_slower_function_measured_slower():
    """Bounds that load cannot break: a sleep never returns early, so every timing of the
    20 ms sleep is at least 20 ms; the fastest of five 2 ms sleeps stays below that."""
    fast = measure(lambda: time.sleep(0.002), warmup=1, iters=5)
    slow = measure(lambda: time.sleep(0.02), warmup=1, iters=5)
    assert slow.min_s >= 0.02 and fast.min_s >= 0.002
    assert fast.min_s < slow.min_s
    assert slow.min_s <= slow.median_s <= slow.p90_s


def test_flops_and_params():
    import torch

    lin = torch.nn.Linear(8, 4, bias=False)
    assert count_parameters(lin) == 32
    x = torch.randn(3, 8)
    info = count_flops(lambda: lin(x))
    assert info["flops"] == 2 * 3 * 8 * 4 and "2 FLOPs" in info["convention"]
