"""The generic FeatureFrechetMetric / FeatureInceptionScoreMetric with a tiny extractor."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pytest
import torch
from metric_test_utils import ListDataset, StatsExtractor, make_videos, requests_for

from vdmbench.errors import InvalidVideoError, MetricError
from vdmbench.metrics.base import MetricContext
from vdmbench.metrics.extractor import VideoFeatureExtractor
from vdmbench.metrics.feature_metrics import (
    FeatureFrechetMetric,
    FeatureInceptionScoreMetric,
    FeatureISOptions,
    FeatureMetricOptions,
)
from vdmbench.metrics.frechet import FeatureStats, frechet_distance_from_stats


class TinyFVD(FeatureFrechetMetric):
    name: ClassVar[str] = "tiny_fvd"
    version: ClassVar[str] = "1"
    built = 0

    def build_extractor(self) -> VideoFeatureExtractor:
        TinyFVD.built += 1
        return StatsExtractor()


def _run(ref, gen, tmp_path, batch_size=4, progress=False):
    ctx = MetricContext(device="cpu", cache_dir=tmp_path, dataset=ListDataset(ref),
                        progress=progress)
    m = TinyFVD(FeatureMetricOptions(batch_size=batch_size), ctx)
    m.prepare()
    for s in range(0, len(gen), 5):
        m.update(gen[s:s + 5], requests_for(gen[s:s + 5], prefix=f"b{s}_"))
    return m, m.compute()


def test_fvd_separates_good_from_broken(tmp_path) -> None:
    ref = make_videos(40, seed=1)
    same = make_videos(40, seed=2)
    shifted = make_videos(40, seed=3, shift=0.3)
    static = make_videos(40, seed=4, speed=0)
    _, v_same = _run(ref, same, tmp_path)
    _, v_shift = _run(ref, shifted, tmp_path)
    _, v_static = _run(ref, static, tmp_path)
    assert v_same.n == 40 and v_same.details["n_ref"] == 40
    assert v_same.details["feature_dim"] == 12
    assert v_same.value < 0.2 * v_shift.value
    assert v_same.value < 0.2 * v_static.value
    assert v_same.value >= -1e-9


def test_value_equals_direct_computation_and_batch_independent(tmp_path) -> None:
    ref, gen = make_videos(12, seed=5), make_videos(9, seed=6, shift=0.1)
    ex = StatsExtractor()
    direct = frechet_distance_from_stats(
        FeatureStats().update(ex.features(torch.stack([v.frames for v in gen]))),
        FeatureStats().update(ex.features(torch.stack([v.frames for v in ref]))))
    for bs in (1, 3, 16):
        _, val = _run(ref, gen, tmp_path / f"bs{bs}", batch_size=bs)
        assert val.value == pytest.approx(direct, rel=1e-6, abs=1e-10)


def test_reference_cache_is_content_keyed(tmp_path) -> None:
    ref, gen = make_videos(10, seed=7), make_videos(10, seed=8)
    m1, v1 = _run(ref, gen, tmp_path)
    assert v1.details["reference_cached"] is False
    files = list((tmp_path / "reference_stats").glob("*.npz"))
    assert len(files) == 1 and files[0].stem == v1.details["reference_cache_key"]
    # same content again → cache hit, the dataset is not read
    ds = ListDataset(ref)
    m2 = TinyFVD(FeatureMetricOptions(batch_size=4),
                 MetricContext(device="cpu", cache_dir=tmp_path, dataset=ds))
    m2.update(gen, requests_for(gen))
    v2 = m2.compute()
    assert ds.batches_served == 0 and v2.details["reference_cached"] is True
    assert v2.value == pytest.approx(v1.value, rel=1e-6, abs=1e-10)
    assert v2.details["n_ref"] == 10
    # different reference content (same dataset name) → different key, recomputed
    _, v3 = _run(make_videos(10, seed=9), gen, tmp_path)
    assert v3.details["reference_cached"] is False
    assert v3.details["reference_cache_key"] != v1.details["reference_cache_key"]
    assert len(list((tmp_path / "reference_stats").glob("*.npz"))) == 2
    # batch_size does not enter the key
    _, v4 = _run(ref, gen, tmp_path, batch_size=7)
    assert v4.details["reference_cached"] is True


def test_errors(tmp_path) -> None:
    gen = make_videos(3, seed=1)
    m = TinyFVD(FeatureMetricOptions(), MetricContext(device="cpu", cache_dir=tmp_path))
    with pytest.raises(MetricError, match="needs reference videos"):
        m.prepare()
    m.update(gen[:1], requests_for(gen[:1]))
    with pytest.raises(MetricError, match="at least 2 generated"):
        m.compute()
    with pytest.raises(MetricError, match="2 videos for 3 requests"):
        m.update(gen[:2], requests_for(gen))
    # fewer than two reference videos
    m2 = TinyFVD(FeatureMetricOptions(), MetricContext(device="cpu", cache_dir=tmp_path,
                                                       dataset=ListDataset(gen[:1])))
    with pytest.raises(MetricError, match="1 usable reference"):
        m2.prepare()


def test_mixed_shapes_are_grouped_and_bad_videos_named(tmp_path) -> None:
    ref = make_videos(6, seed=1) + make_videos(6, seed=2, size=12)
    m, val = _run(ref, make_videos(4, seed=3) + make_videos(4, seed=4, frames=5), tmp_path)
    assert val.n == 8 and val.details["n_ref"] == 12
    from vdmbench.video import stack_videos

    with pytest.raises(InvalidVideoError, match="req_b"):
        stack_videos([torch.zeros(2, 4, 4, 3, dtype=torch.uint8),
                      torch.zeros(2, 4, 4, 3)], names=["req_a", "req_b"])


def test_protocol_leaves_out_paths_and_batch_size(tmp_path) -> None:
    m = TinyFVD(FeatureMetricOptions(batch_size=3),
                MetricContext(device="cpu", cache_dir=tmp_path))
    p = m.protocol()
    assert p["id"] == "tiny_fvd" and p["version"] == "1"
    assert "batch_size" not in p["options"]
    assert p["extractor"] == {"name": "test_stats_extractor", "weights_sha256": "0" * 64}


def test_progress_bar_path_gives_the_same_numbers(tmp_path) -> None:
    ref, gen = make_videos(6, seed=1), make_videos(6, seed=2)
    _, shown = _run(ref, gen, tmp_path / "bar", progress=True)
    _, quiet = _run(ref, gen, tmp_path / "quiet", progress=False)
    _, broken = _run(ref, make_videos(6, seed=2, shift=0.3), tmp_path / "broken", progress=True)
    assert np.isfinite(shown.value) and shown.value == quiet.value and shown.n == 6
    assert broken.value > 5 * shown.value  # the bar's path still tells good from broken


class OneHotClassifier(VideoFeatureExtractor):
    """Class = brightness bucket of the first frame (K buckets); probs one-hot or uniform."""

    name: ClassVar[str] = "test_onehot"

    def __init__(self, k: int, uniform: bool = False) -> None:
        super().__init__("1" * 64)
        self.k, self.uniform = k, uniform

    def features(self, batch: torch.Tensor) -> torch.Tensor:
        return batch.double().mean(dim=(1, 2, 3))

    def probs(self, batch: torch.Tensor) -> torch.Tensor:
        if self.uniform:
            return torch.full((batch.shape[0], self.k), 1.0 / self.k, dtype=torch.float64)
        cls = (batch[:, 0, 0, 0, 0].long() * self.k) // 256
        return torch.nn.functional.one_hot(cls, self.k).double()


class TinyIS(FeatureInceptionScoreMetric):
    name: ClassVar[str] = "tiny_is"
    version: ClassVar[str] = "1"
    k = 4
    uniform = False

    def build_extractor(self) -> VideoFeatureExtractor:
        return OneHotClassifier(self.k, self.uniform)


def _class_videos(n: int, k: int) -> list:
    from vdmbench.video import Video

    return [Video(torch.full((2, 4, 4, 3), (i % k) * 256 // k + 1, dtype=torch.uint8), 8.0)
            for i in range(n)]


def test_is_metric_one_hot_gives_k_and_uniform_gives_1(tmp_path) -> None:
    ctx = MetricContext(device="cpu", cache_dir=tmp_path)
    vids = _class_videos(40, 4)
    m = TinyIS(FeatureISOptions(batch_size=3, splits=2), ctx)
    m.update(vids, requests_for(vids))
    val = m.compute()
    assert val.value == pytest.approx(4.0, rel=1e-9) and val.std == pytest.approx(0.0, abs=1e-9)
    assert val.n == 40 and val.details["num_classes"] == 4
    TinyIS.uniform = True
    try:
        m = TinyIS(FeatureISOptions(splits=2), ctx)
        m.update(vids, requests_for(vids))
        assert m.compute().value == pytest.approx(1.0, abs=1e-12)
    finally:
        TinyIS.uniform = False
    m = TinyIS(FeatureISOptions(splits=10), ctx)
    m.update(vids[:5], requests_for(vids[:5]))
    with pytest.raises(MetricError, match="10 splits"):
        m.compute()
