"""The synth-i2v adapter: loading (teacher, random, student directories), reproducibility,
shapes, model card, components, errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from conftest import make_requests
from safetensors.torch import load_file

from vdmbench.diffusion.edm import karras_sigmas
from vdmbench.errors import ConfigError, VdmbenchError, WeightsNotFoundError
from vdmbench.generation import ModelCard, VideoGenerator
from vdmbench.models.synth_i2v import (
    TEACHER_DIR,
    WEIGHTS_FILE,
    SynthI2VAdapter,
    build_random_model,
    load_teacher_unet,
    save_model_dir,
)
from vdmbench.paths import sha256_tree


def _load(weights: Path | None = None, **kw: object) -> SynthI2VAdapter:
    opts = kw.pop("options", {"batch_size": 2})
    return SynthI2VAdapter.load("m", None if weights is None else str(weights), opts, "cpu",
                                **kw)


def test_teacher_loads_and_describes() -> None:
    a = _load(steps=3)
    assert isinstance(a, VideoGenerator)
    card = a.describe()
    assert isinstance(card, ModelCard)
    assert card.adapter == "synth-i2v" and card.steps == 3 and card.dtype == "float32"
    assert (card.frames, card.height, card.width) == (8, 16, 16)
    assert set(card.params) == {"unet", "image_encoder"}
    assert card.params["unet"] == sum(p.numel() for p in a.pipeline.unet.parameters())
    assert 1_000_000 < card.params["unet"] < 6_000_000
    assert card.weights_sha256 == sha256_tree(TEACHER_DIR)
    assert card.sampler["sigma_max"] > card.sampler["sigma_min"] > 0
    assert card.sampler["steps"] == 3
    size = sum(f.stat().st_size for f in TEACHER_DIR.rglob("*") if f.is_file())
    assert size <= 10 * 2**20
    unet = load_teacher_unet()
    assert [type(b).__name__ for b in unet.down_blocks] == [
        "CrossAttnDownBlockSpatioTemporal"] * 3 + ["DownBlockSpatioTemporal"]
    assert all(len(b.resnets) == 2 for b in unet.down_blocks)


def test_generate_reproducible_and_seeded(requests4: list) -> None:
    a = _load(steps=2)
    v1 = a.generate(requests4[:2])
    v2 = a.generate(requests4[:2])
    assert len(v1) == 2
    for v, r in zip(v1, requests4[:2], strict=True):
        assert v.frames.dtype == torch.uint8
        assert tuple(v.frames.shape) == (r.frames, r.height, r.width, 3)
        assert v.fps == r.fps
    assert all(torch.equal(x.frames, y.frames) for x, y in zip(v1, v2, strict=True))
    other = [type(r)(**{**r.__dict__, "seed": r.seed + 1}) for r in requests4[:2]]
    v3 = a.generate(other)
    assert not torch.equal(v1[0].frames, v3[0].frames)


def test_video_independent_of_batching(random_dir: Path, requests4: list) -> None:
    a = _load(random_dir, options={"batch_size": 3})
    together = a.generate(requests4)  # batches of 3 and 1 (padded)
    alone = a.generate([requests4[3]]) + a.generate([requests4[1]])
    assert torch.equal(together[3].frames, alone[0].frames)
    assert torch.equal(together[1].frames, alone[1].frames)


def test_components_run(requests4: list) -> None:
    a = _load(steps=2)
    comps = a.components(requests4[0])
    assert set(comps) == {"encode", "denoise", "decode", "video"}
    ctx = comps["encode"]()
    assert tuple(ctx.shape) == (1, 1, a.pipeline.unet.config.cross_attention_dim)
    den = comps["denoise"]()
    assert tuple(den.shape) == (1, 8, 3, 16, 16) and torch.isfinite(den).all()
    dec = comps["decode"]()
    assert dec.dtype == torch.uint8 and tuple(dec.shape) == (1, 8, 16, 16, 3)
    # the batch-1 whole video equals generate() up to batch-size rounding (padded to 8 there)
    whole = comps["video"]()[0].int()
    gen = a.generate([requests4[0]])[0].frames.int()
    assert whole.shape == gen.shape and (whole - gen).abs().float().mean() < 1.0


def test_random_model_dir_loads(random_dir: Path, requests4: list) -> None:
    a = _load(random_dir)
    assert a.describe().weights_sha256 == sha256_tree(random_dir)
    assert a.pipeline.unet.config.cross_attention_dim == 16
    (v,) = a.generate(requests4[:1])
    assert tuple(v.frames.shape) == (8, 16, 16, 3)


def test_student_dir_takes_missing_parts_from_base(random_dir: Path, tmp_path: Path) -> None:
    student = tmp_path / "student"
    shutil.copytree(random_dir / "unet", student / "unet")
    (student / "compression.json").write_text(json.dumps({"base_weights": str(random_dir)}))
    a = _load(student)
    assert a.resolved.sources == {"unet": student.resolve(), "image_encoder": random_dir.resolve(),
                                  "sampler": random_dir.resolve()}
    want = load_file(str(random_dir / "image_encoder" / WEIGHTS_FILE))
    got = a.pipeline.image_encoder.state_dict()
    assert all(torch.equal(got[k], want[k]) for k in want)
    assert a.describe().weights_sha256 not in (sha256_tree(student), sha256_tree(random_dir))

    # base_weights null = the shipped teacher (its encoder has cross_attention_dim 32, so a
    # student UNet must match it: use the teacher's own UNet files)
    s2 = tmp_path / "student2"
    shutil.copytree(TEACHER_DIR / "unet", s2 / "unet")
    (s2 / "compression.json").write_text(json.dumps({"base_weights": None}))
    b = _load(s2)
    assert b.resolved.sources["image_encoder"] == TEACHER_DIR.resolve()
    assert b.resolved.sampler_file == TEACHER_DIR.resolve() / "sampler.json"

    # a student of another adapter is refused, naming its compression.json
    (s2 / "compression.json").write_text(json.dumps({"base_model": "synth-t2v",
                                                    "base_weights": None}))
    with pytest.raises(ConfigError, match="synth-t2v"):
        _load(s2)


def test_missing_files_name_the_file(random_dir: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(random_dir, broken)
    (broken / "unet" / WEIGHTS_FILE).unlink()
    with pytest.raises(WeightsNotFoundError, match=f"unet.*{WEIGHTS_FILE}"):
        _load(broken)
    # a variant file beside it is named (this loader reads only the plain file)
    shutil.copy(random_dir / "unet" / WEIGHTS_FILE,
                broken / "unet" / WEIGHTS_FILE.replace(".safetensors", ".fp16.safetensors"))
    with pytest.raises(WeightsNotFoundError, match="found diffusion_pytorch_model.fp16"):
        _load(broken)
    with pytest.raises(WeightsNotFoundError, match="directory not found"):
        _load(tmp_path / "nowhere")
    student = tmp_path / "student"
    (student / "unet").mkdir(parents=True)
    (student / "compression.json").write_text(json.dumps({"no_base": 1}))
    with pytest.raises(ConfigError, match="base_weights"):
        _load(student)


def test_bad_requests_and_options(random_dir: Path) -> None:
    a = _load(random_dir)
    (wrong,) = make_requests(1, size=24)
    with pytest.raises(VdmbenchError, match=wrong.id):
        a.generate([wrong])
    (r,) = make_requests(1)
    bad = type(r)(**{**r.__dict__, "extra": {"motion_class": 99}})
    with pytest.raises(VdmbenchError, match=r.id):
        a.generate([bad])
    with pytest.raises(ConfigError, match="options"):
        _load(random_dir, options={"sigma_maxx": 3})
    with pytest.raises(ConfigError, match="dtype"):
        _load(random_dir, dtype="int8")


def test_triton_kernels(random_dir: Path, requests4: list) -> None:
    """The transform "triton" installs into the adapter's UNet (same step output up to
    rounding) and is removed when its context exits."""
    from vdmbench.acceleration import make_transforms, transformed
    from vdmbench.suite import TransformSpec

    fast = _load(random_dir)
    (t,) = make_transforms([TransformSpec(name="triton")], model="m")
    with transformed(fast, [t], model="m") as applied:
        assert applied[0]["name"] == "triton" and applied[0]["installed"]["unet"]
        got = fast.components(requests4[0])["denoise"]()  # one UNet step (interpreted: slow)
    ref = _load(random_dir).components(requests4[0])["denoise"]()
    assert torch.allclose(got, ref, atol=1e-3, rtol=1e-3), (got - ref).abs().max()


def test_karras_schedule() -> None:
    s = karras_sigmas(4, 0.002, 20.0, 7.0)
    assert s.shape == (5,) and s[-1] == 0
    assert torch.allclose(s[[0, 3]], torch.tensor([20.0, 0.002]))
    assert bool((s[:-1].diff() < 0).all())
    with pytest.raises(ConfigError):
        karras_sigmas(0, 0.002, 20.0, 7.0)


def test_float16_weights_load_as_float32(tmp_path: Path) -> None:
    pipe = build_random_model(seed=5, channels=(32, 32, 32, 32), heads=(1, 1, 1, 1),
                              cross_attention_dim=16, encoder_channels=(8, 16))
    save_model_dir(tmp_path, pipe.unet, pipe.image_encoder, pipe.sampler, dtype=torch.float16)
    stored = load_file(str(tmp_path / "unet" / WEIGHTS_FILE))
    assert all(v.dtype == torch.float16 for v in stored.values())
    a = _load(tmp_path)
    got = a.pipeline.unet.state_dict()
    want = pipe.unet.state_dict()
    assert all(got[k].dtype == torch.float32 for k in want)
    assert all(torch.equal(got[k], want[k].half().float()) for k in want)
