"""The Wan suite's path on a tiny random WanPipeline folder through the generic ``diffusers``
model: the adapter hands its ``transformer`` to every cache transform (WanPipeline's separate
``cond`` / ``uncond`` calls), MagCache's calibration command writes ratios the transform accepts,
and each method keeps its promises there too."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest
import torch

from baselines.magcache_calibrate import main as calibrate_main
from vdmbench.acceleration import make_transforms, transformed
from vdmbench.diffusion.denoiser import state_hash
from vdmbench.generation import GenerationRequest
from vdmbench.models.diffusers_pipeline import DiffusersAdapter
from vdmbench.suite import TransformSpec

ROOT = Path(__file__).resolve().parents[2]
torch.set_num_threads(1)


def _tiny_pipelines() -> Any:
    spec = importlib.util.spec_from_file_location(
        "dit_tiny_pipelines", ROOT / "tests" / "anygen" / "tiny_pipelines.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


@pytest.fixture(scope="module")
def wan(tmp_path_factory: pytest.TempPathFactory) -> tuple[DiffusersAdapter, Path]:
    folder = _tiny_pipelines().save("wan", tmp_path_factory.mktemp("wan"))
    return DiffusersAdapter.load("wan", str(folder), {}, "cpu", steps=4), folder


REQS = [GenerationRequest(id=f"p{i}", seed=i, frames=5, height=32, width=32, fps=16.0,
                          prompt=p) for i, p in enumerate(["a red square", "a blue disc"])]


def _frames(gen: Any, reqs: list[GenerationRequest]) -> list[torch.Tensor]:
    return [v.frames for v in gen.generate(reqs)]


def test_calibration_command_and_every_cache_method_on_wan(
        wan: tuple[DiffusersAdapter, Path], tmp_path: Path) -> None:
    gen, folder = wan
    ratios = tmp_path / "wan.json"
    calibrate_main(["--model", "diffusers", "--weights", str(folder), "--steps", "4",
                    "--videos", "2", "--prompt", "a red square", "--prompt", "a blue disc",
                    "--frames", "5", "--height", "32", "--width", "32", "--fps", "16",
                    "--out", str(ratios)])
    data = json.loads(ratios.read_text())
    assert data["adapter"] == "diffusers" and data["steps"] == 4 and len(data["ratios"]) == 4
    assert data["weights_sha256"] == gen.describe().weights_sha256
    assert len(data["per_video"]) == 4  # 2 videos × the cond and uncond contexts

    transformer = gen.transformer()
    before = state_hash(transformer)
    base = _frames(gen, REQS)
    methods = [("firstblockcache", {"threshold": 0.0}, {"threshold": 5.0}),
               ("fastercache", {"timestep_range": [10, 10]},
                {"spatial_every": 2, "timestep_range": [-1, 900]}),
               ("taylorseer", {"cache_interval": 1}, {"cache_interval": 2, "warmup": 1}),
               ("magcache", {"max_skip_steps": 0, "ratios": str(ratios)},
                {"threshold": 10.0, "retention_ratio": 0.0, "ratios": str(ratios)}),
               ("pab", {"timestep_range": [1, 1]},
                {"spatial_every": 2, "cross_every": 2, "timestep_range": [0, 950]})]
    for name, identity, changing in methods:
        with transformed(gen, make_transforms([TransformSpec(name=name, options=identity)],
                                              model="w"), model="w"):
            assert all(torch.equal(a, b) for a, b in zip(base, _frames(gen, REQS), strict=True))
        ts = make_transforms([TransformSpec(name=name, options=changing)], model="w")
        with transformed(gen, ts, model="w") as applied:
            both = _frames(gen, REQS)
        assert applied[0]["installed"]["transformer"] == "WanTransformer3DModel"
        with transformed(gen, ts, model="w"):
            fresh = _frames(gen, REQS[1:])
        assert any(not torch.equal(a, b) for a, b in zip(base, both, strict=True)), name
        assert torch.equal(both[1], fresh[0]), name
        assert state_hash(transformer) == before
        assert not any("forward" in m.__dict__ for m in transformer.modules())
    assert all(torch.equal(a, b) for a, b in zip(base, _frames(gen, REQS), strict=True))


def test_calibration_command_refuses_a_unet_model_with_exit_2(tmp_path: Path,
                                                              capsys: Any) -> None:
    with pytest.raises(SystemExit) as e:
        calibrate_main(["--model", "synth-t2v", "--videos", "1", "--out",
                        str(tmp_path / "x.json")])
    assert e.value.code == 2
    assert "no diffusers transformer" in capsys.readouterr().err
    assert not (tmp_path / "x.json").exists()
