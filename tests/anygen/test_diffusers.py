"""The ``diffusers`` model on tiny random pipelines built from diffusers' own classes (SVD, Wan,
LTX; saved with save_pretrained, CPU)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from anygen_utils import cli, run, suite, write_suite
from tiny_pipelines import save, tiny_wan

from vdmbench.acceleration import transformed
from vdmbench.errors import WeightsNotFoundError
from vdmbench.generation import GenerationRequest
from vdmbench.models.diffusers_pipeline import DiffusersAdapter
from vdmbench.testing import ScaleOutputTransform

TASK = {"svd": "i2v", "wan": "t2v", "ltx": "t2v"}
#: LTX makes multiples of 32 pixels and 8k + 1 frames (4k + 1 with this tiny VAE): it
#: generates 5 frames of 32×32 and the adapter keeps 4 frames resized to 16×16
OPTIONS = {"svd": {}, "wan": {}, "ltx": {"height": 32, "width": 32, "num_frames": 5}}


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("pipelines")
    return {kind: save(kind, root) for kind in TASK}


def _entry(kind: str, folder: Path, **extra: object) -> dict:
    return {"name": kind, "adapter": "diffusers", "weights": str(folder), "steps": 2,
            "options": {**OPTIONS[kind], **extra}}


def _request(seed: int) -> GenerationRequest:
    image = torch.randint(0, 256, (16, 16, 3), dtype=torch.uint8,
                          generator=torch.Generator().manual_seed(0))
    return GenerationRequest(id="r0", seed=seed, frames=4, height=16, width=16, fps=8.0,
                             prompt="a red square moving", image=image)


@pytest.mark.parametrize("kind", list(TASK))
def test_pipeline_runs_through_a_suite(kind: str, folders: dict[str, Path],
                                       tmp_path: Path) -> None:
    s = write_suite(tmp_path / "s.yaml", suite(
        f"anygen-{kind}", [_entry(kind, folders[kind])], task=TASK[kind], num_videos=2,
        metrics=[{"name": "temporal_flickering"}],
        speed={"warmup": 0, "iterations": 6, "rounds": 6, "enabled": kind == "wan",
               "components": ["text_encode", "denoise", "decode"]}))  # one timed, for time
    record = run(s, tmp_path / "out")[kind]
    card = record["model"]["card"]
    assert card["adapter"] == "diffusers" and card["sampler"]["task"] == TASK[kind]
    assert card["sampler"]["pipeline"] == {"svd": "StableVideoDiffusionPipeline",
                                           "wan": "WanPipeline", "ltx": "LTXPipeline"}[kind]
    assert card["steps"] == 2 and card["params"]["vae"] > 0
    assert 0 < record["metrics"]["temporal_flickering"]["value"] <= 1
    if kind == "wan":
        assert set(record["speed"]["components"]) == {"text_encode", "denoise", "decode"}
        assert record["speed"]["components_missing"] == []
        assert record["speed"]["per_video"]["count"] >= 6
    videos = list((tmp_path / "out" / ".cache" / "videos").rglob("*.npy"))
    assert len(videos) == 2 and all(np.load(v).shape == (4, 16, 16, 3) for v in videos)


@pytest.mark.parametrize("kind", list(TASK))
def test_seed_reproduces_bit_for_bit(kind: str, folders: dict[str, Path]) -> None:
    a = DiffusersAdapter.load(kind, str(folders[kind]), OPTIONS[kind], "cpu", steps=2)
    b = DiffusersAdapter.load(kind, str(folders[kind]), OPTIONS[kind], "cpu", steps=2)
    first = a.generate([_request(5)])[0].frames
    assert first.shape == (4, 16, 16, 3) and first.dtype == torch.uint8
    assert torch.equal(first, b.generate([_request(5)])[0].frames)
    assert torch.equal(first, a.generate([_request(6), _request(5)])[1].frames)
    assert not torch.equal(first, a.generate([_request(6)])[0].frames)


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_call_kwargs_are_checked_against_the_signature(folders: dict[str, Path],
                                                       tmp_path: Path) -> None:
    s = write_suite(tmp_path / "s.yaml", suite(
        "anygen-kw", [_entry("wan", folders["wan"], call_kwargs={"guidance_scale": 1.0,
                                                                 "bogus_scale": 2})],
        task="t2v"))
    result = cli("validate", s)
    assert result.exit_code == 2, result.output
    line = _line_of(s.read_text(), "bogus_scale")
    assert f"{s}" in result.output and f"line {line}, " in result.output
    assert "models[0].options.call_kwargs.bogus_scale: unknown key 'bogus_scale'." in \
        result.output and "guidance_scale" in result.output  # what it takes
    s = write_suite(tmp_path / "t.yaml", suite(
        "anygen-kw", [_entry("wan", folders["wan"], call_kwargs={"num_frames": 9})],
        task="t2v"))
    result = cli("validate", s)
    assert result.exit_code == 2 and "'num_frames' is set from the request" in result.output
    # a known key reaches the call: guidance 1 (no CFG) changes the video
    plain = DiffusersAdapter.load("wan", str(folders["wan"]), {}, "cpu", steps=2)
    no_cfg = DiffusersAdapter.load("wan", str(folders["wan"]),
                                   {"call_kwargs": {"guidance_scale": 1.0}}, "cpu", steps=2)
    assert plain.describe().cfg and not no_cfg.describe().cfg
    assert not torch.equal(plain.generate([_request(1)])[0].frames,
                           no_cfg.generate([_request(1)])[0].frames)


def test_missing_weights_and_wrong_task(folders: dict[str, Path], tmp_path: Path) -> None:
    absent = tmp_path / "no-such-pipeline"
    with pytest.raises(WeightsNotFoundError, match=str(absent)):
        DiffusersAdapter.load("m", str(absent), {}, "cpu")
    (tmp_path / "empty").mkdir()
    with pytest.raises(WeightsNotFoundError, match="no model_index.json"):
        DiffusersAdapter.load("m", str(tmp_path / "empty"), {}, "cpu")
    # variant files load with options.variant only; pickle (.bin) weights are never read
    pipe = tiny_wan()
    pipe.save_pretrained(tmp_path / "fp16", safe_serialization=True, variant="fp16")
    gen = DiffusersAdapter.load("m", str(tmp_path / "fp16"), {"variant": "fp16"}, "cpu", steps=2)
    assert gen.describe().sampler["variant"] == "fp16"
    with pytest.raises(WeightsNotFoundError, match="variant None"):
        DiffusersAdapter.load("m", str(tmp_path / "fp16"), {}, "cpu", steps=2)
    pipe.save_pretrained(tmp_path / "bin", safe_serialization=False)
    with pytest.raises(WeightsNotFoundError, match="safetensors only"):
        DiffusersAdapter.load("m", str(tmp_path / "bin"), {}, "cpu", steps=2)
    s = write_suite(tmp_path / "s.yaml", suite("anygen-w", [_entry("wan", absent)], task="t2v"))
    result = cli("validate", s)
    assert result.exit_code == 2 and str(absent) in result.output
    s = write_suite(tmp_path / "t.yaml", suite("anygen-w", [_entry("svd", folders["svd"])],
                                               task="t2v"))
    result = cli("validate", s)
    assert result.exit_code == 2
    assert "StableVideoDiffusionPipeline is i2v and the suite's task is t2v" in result.output


def test_denoiser_where_the_convention_is_known(folders: dict[str, Path],
                                                tmp_path: Path) -> None:
    # Wan: no known convention → a transform that needs the denoiser refuses before a run
    entry = {**_entry("wan", folders["wan"]), "transforms": [{"name": "test-scale-output"}]}
    s = write_suite(tmp_path / "s.yaml", suite("anygen-t", [entry], task="t2v"))
    result = cli("validate", s)
    assert result.exit_code == 2
    assert "models[0].transforms[0].name: transform 'test-scale-output' cannot apply" in \
        result.output and "WanPipeline is not known" in result.output
    # SVD: its UNet with the SVD convention; the transform changes the video and is removed
    gen = DiffusersAdapter.load("svd", str(folders["svd"]), {}, "cpu", steps=2)
    assert gen.denoiser().unet is gen.pipe.unet
    before = gen.generate([_request(3)])[0].frames
    with transformed(gen, [ScaleOutputTransform({"factor": 0.5})], model="svd"):
        during = gen.generate([_request(3)])[0].frames
    assert not torch.equal(before, during)
    assert torch.equal(before, gen.generate([_request(3)])[0].frames)
