"""PSNR and SSIM between student and teacher videos."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from metric_test_utils import make_videos, requests_for

from vdmbench.errors import InvalidVideoError, MetricError
from vdmbench.metrics.base import MetricContext
from vdmbench.metrics.fidelity import (
    PSNRMetric,
    PSNROptions,
    SSIMMetric,
    SSIMOptions,
    psnr_video,
    ssim_video,
)
from vdmbench.video import Video


def _noisy(v: torch.Tensor, sigma: float, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (v.float() + torch.randn(v.shape, generator=g) * sigma).round().clamp(0, 255).to(
        torch.uint8)


def naive_ssim(x: np.ndarray, y: np.ndarray) -> float:
    """Wang et al. with an explicit 2-D 11×11 Gaussian window, loop over valid positions."""
    r = np.arange(11) - 5
    g = np.exp(-(r[:, None] ** 2 + r[None, :] ** 2) / (2 * 1.5 ** 2))
    w = g / g.sum()
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    vals = []
    for i in range(x.shape[0] - 10):
        for j in range(x.shape[1] - 10):
            a, b = x[i:i + 11, j:j + 11], y[i:i + 11, j:j + 11]
            ma, mb = (w * a).sum(), (w * b).sum()
            va, vb = (w * (a - ma) ** 2).sum(), (w * (b - mb) ** 2).sum()
            cov = (w * (a - ma) * (b - mb)).sum()
            num = (2 * ma * mb + c1) * (2 * cov + c2)
            vals.append(num / ((ma ** 2 + mb ** 2 + c1) * (va + vb + c2)))
    return float(np.mean(vals))


def test_identical_videos() -> None:
    v = make_videos(1, seed=0, size=16)[0].frames
    assert psnr_video(v, v) == math.inf
    assert ssim_video(v, v) == pytest.approx(1.0, abs=1e-12)
    assert ssim_video(v, v, channels="rgb") == pytest.approx(1.0, abs=1e-12)


def test_psnr_known_value() -> None:
    a = torch.full((2, 4, 4, 3), 100, dtype=torch.uint8)
    b = a.clone()
    b[0] += 10  # MSE = 100 / 2 = 50
    assert psnr_video(a, b) == pytest.approx(10 * math.log10(255 ** 2 / 50), rel=1e-12)


def test_ssim_matches_naive_reference() -> None:
    v = make_videos(1, seed=3, frames=2, size=16)[0].frames
    w = _noisy(v, 12.0)
    luma = np.array([0.299, 0.587, 0.114])
    want = np.mean([naive_ssim(v[t].double().numpy() @ luma, w[t].double().numpy() @ luma)
                    for t in range(2)])
    assert ssim_video(v, w) == pytest.approx(want, rel=1e-10)
    want_rgb = np.mean([naive_ssim(v[t, :, :, c].double().numpy(), w[t, :, :, c].double().numpy())
                        for t in range(2) for c in range(3)])
    assert ssim_video(v, w, channels="rgb") == pytest.approx(want_rgb, rel=1e-10)


def test_noisier_copies_score_monotonically_worse() -> None:
    v = make_videos(1, seed=1, frames=3, size=24)[0].frames
    psnrs = [psnr_video(v, _noisy(v, s)) for s in (2, 5, 10, 20, 40)]
    ssims = [ssim_video(v, _noisy(v, s)) for s in (2, 5, 10, 20, 40)]
    assert all(a > b for a, b in zip(psnrs, psnrs[1:]))
    assert all(a > b for a, b in zip(ssims, ssims[1:]))
    assert ssims[-1] < 0.9


def test_metrics_with_teacher(tmp_path) -> None:
    ctx = MetricContext(device="cpu", cache_dir=tmp_path)
    teacher = make_videos(3, seed=1, size=16)
    student = [teacher[0]] + [Video(_noisy(t.frames, 8.0, i), t.fps) for i, t in
                              enumerate(teacher[1:])]
    reqs = requests_for(teacher)
    m = PSNRMetric(PSNROptions(), ctx)
    m.update(student, reqs, teacher)
    v = m.compute()
    expected = [100.0] + [psnr_video(s.frames, t.frames) for s, t in zip(student[1:], teacher[1:])]
    assert v.value == pytest.approx(np.mean(expected)) and v.n == 3
    assert v.details["n_identical"] == 1 and v.details["n_capped"] == 1
    assert v.ci is not None and v.ci[0] < v.value < v.ci[1]
    assert m.protocol()["id"] == "psnr" and PSNRMetric.needs_teacher
    s = SSIMMetric(SSIMOptions(), ctx)
    s.update(student, reqs, teacher)
    sv = s.compute()
    assert 0 < sv.value < 1 and sv.details["channels"] == "luma"
    assert SSIMMetric.higher_is_better and SSIMMetric.needs_teacher


def test_fidelity_errors(tmp_path) -> None:
    ctx = MetricContext(device="cpu", cache_dir=tmp_path)
    a = make_videos(1, seed=1, size=16)
    b = make_videos(1, seed=2, size=12)
    m = PSNRMetric(PSNROptions(), ctx)
    with pytest.raises(MetricError, match="teacher"):
        m.update(a, requests_for(a), None)
    with pytest.raises(InvalidVideoError, match="request g0"):
        m.update(a, requests_for(a), b)
    with pytest.raises(MetricError, match="no videos"):
        m.compute()
    tiny = [Video(torch.zeros(2, 8, 8, 3, dtype=torch.uint8), 8.0)]
    with pytest.raises(MetricError, match="smaller than the 11"):
        SSIMMetric(SSIMOptions(), ctx).update(tiny, requests_for(tiny), tiny)
