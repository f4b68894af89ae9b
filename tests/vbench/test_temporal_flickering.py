"""temporal_flickering against hand-computed values (VBench's formula)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from vdmbench.errors import InvalidVideoError, MetricError
from vdmbench.generation import GenerationRequest
from vdmbench.metrics.base import MetricContext, NoOptions
from vdmbench.metrics.vbench.flickering import TemporalFlickering, flickering_score, frame_mae
from vdmbench.video import Video


def _req(i: int) -> GenerationRequest:
    return GenerationRequest(id=f"r{i}", seed=i, frames=4, height=8, width=8, fps=8.0)


def _metric(tmp_path: Path) -> TemporalFlickering:
    return TemporalFlickering(NoOptions(), MetricContext(device="cpu", cache_dir=tmp_path))


def test_static_video_scores_one() -> None:
    frames = torch.randint(0, 256, (1, 8, 8, 3), dtype=torch.uint8).expand(5, -1, -1, -1)
    assert flickering_score(frames.contiguous()) == 1.0


def test_known_difference_exact_value() -> None:
    # frame t is constant 10·t on all pixels → |Δ| = 10 everywhere → score (255-10)/255
    frames = (torch.arange(4, dtype=torch.uint8) * 10).view(4, 1, 1, 1).expand(4, 6, 5, 3)
    assert flickering_score(frames.contiguous()) == pytest.approx(245 / 255, abs=1e-15)


def test_partial_difference_and_direction() -> None:
    # 2x2 frames, 3 frames. pair 0: one pixel (3 channels) changes by 255 → MAE 255·3/12 = 63.75;
    # pair 1: the same pixel goes back down by 255 (absolute) → 63.75. Mean 63.75.
    f = torch.zeros(3, 2, 2, 3, dtype=torch.uint8)
    f[1, 0, 0] = 255
    mae = frame_mae(f)
    assert mae.tolist() == [63.75, 63.75]
    assert flickering_score(f) == pytest.approx((255 - 63.75) / 255, abs=1e-15)


def test_unequal_pairs_are_averaged_per_pair() -> None:
    # pair 0: |Δ|=20 on all values; pair 1: 0 → mean MAE 10
    f = torch.zeros(3, 4, 4, 3, dtype=torch.uint8)
    f[1:] = 20
    assert frame_mae(f).tolist() == [20.0, 0.0]
    assert flickering_score(f) == pytest.approx(245 / 255, abs=1e-15)


def test_metric_means_over_videos_and_names_bad_sample(tmp_path: Path) -> None:
    m = _metric(tmp_path)
    static = torch.full((4, 8, 8, 3), 7, dtype=torch.uint8)
    ramp = (torch.arange(4, dtype=torch.uint8) * 51).view(4, 1, 1, 1).expand(4, 8, 8, 3)
    m.update([Video(static, 8.0)], [_req(0)])
    m.update([Video(ramp.contiguous(), 8.0)], [_req(1)])
    v = m.compute()
    assert v.n == 2
    assert v.value == pytest.approx((1.0 + (255 - 51) / 255) / 2, abs=1e-15)
    assert v.details["min"] == pytest.approx(204 / 255)
    assert m.higher_is_better and m.protocol()["id"] == "temporal_flickering"
    with pytest.raises(MetricError, match="request r9"):
        m.update([Video(static[:1].contiguous(), 8.0)], [_req(9)])
    with pytest.raises(InvalidVideoError, match="request r3"):
        m.update([static.float()], [_req(3)])  # type: ignore[list-item]


def test_empty_metric_raises(tmp_path: Path) -> None:
    with pytest.raises(MetricError):
        _metric(tmp_path).compute()


def test_batch_split_independence(tmp_path: Path) -> None:
    g = torch.Generator().manual_seed(0)
    vids = [Video(torch.randint(0, 256, (5, 6, 7, 3), generator=g, dtype=torch.uint8), 8.0)
            for _ in range(6)]
    reqs = [_req(i) for i in range(6)]
    a, b = _metric(tmp_path), _metric(tmp_path)
    a.update(vids, reqs)
    for i in range(0, 6, 4):
        b.update(vids[i:i + 4], reqs[i:i + 4])
    assert a.compute().value == pytest.approx(b.compute().value, abs=1e-15)
    # independent reference: float64 numpy-style computation
    ref = sum((255 - (v.frames[1:].double() - v.frames[:-1].double()).abs().mean(dim=(1, 2, 3))
               .mean().item()) / 255 for v in vids) / 6
    assert a.compute().value == pytest.approx(ref, abs=1e-12)
