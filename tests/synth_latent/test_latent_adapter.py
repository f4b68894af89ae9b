"""The synth-latent-i2v adapter on a tiny random model directory: determinism, components,
the denoiser's latent convention and VAE component, student directories, bad requests."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch
from latent_helpers import make_requests, tiny_vae

from vdmbench.catalog import MODELS
from vdmbench.errors import ConfigError, VdmbenchError
from vdmbench.models.synth_latent_i2v import SynthLatentI2VAdapter
from vdmbench.models.synth_latent_i2v_vae import save_vae


def _load(d: Path, **opts) -> SynthLatentI2VAdapter:
    return SynthLatentI2VAdapter.load("m", str(d), opts, "cpu")


def test_registered() -> None:
    assert MODELS.get("synth-latent-i2v") is SynthLatentI2VAdapter


def test_fixed_seed_gives_bit_identical_videos(random_dir: Path) -> None:
    reqs = make_requests(5)
    a = _load(random_dir, batch_size=2).generate(reqs)
    b = _load(random_dir, batch_size=2).generate(reqs[3:] + reqs[:3])  # other calls, order
    by_id = dict(zip([r.id for r in reqs[3:] + reqs[:3]], b, strict=True))
    for r, v in zip(reqs, a, strict=True):
        assert v.frames.shape == (8, 32, 32, 3) and v.frames.dtype == torch.uint8
        assert torch.equal(v.frames, by_id[r.id].frames), r.id
    other = _load(random_dir, batch_size=2).generate(
        [dataclasses.replace(reqs[0], seed=reqs[0].seed + 1)])
    assert not torch.equal(other[0].frames, a[0].frames)


def test_components_time_encode_denoise_decode(random_dir: Path) -> None:
    m = _load(random_dir)
    req = make_requests(1)[0]
    comps = m.components(req)
    assert set(comps) == {"encode", "denoise", "decode", "video"}
    assert comps["encode"]().shape == (1, 1, 16)
    assert comps["denoise"]().shape == (1, 8, 4, 8, 8)
    assert comps["decode"]().shape == (1, 8, 32, 32, 3)
    # "video" is one video at batch 1: what generate gives with batch_size 1
    assert torch.equal(comps["video"]()[0], _load(random_dir, batch_size=1).generate([req])[0]
                       .frames)
    card = m.describe()
    assert card.params["vae_decoder"] > 0 and card.params["vae_encoder"] > 0
    assert (card.frames, card.height, card.width) == (8, 32, 32)


def test_denoiser_is_latent_and_exposes_the_vae(random_dir: Path) -> None:
    spec = SynthLatentI2VAdapter.teacher(str(random_dir))
    vae = spec.component("vae")
    assert vae is spec.pipe.vae and set(spec.modules) == {"unet", "image_encoder", "vae"}
    b = spec.batch(2, seed=1)
    assert b["x0"].shape == (2, 8, 4, 8, 8) and b["cond"].shape == (2, 4, 8, 8)
    again = spec.batch(2, seed=1)
    assert all(torch.equal(b[k], again[k]) for k in b)
    # x0 is the scaled VAE latent of the clip: decoding it is the VAE's reconstruction
    with torch.no_grad():
        rec = vae.decode(b["x0"].flatten(0, 1) / vae.config.scaling_factor, num_frames=8).sample
    assert torch.allclose(spec.pipe.decode(b["x0"]).flatten(0, 1), rec)
    x = spec.sample(spec.unet, b, seed=0, steps=2)
    assert x.shape == b["x0"].shape
    v = spec.to_video(x)
    assert v.shape == (2, 8, 32, 32, 3) and v.dtype == torch.uint8
    d = spec.denoise(spec.unet, b["x0"], torch.full((2,), 0.5), b)
    assert d.shape == b["x0"].shape
    with pytest.raises(ConfigError, match="8-frame"):
        SynthLatentI2VAdapter.teacher(str(random_dir), frames=16)


def test_student_vae_overrides_and_changes_hash(random_dir: Path, tmp_path: Path) -> None:
    student = tmp_path / "student"
    save_vae(student / "vae", tiny_vae(seed=9), dtype=torch.float32)
    (student / "compression.json").write_text(json.dumps(
        {"base_model": "synth-latent-i2v", "base_weights": str(random_dir)}))
    base, stu = _load(random_dir), _load(student)
    assert stu.pipeline.unet is not base.pipeline.unet
    ka = base.pipeline.vae.state_dict()
    kb = stu.pipeline.vae.state_dict()
    assert any(not torch.equal(ka[k], kb[k]) for k in ka)
    assert base.describe().weights_sha256 != stu.describe().weights_sha256
    req = make_requests(1)
    assert not torch.equal(base.generate(req)[0].frames, stu.generate(req)[0].frames)


def test_bad_requests_and_options(random_dir: Path) -> None:
    m = _load(random_dir)
    req = make_requests(1, size=16)[0]
    with pytest.raises(VdmbenchError, match="32×32"):
        m.generate([req])
    with pytest.raises(ConfigError, match="options"):
        _load(random_dir, nonsense=1)
    with pytest.raises(ConfigError):
        _load(random_dir, noise_aug_strength=-1.0)
