"""VBench naming, prompt list parsing and score aggregation against hand-computed values."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from vdmbench.errors import ConfigError, DataError, MetricError
from vdmbench.metrics.vbench.naming import (
    expected_files,
    load_full_info,
    locate_full_info,
    parse_filename,
    prompts_for,
    video_filename,
)
from vdmbench.metrics.vbench.prompts import VBenchPromptDataset
from vdmbench.metrics.vbench.scores import (
    DIMENSIONS,
    QUALITY_DIMENSIONS,
    SEMANTIC_DIMENSIONS,
    aggregate,
    normalize,
)
from vdmbench.suite import DatasetSpec

FULL_INFO = [
    {"prompt_en": "a toilet, frozen in time", "dimension": ["temporal_flickering"]},
    {"prompt_en": "a bird and a cat", "dimension": ["multiple_objects"],
     "auxiliary_info": {"multiple_objects": {"object": "bird and cat"}}},
    {"prompt_en": "a toilet, frozen in time", "dimension": ["subject_consistency"]},
    {"prompt_en": "A person is riding a bike", "dimension": ["human_action",
                                                             "temporal_flickering"]},
]


def _write_info(tmp_path: Path, data: object = FULL_INFO) -> Path:
    p = tmp_path / "VBench_full_info.json"
    p.write_text(json.dumps(data))
    return p


def test_filename_round_trip() -> None:
    assert video_filename("a cat, on a mat", 3) == "a cat, on a mat-3.mp4"
    assert parse_filename("a cat, on a mat-3.mp4") == ("a cat, on a mat", 3)
    assert parse_filename("a-1-2.mp4") == ("a-1", 2)
    assert parse_filename("plain.mp4") == ("plain", None)
    with pytest.raises(DataError, match="'a/b'"):
        video_filename("a/b", 0)
    with pytest.raises(DataError, match="255-byte"):
        video_filename("x" * 260, 0)


def test_full_info_parsing_and_selection(tmp_path: Path) -> None:
    infos = load_full_info(_write_info(tmp_path))
    assert len(infos) == 4
    assert infos[1].auxiliary_info == {"multiple_objects": {"object": "bird and cat"}}
    # duplicates collapse, order of first appearance is kept
    assert prompts_for(infos) == ["a toilet, frozen in time", "a bird and a cat",
                                  "A person is riding a bike"]
    assert prompts_for(infos, ["temporal_flickering"]) == ["a toilet, frozen in time",
                                                          "A person is riding a bike"]
    assert expected_files(infos, "human_action") == [
        f"A person is riding a bike-{i}.mp4" for i in range(5)]
    bad = _write_info(tmp_path, [{"prompt_en": "x", "dimension": ["colour"]}])
    with pytest.raises(DataError, match="entry 0.*colour"):
        load_full_info(bad)
    with pytest.raises(DataError, match="not found"):
        locate_full_info(tmp_path / "nope.json")


def test_normalization_hand_values() -> None:
    assert normalize("temporal_flickering", 0.6293) == 0.0
    assert normalize("temporal_flickering", 1.0) == pytest.approx(1.0)
    assert normalize("subject_consistency", 0.95) == pytest.approx((0.95 - 0.1462) / 0.8538)
    assert normalize("dynamic_degree", 0.6) == pytest.approx(0.3)  # weight 0.5
    assert normalize("scene", 0.4111) == pytest.approx(0.5)
    assert normalize("appearance_style", 0.2) == pytest.approx((0.2 - 0.0009) / 0.2846)
    with pytest.raises(MetricError, match="colour"):
        normalize("colour", 0.5)


def test_aggregate_hand_computed() -> None:
    # every raw score at its max → normalized 1 (0.5 for dynamic_degree)
    raw = {"subject_consistency": 1.0, "background_consistency": 1.0,
           "temporal_flickering": 1.0, "motion_smoothness": 0.9975, "dynamic_degree": 1.0,
           "aesthetic_quality": 1.0, "imaging_quality": 1.0, "object_class": 1.0,
           "multiple_objects": 1.0, "human_action": 1.0, "color": 1.0,
           "spatial_relationship": 1.0, "scene": 0.8222, "appearance_style": 0.2855,
           "temporal_style": 0.364, "overall_consistency": 0.364}
    s = aggregate(raw)
    assert s.complete and s.quality == pytest.approx(1.0) and s.semantic == pytest.approx(1.0)
    assert s.total == pytest.approx(1.0)
    # a mixed case worked by hand: quality dims normalized to 0.5 each (dynamic 0.5·0.5),
    # semantic dims to 0.2 each
    raw2 = {}
    for d in QUALITY_DIMENSIONS:
        lo, hi = {"subject_consistency": (0.1462, 1.0), "background_consistency": (0.2615, 1.0),
                  "temporal_flickering": (0.6293, 1.0), "motion_smoothness": (0.706, 0.9975)
                  }.get(d, (0.0, 1.0))
        raw2[d] = lo + 0.5 * (hi - lo)
    for d in SEMANTIC_DIMENSIONS:
        lo, hi = {"scene": (0.0, 0.8222), "appearance_style": (0.0009, 0.2855),
                  "temporal_style": (0.0, 0.364), "overall_consistency": (0.0, 0.364)
                  }.get(d, (0.0, 1.0))
        raw2[d] = lo + 0.2 * (hi - lo)
    s2 = aggregate(raw2)
    quality = (6 * 0.5 + 0.5 * 0.5) / 6.5  # = 0.5
    assert s2.quality == pytest.approx(quality)
    assert s2.semantic == pytest.approx(0.2)
    assert s2.total == pytest.approx((4 * quality + 0.2) / 5)
    assert s2.total == pytest.approx(0.44)


def test_missing_dimension_is_never_zero_filled() -> None:
    raw = {d: 0.9 for d in QUALITY_DIMENSIONS}
    s = aggregate(raw)
    assert s.quality is not None and s.semantic is None and s.total is None
    assert set(s.missing) == set(SEMANTIC_DIMENSIONS) and not s.complete
    # zero-filling would have produced a number; we must not
    assert "object_class" not in s.normalized
    partial = {d: 0.9 for d in DIMENSIONS if d != "dynamic_degree"}
    s2 = aggregate(partial)
    assert s2.quality is None and s2.total is None and s2.semantic is not None
    assert s2.missing == ("dynamic_degree",)
    with pytest.raises(MetricError, match="not finite"):
        aggregate({"color": math.nan})


def test_vbench_prompts_dataset(tmp_path: Path) -> None:
    info = _write_info(tmp_path)
    spec = DatasetSpec(name="vbench_prompts", num_videos=15, frames=16, height=320, width=512,
                       seed=7, options={"full_info": str(info)})
    ds = VBenchPromptDataset(spec)
    reqs = ds.requests()
    assert len(reqs) == 15 == ds.available
    assert reqs[0].id == "a toilet, frozen in time-0" and reqs[0].seed == 7
    assert reqs[4].seed == 11 and reqs[5].prompt == "a bird and a cat"
    assert reqs[14].extra["vbench_filename"] == "A person is riding a bike-4.mp4"
    assert ds.manifest_hash() == VBenchPromptDataset(spec).manifest_hash()
    with pytest.raises(DataError, match="no reference videos"):
        next(ds.reference_videos())
    sub = VBenchPromptDataset(spec.model_copy(update={
        "num_videos": 10, "options": {"full_info": str(info),
                                      "dimensions": ["temporal_flickering"]}}))
    assert [r.prompt for r in sub.requests()][::5] == ["a toilet, frozen in time",
                                                      "A person is riding a bike"]
    with pytest.raises(ConfigError, match="exceeds the 15 videos"):
        VBenchPromptDataset(spec.model_copy(update={"num_videos": 16}))
    with pytest.raises(ConfigError, match="colour"):
        VBenchPromptDataset(spec.model_copy(update={"options": {"full_info": str(info),
                                                          "dimensions": ["colour"]}}))
