"""docs/architecture.md's "How to add …" recipes, followed to the letter in a temporary package:
a tiny model adapter, metric, transform and compressor (the first three with their torch-free
config classes in a module of their own), registered by "module:attr" name, are listed,
validated, compressed (``vdmbench compress``) and run (``vdmbench run``) by the harness without
any change to vdmbench."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from vdmbench.catalog import COMPRESSORS, METRICS, MODELS, TRANSFORMS
from vdmbench.cli import main
from vdmbench.leaderboard import load_records

CONFIGS = '''
"""What validate reads of the tiny model, metric and transform (imports no torch)."""
from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from vdmbench.acceleration import Transform
from vdmbench.metrics.base import Metric


class TinyOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    level: int = Field(100, ge=0, le=255)


class TinyAdapterConfig:
    Options: ClassVar[type[BaseModel]] = TinyOptions
    has_denoiser: ClassVar[bool] = True


class MeanLevelConfig(Metric):
    name: ClassVar[str] = "tiny_mean_level"


class ScaleOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    factor: float = 0.5


class ScaleGainConfig(Transform):
    name: ClassVar[str] = "tiny-scale"
    Options: ClassVar[type[BaseModel]] = ScaleOptions
'''

PACKAGE = '''
"""A tiny model, metric, transform and compressor, made as docs/architecture.md says."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import torch
from pydantic import BaseModel, ConfigDict
from torch import nn

from vdmbench.acceleration import Compressor
from vdmbench.diffusion.denoiser import DenoiserSpec
from vdmbench.generation import ModelCard
from vdmbench.metrics.base import MetricValue
from vdmbench.training_data.spec import TrainingDataSpec
from vdmbench.video import Video
from tiny_recipes_config import MeanLevelConfig, ScaleGainConfig, TinyAdapterConfig


class TinyUNet(nn.Module):
    """The "UNet": one gain on the pixels."""

    def __init__(self, gain: float) -> None:
        super().__init__()
        self.gain = nn.Parameter(torch.tensor(gain))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gain


class TinyDenoiser(DenoiserSpec):
    def batch(self, n: int, seed: int, split: str = "train") -> dict[str, torch.Tensor]:
        return {"x0": torch.zeros(n, 1, 3, 4, 4)}

    def encode_inputs(self, x_noisy, sigma, batch):
        return {"x": x_noisy}

    def precondition(self, x_noisy, sigma, raw):
        return raw


class TinyAdapter(TinyAdapterConfig):
    """Videos of one grey level times the UNet's gain; a student directory sets the gain."""

    def __init__(self, name, options, gain, steps, dtype, weights) -> None:
        self.name, self.options, self.steps, self.dtype = name, options, steps, dtype
        self.unet, self.weights = TinyUNet(gain), weights

    @classmethod
    def load(cls, name, weights, options, device, steps=None, dtype="float32"):
        gain = 1.0
        if weights is not None:
            gain = json.loads((Path(weights) / "compression.json").read_text())["gain"]
        return cls(name, options, gain, steps or 2, dtype, weights)

    @classmethod
    def teacher(cls, weights, device="cpu", *, frames=None, options=None, dtype="float32"):
        return cls.load("tiny-model", weights, cls.Options(**(options or {})), device).denoiser()

    def denoiser(self) -> TinyDenoiser:
        return TinyDenoiser(self.unet, weights=self.weights)

    def generate(self, requests):
        out = []
        for r in requests:
            x = torch.full((r.frames, r.height, r.width, 3), float(self.options.level))
            with torch.no_grad():
                y = self.unet(x)
            out.append(Video(y.round().clamp(0, 255).to(torch.uint8), r.fps))
        return out

    def describe(self) -> ModelCard:
        return ModelCard(name=self.name, adapter="tiny-model", params={"unet": 1},
                         dtype=self.dtype, steps=self.steps, frames=4, height=16, width=16,
                         weights_sha256=f"gain-{float(self.unet.gain.detach())}")

    def components(self, request):
        return {"denoise": lambda: self.unet(torch.zeros(1))}


class MeanLevel(MeanLevelConfig):
    """Mean pixel value of the generated videos (higher is better)."""

    version: ClassVar[str] = "1"
    higher_is_better: ClassVar[bool] = True

    def __init__(self, options, context) -> None:
        super().__init__(options, context)
        self.values: list[float] = []

    def update(self, videos, requests, teacher_videos=None) -> None:
        self.values += [float(v.frames.float().mean()) for v in videos]

    def compute(self) -> MetricValue:
        return MetricValue(value=sum(self.values) / len(self.values), n=len(self.values))


class ScaleGain(ScaleGainConfig):
    """Multiplies the denoiser's gain; restores it exactly."""

    def _attach(self, generator):
        unet = self.denoiser(generator).unet
        before = unet.gain.data.clone()
        unet.gain.data.mul_(self.options.factor)
        return (lambda: unet.gain.data.copy_(before)), {"scaled": "unet.gain"}


class TinyRecipe(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    model: str = "tiny-model"
    data: TrainingDataSpec = TrainingDataSpec(frames=4)
    gain: float = 0.25


class TinyCompressor(Compressor):
    """Writes a student directory whose gain is the teacher's times ``recipe.gain``."""

    name: ClassVar[str] = "tiny-compress"
    Recipe: ClassVar[type[BaseModel]] = TinyRecipe

    def default_recipe(self, model: str) -> TinyRecipe:
        return TinyRecipe(model=model)

    def load_recipe(self, path) -> TinyRecipe:
        return TinyRecipe.model_validate_json(Path(path).read_text())

    def fit(self, teacher, recipe, out, **options: Any) -> Path:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        gain = float(teacher.unet.gain.detach()) * recipe.gain
        (out / "compression.json").write_text(json.dumps(
            {"base_model": teacher.name, "base_weights": teacher.weights, "classes": {},
             "gain": gain}))
        return out
'''

ENTRIES = [(MODELS, "tiny-model", "tiny_recipes:TinyAdapter",
            "tiny_recipes_config:TinyAdapterConfig"),
           (METRICS, "tiny_mean_level", "tiny_recipes:MeanLevel",
            "tiny_recipes_config:MeanLevelConfig"),
           (TRANSFORMS, "tiny-scale", "tiny_recipes:ScaleGain",
            "tiny_recipes_config:ScaleGainConfig"),
           (COMPRESSORS, "tiny-compress", "tiny_recipes:TinyCompressor", None)]


@pytest.fixture
def registered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The temporary package on sys.path, each class registered as the recipes say (the
    registries are restored after the test)."""
    (tmp_path / "tiny_recipes.py").write_text(PACKAGE)
    (tmp_path / "tiny_recipes_config.py").write_text(CONFIGS)
    monkeypatch.syspath_prepend(str(tmp_path))
    for registry, name, target, config in ENTRIES:
        for attr in ("_targets", "_summaries", "_configs", "_loaded"):
            monkeypatch.setattr(registry, attr, dict(getattr(registry, attr)))
        registry.add(name, target, f"recipe test: {name}", config=config)


def _cli(*args: str) -> str:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_the_recipes_add_a_model_metric_transform_and_compressor(
        registered: None, tmp_path: Path) -> None:
    for kind, name in (("models", "tiny-model"), ("metrics", "tiny_mean_level"),
                       ("transforms", "tiny-scale"), ("compressors", "tiny-compress")):
        assert name in _cli("ls", kind)
    student = tmp_path / "student"
    assert "student written to" in _cli("compress", "--model", "tiny-model", "--method",
                                        "tiny-compress", "--out", str(student))
    assert json.loads((student / "compression.json").read_text())["gain"] == 0.25
    suite = tmp_path / "tiny.yaml"
    suite.write_text(yaml.safe_dump({
        "schema_version": 2, "name": "tiny-recipes", "task": "i2v",
        "dataset": {"name": "test-patterns", "num_videos": 2, "frames": 4, "height": 16,
                    "width": 16, "seed": 1},
        "models": [{"name": "teacher", "adapter": "tiny-model"},
                   {"name": "scaled", "adapter": "tiny-model",
                    "transforms": [{"name": "tiny-scale", "options": {"factor": 0.5}}]},
                   {"name": "student", "adapter": "tiny-model", "weights": str(student)}],
        "metrics": [{"name": "tiny_mean_level"}],
        "speed": {"enabled": False}, "reference_model": "teacher"}, sort_keys=False))
    assert "ok (i2v, 3 models, 1 metrics" in _cli("validate", str(suite))
    _cli("run", str(suite), "--out", str(tmp_path / "out"), "--quiet")
    records = {r["model"]["name"]: r for r in load_records(tmp_path / "out")}
    level = {n: r["metrics"]["tiny_mean_level"]["value"] for n, r in records.items()}
    assert level == {"teacher": 100.0, "scaled": 50.0, "student": 25.0}
    assert records["scaled"]["model"]["card"]["transforms"][0]["installed"] == \
        {"scaled": "unet.gain"}
