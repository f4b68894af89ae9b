"""The synthetic DiT (``synth-dit-t2v``): deterministic, its shipped weights are the seeded
random model, its suite runs end to end at small n, and a cache transform on a UNet model
stops a run with exit status 2."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import yaml
from click.testing import CliRunner

from vdmbench.cli import main
from vdmbench.leaderboard import load_records

ROOT = Path(__file__).resolve().parents[2]
torch.set_num_threads(1)


def _requests(n: int) -> list[Any]:
    from vdmbench.data.synthmotion import SynthMotionDataset
    from vdmbench.suite import DatasetSpec

    spec = DatasetSpec(name="synthmotion", split="test", num_videos=n, frames=8, height=16,
                       width=16, fps=8, seed=0)
    return SynthMotionDataset(spec).requests()


def test_deterministic_and_shipped_weights_are_the_seeded_model() -> None:
    from vdmbench.catalog import MODELS
    from vdmbench.models.synth_dit_pipeline import build_random

    gen = MODELS.get("synth-dit-t2v").load("d", None, {}, "cpu")
    reqs = _requests(3)
    a = [v.frames for v in gen.generate(reqs)]
    b = [v.frames for v in gen.generate(reqs[1:2])]
    assert torch.equal(a[1], b[0]), "a video depends on its request and seed alone"
    assert not torch.equal(a[0], a[1])
    assert a[0].shape == (8, 16, 16, 3) and a[0].dtype == torch.uint8
    transformer, text_encoder = build_random(0)
    for built, shipped in ((transformer, gen.pipe.transformer),
                           (text_encoder, gen.pipe.text_encoder)):
        sd = shipped.state_dict()
        assert all(torch.equal(v, sd[k]) for k, v in built.state_dict().items())
    card = gen.describe()
    assert card.adapter == "synth-dit-t2v" and card.steps == 8 and card.cfg
    spec = gen.denoiser()
    batch = spec.batch(2, seed=0)
    x0 = spec.sample(spec.unet, batch, seed=0, steps=2)
    assert x0.shape == batch["x0"].shape
    sigma = torch.tensor([0.5, 0.5])
    d = spec.denoise(spec.unet, spec.noise_input(batch["x0"], torch.randn_like(batch["x0"]),
                                                 sigma), sigma, batch)
    assert d.shape == batch["x0"].shape and torch.isfinite(d).all()


def _small_suite(tmp_path: Path, models: list[dict[str, Any]] | None = None) -> Path:
    data = yaml.safe_load((ROOT / "suites" / "synth_dit_t2v.yaml").read_text())
    data["speed"] = {"warmup": 0, "iterations": 1, "min_seconds": 0.0, "components": []}
    for m in data["metrics"]:
        if m["name"] == "is_synth":
            m["options"] = {"splits": 2}
    if models is not None:
        data["models"] = models
    path = tmp_path / "synth_dit_t2v.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


#: one entry per method (and the reference): every transform end to end in under a minute
SMALL = ("dit-8step", "dit-4step", "fbc-0.12", "fastercache-attn2-uncond", "taylorseer-i2",
         "magcache-0.2", "pab-2")


def test_synth_dit_suite_small_run(tmp_path: Path) -> None:
    data = yaml.safe_load((ROOT / "suites" / "synth_dit_t2v.yaml").read_text())
    suite = _small_suite(tmp_path, [m for m in data["models"] if m["name"] in SMALL])
    out = tmp_path / "out"
    res = CliRunner().invoke(main, ["run", str(suite), "--out", str(out), "--limit", "2",
                                    "--quiet"])
    assert res.exit_code == 0, res.output
    (run,) = list((out / "synth_dit_t2v").iterdir())
    recs = {r["model"]["name"]: r for r in load_records(run)}
    names = [m["name"] for m in yaml.safe_load(suite.read_text())["models"]]
    assert set(recs) == set(names)
    keys = [r["model"]["cache_key"] for r in recs.values()]
    assert len(set(keys)) == len(keys)
    assert recs["dit-8step"]["metrics"]["psnr"]["details"]["n_identical"] == 2
    for name in names:
        if name != "dit-8step":  # every cache setting and step count changes the videos
            assert recs[name]["metrics"]["psnr"]["details"]["n_identical"] == 0, name
    installed = recs["magcache-0.2"]["model"]["card"]["transforms"][0]["installed"]
    assert installed["config"] == "MagCacheConfig" and installed["hooked_modules"] == 4


def test_cache_transform_on_a_unet_model_exits_2(tmp_path: Path) -> None:
    """Refused by ``validate`` and by ``run`` before any model loads: the UNet adapters hand out
    no transformer."""
    suite = _small_suite(tmp_path, models=[
        {"name": "unet", "adapter": "synth-t2v", "steps": 2,
         "transforms": [{"name": "firstblockcache", "options": {"threshold": 0.1}}]}])
    data = yaml.safe_load(suite.read_text())
    data["reference_model"] = "unet"
    data["metrics"] = [{"name": "psnr"}]
    suite.write_text(yaml.safe_dump(data, sort_keys=False))
    for args in (["validate", str(suite)],
                 ["run", str(suite), "--out", str(tmp_path / "o"), "--limit", "2", "--quiet"]):
        res = CliRunner().invoke(main, args)
        assert res.exit_code == 2, res.output
        assert "transformer models (CacheMixin" in res.output
        assert "transform 'firstblockcache' does not apply to adapter 'synth-t2v'" in res.output
    assert not (tmp_path / "o").exists()
