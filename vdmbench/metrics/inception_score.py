"""Inception Score from class probabilities: IS = exp(E_x[KL(p(y|x) ‖ p(y))]).

The samples are cut into ``splits`` consecutive parts (after an optional seeded shuffle), p(y) is
the mean prediction of each part, and the result is the mean and the (population) standard
deviation of the per-part scores. Where the epsilon goes differs between peers:

- ``eps_mode="in_log"`` (default; the synthetic metrics): ``p·(log(p + eps) − log(p(y) + eps))``.
- ``eps_mode="added"`` (TGANv2 ``tgan2/evaluations/inception_score.py``): ``p ← p + eps`` first,
  then ``p·(log p − log mean p)``.
- ``eps=0`` (StyleGAN-V ``isv2048_ucf``): no epsilon; an exact zero probability, where the peer
  gets NaN, is a :class:`MetricError` here.

Shuffles: StyleGAN-V's ``isv2048_ucf`` shuffles the rows with ``numpy.random.RandomState(42)``
before cutting its splits; TGANv2 does not shuffle (it scores each draw whole); torch-fidelity's
``isc_features_to_metric`` shuffles with ``numpy.random.RandomState(2020)`` by default (and takes
logits, not probabilities). ``dtype="float32"`` does every step in float32, as StyleGAN-V does
(its feature store keeps float32 probabilities and numpy keeps that dtype to the end).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch

from vdmbench.errors import MetricError

EPS = 1e-20


def inception_score(probs: np.ndarray | torch.Tensor, splits: int = 10,
                    shuffle_seed: int | None = None, eps: float = EPS,
                    eps_mode: Literal["in_log", "added"] = "in_log",
                    dtype: Literal["float64", "float32"] = "float64") -> tuple[float, float]:
    """``probs``: ``(N, K)`` class probabilities (rows sum to 1) → ``(mean, std)`` over splits.

    Part ``i`` holds rows ``[i·N//splits, (i+1)·N//splits)`` of the (optionally shuffled with
    ``numpy.random.RandomState(shuffle_seed)``: the row order its ``shuffle`` of the rows gives)
    rows. ``dtype``: the probabilities are cast to it and every step (logs, means, the mean and
    std over splits) stays in it. Raises :class:`MetricError` when ``N < splits``, on non-finite
    or negative values, rows that do not sum to 1 (±1e-3), or a zero probability with ``eps=0``.
    """
    np_dtype = np.dtype(dtype)
    if isinstance(probs, torch.Tensor):
        probs = probs.detach().to("cpu", torch.float64).numpy()
    p = np.asarray(probs, dtype=np_dtype)
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
    if eps == 0 and (p == 0).any():
        row = int(np.argwhere((p == 0).any(axis=1))[0, 0])
        raise MetricError(f"inception_score: row {row} has a probability of exactly 0 (in "
                          f"{dtype}); this protocol takes the logarithm without an epsilon (its "
                          f"peer gives NaN)")
    if shuffle_seed is not None:
        p = p[np.random.RandomState(shuffle_seed).permutation(n)]
    scores: list[np.floating] = []
    for i in range(splits):
        part = p[i * n // splits:(i + 1) * n // splits]
        if eps_mode == "added":
            part = part + eps
            kl = (part * (np.log(part) - np.log(part.mean(axis=0, keepdims=True)))).sum(axis=1)
        else:
            py = part.mean(axis=0, keepdims=True)
            kl = (part * (np.log(part + eps) - np.log(py + eps))).sum(axis=1)
        scores.append(np.exp(kl.mean()))
    per_split = np.asarray(scores, dtype=np_dtype)
    return float(np.mean(per_split)), float(np.std(per_split))
