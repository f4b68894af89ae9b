"""The vbench metric family end to end, with a stand-in VBench in a separate interpreter.

The stand-in package (written here) has VBench's API and output format; it computes
``temporal_flickering`` from the mp4 files with VBench's formula, returns fixed numbers for the
other dimensions, and fails on ``color``. A real-VBench parity test runs only when ``vbench``
is importable (``test_parity_with_real_vbench``).
"""

from __future__ import annotations

import json
import math
import os
import stat
import sys
from pathlib import Path

import pytest
import torch

from vdmbench.errors import ConfigError, MetricError, WeightsNotFoundError
from vdmbench.metrics.base import MetricContext
from vdmbench.metrics.vbench.flickering import flickering_score
from vdmbench.metrics.vbench.metric import (
    DIMENSION_METRICS,
    VBenchAggregateOptions,
    VBenchOptions,
    VBenchQuality,
    VBenchTotal,
    registry_entries,
)
from vdmbench.metrics.vbench.prompts import VBenchPromptDataset
from vdmbench.metrics.vbench.runner import REQUIRED_WEIGHTS, check_weights, read_mp4, write_mp4
from vdmbench.metrics.vbench.scores import QUALITY_DIMENSIONS
from vdmbench.suite import DatasetSpec
from vdmbench.video import Video

FAKE_VBENCH = r'''
import json, os
import av
import numpy as np

FIXED = {"subject_consistency": 0.95, "background_consistency": 0.96,
         "motion_smoothness": 0.98, "dynamic_degree": 0.5, "aesthetic_quality": 0.6,
         "imaging_quality": 0.65}

def _frames(path):
    with av.open(path) as c:
        return np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)])

class VBench:
    def __init__(self, device, full_info_dir, output_path):
        self.full_info, self.out = full_info_dir, output_path
        os.makedirs(output_path, exist_ok=True)

    def evaluate(self, videos_path, name, prompt_list=[], dimension_list=None, local=False,
                 mode="vbench_standard", **kw):
        assert local and os.environ["HF_HUB_OFFLINE"] == "1"
        names = os.listdir(videos_path)
        res = {}
        for dim in dimension_list:
            if dim == "color":
                raise RuntimeError("stand-in failure for color")
            if mode == "vbench_standard":
                info = json.load(open(self.full_info))
                vids = [os.path.join(videos_path, f"{e['prompt_en']}-{i}.mp4")
                        for e in info if dim in e["dimension"] for i in range(5)
                        if f"{e['prompt_en']}-{i}.mp4" in names]
            else:
                assert set(prompt_list) == set(names)
                vids = [os.path.join(videos_path, n) for n in sorted(names)]
            per = []
            for v in vids:
                if dim == "temporal_flickering":
                    f = _frames(v).astype(np.float32)
                    s = (255.0 - float(np.mean([np.mean(np.abs(f[i + 1] - f[i]))
                                                for i in range(len(f) - 1)]))) / 255.0
                else:
                    s = FIXED[dim]
                per.append({"video_path": v, "video_results": s})
            res[dim] = [float(np.mean([p["video_results"] for p in per])), per]
        json.dump(res, open(os.path.join(self.out, name + "_eval_results.json"), "w"))
        with open(os.path.join(self.out, "calls.log"), "a") as log:
            log.write(",".join(dimension_list) + "\n")
'''

INFO = [
    {"prompt_en": "a toilet, frozen in time", "dimension": ["temporal_flickering",
                                                            "subject_consistency"]},
    {"prompt_en": "a bird and a cat", "dimension": ["multiple_objects"]},
    {"prompt_en": "a car driving", "dimension": ["temporal_flickering", "dynamic_degree",
                                                 "motion_smoothness", "aesthetic_quality",
                                                 "imaging_quality", "background_consistency",
                                                 "color"]},
]


@pytest.fixture()
def env(tmp_path: Path) -> dict[str, Path]:
    pkg = tmp_path / "fakeenv" / "vbench"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text(FAKE_VBENCH)
    exe = tmp_path / "vbench-python"
    exe.write_text(f"#!/bin/sh\nPYTHONPATH={tmp_path / 'fakeenv'} exec {sys.executable} \"$@\"\n")
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    weights = tmp_path / "weights"
    for rels in REQUIRED_WEIGHTS.values():
        for rel in rels:
            (weights / rel).parent.mkdir(parents=True, exist_ok=True)
            (weights / rel).write_bytes(b"x")
    info = tmp_path / "VBench_full_info.json"
    info.write_text(json.dumps(INFO))
    return {"exe": exe, "weights": weights, "info": info, "cache": tmp_path / "cache"}


def _videos(n: int, seed: int = 0) -> list[Video]:
    g = torch.Generator().manual_seed(seed)
    out = []
    for k in range(n):
        base = torch.randint(0, 256, (1, 16, 16, 3), generator=g, dtype=torch.uint8)
        frames = torch.cat([torch.roll(base, shifts=t * (k % 3), dims=2) for t in range(4)])
        out.append(Video(frames, 8.0))
    return out


def _dataset(env: dict[str, Path], n: int) -> VBenchPromptDataset:
    return VBenchPromptDataset(DatasetSpec(name="vbench_prompts", num_videos=n, frames=4, height=16,
                                     width=16, options={"full_info": str(env["info"])}))


def _ctx(env: dict[str, Path], ds: VBenchPromptDataset) -> MetricContext:
    return MetricContext(device="cpu", cache_dir=env["cache"], dataset=ds)


def _opts(env: dict[str, Path], cls: type = VBenchOptions, **kw: object) -> object:
    return cls(python=str(env["exe"]), weights_dir=str(env["weights"]), **kw)


def test_mp4_round_trip_is_near_lossless(tmp_path: Path) -> None:
    v = _videos(1)[0]
    write_mp4(v.frames, tmp_path / "a-0.mp4", 8.0)
    back = read_mp4(tmp_path / "a-0.mp4")
    assert back.shape == v.frames.shape
    assert (back.int() - v.frames.int()).abs().max() <= 3  # RGB→YUV rounding only
    assert abs(flickering_score(back) - flickering_score(v.frames)) < 2e-3


def test_dimension_metric_and_cache(env: dict[str, Path]) -> None:
    ds = _dataset(env, 15)
    reqs, vids = ds.requests(), _videos(15)
    m = DIMENSION_METRICS["vbench_temporal_flickering"](_opts(env), _ctx(env, ds))
    m.update(vids[:8], reqs[:8])
    m.update(vids[8:], reqs[8:])
    v = m.compute()
    # VBench's flickering prompts: the toilet (videos 0-4) and the car (10-14)
    expected = [flickering_score(read_mp4(next(env["cache"].rglob(
        f"sets/*/videos/{reqs[i].extra['vbench_filename']}")))) for i in [*range(5),
                                                                           *range(10, 15)]]
    assert v.n == 10 and v.value == pytest.approx(sum(expected) / 10, abs=1e-6)
    assert v.details["complete"] and v.details["expected"] == 10
    # a second metric on the same videos reuses the cached result: no new VBench call
    log = next(env["cache"].rglob("calls.log"))
    calls = log.read_text().splitlines()
    m2 = DIMENSION_METRICS["vbench_temporal_flickering"](_opts(env), _ctx(env, ds))
    m2.update(vids, reqs)
    assert m2.compute().value == v.value
    assert log.read_text().splitlines() == calls


def test_aggregates_incomplete_never_zero(env: dict[str, Path]) -> None:
    ds = _dataset(env, 15)
    reqs, vids = ds.requests(), _videos(15)
    total = VBenchTotal(_opts(env, VBenchAggregateOptions), _ctx(env, ds))
    total.update(vids, reqs)
    t = total.compute()
    assert math.isnan(t.value) and t.details["status"] == "incomplete"
    assert "color" in t.details["errors"] and "color" in t.details["missing"]
    assert "human_action" in t.details["missing"]  # no prompt of it in this list
    # quality: all 7 present (flickering from mp4, the rest fixed) → a number, by hand
    q = VBenchQuality(_opts(env, VBenchAggregateOptions), _ctx(env, ds))
    q.update(vids, reqs)
    qv = q.compute()
    raw = t.details["raw"]
    assert set(QUALITY_DIMENSIONS) <= set(raw)
    hand = ((0.95 - 0.1462) / 0.8538 + (0.96 - 0.2615) / 0.7385
            + (raw["temporal_flickering"] - 0.6293) / 0.3707 + (0.98 - 0.706) / 0.2915
            + 0.5 * 0.5 + 0.6 + 0.65) / 6.5
    assert qv.value == pytest.approx(hand) and qv.details["complete"]
    color = DIMENSION_METRICS["vbench_color"](_opts(env), _ctx(env, ds))
    color.update(vids, reqs)
    with pytest.raises(MetricError, match="stand-in failure for color"):
        color.compute()


def test_partial_video_set_is_flagged(env: dict[str, Path]) -> None:
    ds = _dataset(env, 12)  # the car prompt has only 2 of its 5 videos
    m = DIMENSION_METRICS["vbench_temporal_flickering"](_opts(env), _ctx(env, ds))
    m.update(_videos(12), ds.requests())
    v = m.compute()
    assert v.n == 7 and not v.details["complete"] and v.details["present"] == 7


def test_custom_input_mode(env: dict[str, Path]) -> None:
    from vdmbench.generation import GenerationRequest

    reqs = [GenerationRequest(id=f"r{i}", seed=i, frames=4, height=16, width=16, fps=8.0,
                              prompt="a red circle / moving up") for i in range(3)]
    ctx = MetricContext(device="cpu", cache_dir=env["cache"])
    m = DIMENSION_METRICS["vbench_temporal_flickering"](
        _opts(env, mode="custom_input"), ctx)
    vids = _videos(3, seed=4)
    m.update(vids, reqs)
    v = m.compute()
    assert v.n == 3
    assert v.value == pytest.approx(sum(flickering_score(x.frames) for x in vids) / 3, abs=2e-3)
    bad = DIMENSION_METRICS["vbench_color"](_opts(env, mode="custom_input"), ctx)
    bad.update(vids, reqs)
    with pytest.raises(ConfigError, match="vbench_standard"):
        bad.compute()


def test_missing_weights_and_python_named(env: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(WeightsNotFoundError, match="amt_model/amt-s.pth"):
        check_weights(["motion_smoothness"], tmp_path / "empty")
    check_weights(["temporal_flickering"], tmp_path / "empty")  # needs no weights
    ds = _dataset(env, 5)
    m = DIMENSION_METRICS["vbench_subject_consistency"](
        VBenchOptions(python=str(env["exe"]), weights_dir=str(tmp_path / "empty")),
        _ctx(env, ds))
    m.update(_videos(5), ds.requests())
    with pytest.raises(WeightsNotFoundError, match="dino_vitbase16_pretrain.pth"):
        m.compute()
    m2 = DIMENSION_METRICS["vbench_subject_consistency"](
        VBenchOptions(python=str(tmp_path / "no-python"), weights_dir=str(env["weights"])),
        _ctx(env, ds))
    m2.update(_videos(5), ds.requests())
    with pytest.raises(ConfigError, match="no-python"):
        m2.compute()


def test_registry_entries_resolve() -> None:
    import importlib

    entries = registry_entries()
    assert len(entries) == 19 and "vbench_total" in entries
    for name, target in entries.items():
        mod, attr = target.split(":")
        assert getattr(importlib.import_module(mod), attr).name == name


@pytest.mark.skipif(not os.environ.get("VBENCH_PYTHON"), reason="VBENCH_PYTHON not set")
def test_parity_with_real_vbench(tmp_path: Path) -> None:
    """temporal_flickering: native vs VBench's own code on the same mp4 files."""
    from vdmbench.metrics.vbench.runner import run_vbench

    vids = _videos(3, seed=9)
    d = tmp_path / "videos"
    for i, v in enumerate(vids):
        write_mp4(v.frames, d / f"a moving pattern-{i}.mp4", 8.0)
    res = run_vbench(os.environ["VBENCH_PYTHON"], d, tmp_path / "out", "parity",
                     ["temporal_flickering"], full_info=None, weights_dir=tmp_path,
                     device="cpu", mode="custom_input",
                     prompts={f"a moving pattern-{i}.mp4": "a moving pattern" for i in range(3)})
    native = sum(flickering_score(read_mp4(d / f"a moving pattern-{i}.mp4"))
                 for i in range(3)) / 3
    assert res["temporal_flickering"].score == pytest.approx(native, abs=1e-6)
