"""Inception Score from class probabilities: IS = exp(E_x[KL(p(y|x) ‖ p(y))]).

Follows the TGAN / TGANv2 UCF101 protocol: logarithms taken of ``p + 1e-20``; the samples are cut
into ``splits`` consecutive parts (after an optional seeded shuffle, StyleGAN-V uses seed 42),
p(y) is the mean prediction of each part, and the result is the mean and the (population) standard
deviation of the per-part scores.
"""

from __future__ import annotations

import numpy as np
import torch

from vdmbench.errors import MetricError

EPS = 1e-20


def inception_score(probs: np.ndarray | torch.Tensor, splits: int = 10,
                    shuffle_seed: int | None = None, eps: float = EPS) -> tuple[float, float]:
    """``probs``: ``(N, K)`` class probabilities (rows sum to 1) → ``(mean, std)`` over splits.

    Part ``i`` holds rows ``[i·N//splits, (i+1)·N//splits)``. Raises :class:`MetricError` when
    ``N < splits``, on non-finite or negative values, or rows that do not sum to 1 (±1e-3).
    """
    if isinstance(probs, torch.Tensor):
        probs = probs.detach().to("cpu", torch.float64).numpy()
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2:
        raise MetricError(f"inception_score: expected (N, K) probabilities, got shape {p.shape}")
    if splits < 1:
        raise MetricError(f"inception_score: splits must be >= 1, got {splits}")
    n = p.shape[0]
    if n < splits:
        raise MetricError(f"inception_score: {n} samples cannot be cut into {splits} splits")
    if not np.isfinite(p).all() or (p < 0).any():
        raise MetricError("inception_score: probabilities must be finite and non-negative")
    row_sums = p.sum(axis=1)
    if np.abs(row_sums - 1.0).max() > 1e-3:
        bad = int(np.argmax(np.abs(row_sums - 1.0)))
        raise MetricError(f"inception_score: row {bad} sums to {row_sums[bad]:.6f}, not 1 "
                          f"(pass softmax probabilities, not logits)")
    if shuffle_seed is not None:
        p = p[np.random.RandomState(shuffle_seed).permutation(n)]
    scores = []
    for i in range(splits):
        part = p[i * n // splits:(i + 1) * n // splits]
        py = part.mean(axis=0, keepdims=True)
        kl = (part * (np.log(part + eps) - np.log(py + eps))).sum(axis=1).mean()
        scores.append(float(np.exp(kl)))
    return float(np.mean(scores)), float(np.std(scores))
