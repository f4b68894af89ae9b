"""``motion_acc_synth`` tells a video that moves as asked from one that does not."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from vdmbench.data.synthmotion import MOTION_CLASSES, SynthMotionDataset
from vdmbench.errors import MetricError
from vdmbench.metrics.base import MetricContext
from vdmbench.suite import DatasetSpec
from vdmbench.synth.metrics import SynthMotionAccuracy, wilson_interval
from vdmbench.video import Video

torch.set_num_threads(1)
N = 88  # 8 videos per class on average


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    ds = SynthMotionDataset(DatasetSpec(name="synthmotion", split="test", num_videos=N, frames=8,
                                        options={"first_index": 3000}))
    videos = [v for b in ds.reference_videos(64) for v in b]
    return videos, ds.requests(), tmp_path_factory.mktemp("cache")


def _accuracy(videos, requests, cache) -> float:
    m = SynthMotionAccuracy(SynthMotionAccuracy.Options(batch_size=32),
                            MetricContext(device="cpu", cache_dir=cache))
    m.update(videos[:50], requests[:50])  # two calls: the counts must accumulate
    m.update(videos[50:], requests[50:])
    v = m.compute()
    assert v.n == len(videos) and v.ci is not None and v.ci[0] <= v.value <= v.ci[1]
    assert sum(map(sum, v.details["confusion"])) == len(videos)
    return v.value


def test_real_videos_follow_their_class_and_corruptions_do_not(real) -> None:
    videos, requests, cache = real
    good = _accuracy(videos, requests, cache)
    # the same videos, asked for the next class: a model that ignores the class
    wrong = [dataclasses.replace(r, extra={**r.extra, "motion_class":
                                           (r.extra["motion_class"] + 1) % len(MOTION_CLASSES)})
             for r in requests]
    mismatched = _accuracy(videos, wrong, cache)
    static = _accuracy([Video(v.frames[:1].expand_as(v.frames).clone(), v.fps) for v in videos],
                       requests, cache)
    print({"good": good, "mismatched": mismatched, "static": static})
    assert good >= 0.95
    assert mismatched <= 0.1
    assert static <= 0.3


def test_requests_without_a_motion_class_are_an_error(real) -> None:
    videos, requests, cache = real
    m = SynthMotionAccuracy(SynthMotionAccuracy.Options(),
                            MetricContext(device="cpu", cache_dir=cache))
    bad = [dataclasses.replace(requests[0], extra={})]
    with pytest.raises(MetricError, match=requests[0].id):
        m.update(videos[:1], bad)
    with pytest.raises(MetricError, match="no generated videos"):
        m.compute()


def test_wilson_interval() -> None:
    lo, hi = wilson_interval(50, 100)
    assert lo == pytest.approx(0.4038, abs=1e-4) and hi == pytest.approx(0.5962, abs=1e-4)
    assert wilson_interval(0, 10)[0] == 0.0
    assert wilson_interval(10, 10)[1] == pytest.approx(1.0)
