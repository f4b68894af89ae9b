"""The synthetic metrics mean something: real held-out videos score far better than corrupted
ones, and content FD and motion FVD react to different corruptions."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from vdmbench.data.synthmotion import SynthMotionDataset
from vdmbench.metrics.base import MetricContext
from vdmbench.suite import DatasetSpec
from vdmbench.synth.metrics import SynthContentFD, SynthFVD, SynthIS
from vdmbench.video import Video

torch.set_num_threads(1)
N, FRAMES = 128, 8


def _dataset(first_index: int) -> SynthMotionDataset:
    return SynthMotionDataset(DatasetSpec(name="synthmotion", split="test", num_videos=N,
                                          frames=FRAMES, options={"first_index": first_index}))


def _shuffle_time(v: torch.Tensor, i: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(i)
    perm = torch.randperm(v.shape[0], generator=g)
    while torch.equal(perm, torch.arange(v.shape[0])):
        perm = torch.randperm(v.shape[0], generator=g)
    return v[perm]


def _static(v: torch.Tensor, i: int) -> torch.Tensor:
    return v[:1].expand_as(v).clone()


def _noise(v: torch.Tensor, i: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(1000 + i)
    n = torch.randn(v.shape, generator=g) * 60.0
    return (v.float() + n).clamp(0, 255).round().to(torch.uint8)


def _swap_colors(v: torch.Tensor, i: int) -> torch.Tensor:
    return v[..., [2, 0, 1]].contiguous()


CORRUPTIONS: dict[str, Callable[[torch.Tensor, int], torch.Tensor]] = {
    "good": lambda v, i: v, "time_shuffle": _shuffle_time, "static": _static, "noise": _noise,
    "color_swap": _swap_colors,
}


@pytest.fixture(scope="module")
def scores(tmp_path_factory) -> dict[str, dict[str, float]]:
    """{corruption: {"fvd": …, "content_fd": …, "is": …}} against 128 real test videos."""
    cache = tmp_path_factory.mktemp("cache")
    context = MetricContext(device="cpu", cache_dir=cache, dataset=_dataset(0))
    candidates = _dataset(N)
    requests = candidates.requests()
    videos = [v for b in candidates.reference_videos(64) for v in b]
    out: dict[str, dict[str, float]] = {}
    for name, fn in CORRUPTIONS.items():
        corrupted = [Video(fn(v.frames, i), v.fps) for i, v in enumerate(videos)]
        row = {}
        for key, cls in (("fvd", SynthFVD), ("content_fd", SynthContentFD), ("is", SynthIS)):
            metric = cls(cls.Options(batch_size=64), context)
            metric.prepare()
            for s in range(0, N, 64):
                metric.update(corrupted[s:s + 64], requests[s:s + 64])
            row[key] = metric.compute().value
        out[name] = row
    print({k: {m: round(x, 3) for m, x in v.items()} for k, v in out.items()})
    return out


def test_fvd_separates_real_from_corrupted(scores) -> None:
    good = scores["good"]["fvd"]
    assert good >= 0.0
    for bad in ("time_shuffle", "static", "noise"):
        assert scores[bad]["fvd"] > 5.0 * good + 1.0, (bad, scores[bad]["fvd"], good)


def test_content_fd_and_fvd_measure_different_things(scores) -> None:
    good, shuffle, swap = scores["good"], scores["time_shuffle"], scores["color_swap"]

    def ratio(case: dict[str, float], key: str) -> float:  # harm relative to the good set
        return case[key] / max(good[key], 1e-9)

    # a time shuffle keeps every frame: per-frame content FD cannot move (same set of frames) …
    assert abs(shuffle["content_fd"] - good["content_fd"]) < 1e-6 * max(1.0, good["content_fd"])
    # … while it breaks motion
    assert ratio(shuffle, "fvd") > 5.0 * ratio(shuffle, "content_fd")
    # a colour swap hurts content FD much more than a time shuffle does (the palette is nearly
    # closed under channel permutation, so the distribution moves less than each video does)
    assert swap["content_fd"] - good["content_fd"] > 10.0
    assert ratio(swap, "content_fd") > 1.8 > 1.0 + 1e-6 >= ratio(shuffle, "content_fd")
    # and it hurts content more than motion, relative to the good set
    assert ratio(swap, "content_fd") > ratio(swap, "fvd") + 0.5


def test_inception_score_prefers_real_motion(scores) -> None:
    assert scores["good"]["is"] > 5.0
    assert scores["good"]["is"] > scores["static"]["is"] + 1.0
    assert scores["good"]["is"] > scores["time_shuffle"]["is"]


def test_protocol_records(tmp_path) -> None:
    context = MetricContext(device="cpu", cache_dir=tmp_path, dataset=_dataset(0))
    ids = {}
    for cls in (SynthFVD, SynthContentFD, SynthIS):
        m = cls(cls.Options(), context)
        p = m.protocol()
        ids[cls.name] = p["id"]
        assert p["version"] == cls.version and len(p["extractor"]["weights_sha256"]) == 64
        assert "batch_size" not in p["options"] and "weights" not in p["options"]
    assert ids == {"fvd_synth": "synth_fvd_v1", "content_fd_synth": "synth_content_fd_v1",
                   "is_synth": "synth_is_v1"}
    assert SynthFVD.higher_is_better is False and SynthContentFD.higher_is_better is False
    assert SynthIS.higher_is_better is True
