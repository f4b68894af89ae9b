"""Inception Score: closed-form cases and the TGAN formula."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vdmbench.errors import MetricError
from vdmbench.metrics.inception_score import inception_score


def test_uniform_predictions_give_one() -> None:
    mean, std = inception_score(np.full((50, 7), 1 / 7), splits=5)
    assert mean == pytest.approx(1.0, abs=1e-12) and std == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("k", [2, 5, 101])
def test_one_hot_spread_evenly_gives_k(k: int) -> None:
    n = k * 20
    probs = np.eye(k)[np.arange(n) % k]
    mean, std = inception_score(torch.from_numpy(probs), splits=10)
    assert mean == pytest.approx(k, rel=1e-9) and std == pytest.approx(0.0, abs=1e-9)


def test_matches_explicit_formula_and_shuffle() -> None:
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(40, 6)) * 2
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    scores = []
    for part in np.split(p, 4):
        py = part.mean(axis=0)
        kl = [sum(r[j] * (np.log(r[j] + 1e-20) - np.log(py[j] + 1e-20)) for j in range(6))
              for r in part]
        scores.append(np.exp(np.mean(kl)))
    mean, std = inception_score(p, splits=4)
    assert mean == pytest.approx(np.mean(scores), rel=1e-12)
    assert std == pytest.approx(np.std(scores), rel=1e-9)
    # a seeded shuffle changes the split membership but not a one-split score
    assert inception_score(p, splits=1)[0] == pytest.approx(
        inception_score(p, splits=1, shuffle_seed=42)[0], rel=1e-12)
    assert inception_score(p, 4, shuffle_seed=42) == inception_score(p, 4, shuffle_seed=42)
    assert inception_score(p, 4, shuffle_seed=42) != inception_score(p, 4)


def test_errors() -> None:
    with pytest.raises(MetricError, match="cannot be cut"):
        inception_score(np.full((5, 3), 1 / 3), splits=10)
    with pytest.raises(MetricError, match="non-negative"):
        inception_score(np.array([[0.5, 0.5], [2.0, -1.0]]), splits=1)
    with pytest.raises(MetricError, match="row 0 sums to 3"):
        inception_score(np.array([[1.0, 2.0], [0.5, 0.5]]), splits=1)
    with pytest.raises(MetricError, match=r"\(N, K\)"):
        inception_score(np.ones(4), splits=1)
