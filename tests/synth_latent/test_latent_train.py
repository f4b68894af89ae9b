"""The latent world's training scripts: a stopped run resumes to exactly the weights of an
unbroken run (the VAE's and the latent teacher's), the VAE export records its sha256 and
scale, and the teacher's latents come through the content-keyed latent cache."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from vdmbench.models.synth_latent_i2v_vae import VAE_RECORD, VAE_WEIGHTS, load_vae
from vdmbench.paths import sha256_file
from vdmbench.synth import train_latent_i2v, train_vae
from vdmbench.synth.latent_clips import SynthMotionLatents

VAE_ARGS = ["--batch", "1", "--threads", "1", "--checkpoint-every", "1", "--channels", "32",
            "32", "32", "--eval-clips", "1", "--eval-every", "2", "--warmup", "1"]


def _weights(path: Path) -> dict[str, torch.Tensor]:
    return load_file(path)


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.fixture(scope="module")
def vae_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("vae_runs")
    whole, split = root / "whole", root / "split"
    train_vae.train(train_vae.parse_args(["--out", str(whole), "--steps", "3", *VAE_ARGS]))
    train_vae.train(train_vae.parse_args(["--out", str(split), "--steps", "2", *VAE_ARGS]))
    train_vae.train(train_vae.parse_args(["--out", str(split), "--steps", "3", *VAE_ARGS]))
    return whole, split


def test_vae_resumed_run_equals_unbroken_run(vae_runs: tuple[Path, Path]) -> None:
    whole, split = vae_runs
    assert _same(_weights(whole / "vae" / VAE_WEIGHTS), _weights(split / "vae" / VAE_WEIGHTS))
    with (split / "loss.csv").open() as f:
        assert [int(r["step"]) for r in csv.DictReader(f)] == [0, 1, 2]
    record = json.loads((split / "vae" / VAE_RECORD).read_text())
    assert record["steps"] == 3
    assert record["sha256"] == sha256_file(split / "vae" / VAE_WEIGHTS)
    vae = load_vae(split / "vae")
    assert vae.config.scaling_factor == pytest.approx(record["scaling_factor"])
    assert record["eval"]["psnr_bilinear"] > 0


def test_teacher_resumed_run_equals_unbroken_run(vae_runs: tuple[Path, Path],
                                                 tmp_path: Path) -> None:
    vae_dir = vae_runs[0] / "vae"
    args = ["--vae", str(vae_dir), "--batch", "2", "--threads", "1", "--checkpoint-every",
            "1", "--pool", "256", "--heads", "1", "1", "1", "1"]
    whole, split = tmp_path / "whole", tmp_path / "split"
    train_latent_i2v.train(train_latent_i2v.parse_args(
        ["--out", str(whole), "--steps", "3", *args]))
    assert train_latent_i2v.train(train_latent_i2v.parse_args(
        ["--out", str(split), "--steps", "3", "--max-minutes", "0", *args])) is None
    log = train_latent_i2v.train(train_latent_i2v.parse_args(
        ["--out", str(split), "--steps", "3", *args]))
    assert log is not None and log["steps"] == 3
    assert log["vae_sha256"] == sha256_file(vae_dir / VAE_WEIGHTS)
    for comp in ("unet", "image_encoder"):
        f = Path(comp) / "diffusion_pytorch_model.safetensors"
        assert _same(_weights(whole / f), _weights(split / f)), comp
    # the latent cache: content-keyed (another VAE, another folder), reused by a second run
    first = SynthMotionLatents(whole / "latents", load_vae(vae_dir), pool=256)
    assert first.result.encoded == 0 and first.result.clips == 256
    other = load_vae(vae_runs[1] / "vae")
    other.encoder.conv_in.bias.data += 1.0  # a different encoder, same architecture
    second = SynthMotionLatents(whole / "latents", other, pool=256, shard_clips=256)
    assert second.result.key != first.result.key and second.result.encoded == 256
    b = first.batch(1, 4)
    assert b["latents"].shape == (4, 8, 4, 8, 8) and b["latents"].dtype == torch.float32
    from vdmbench.data.synthmotion import sample_meta
    assert b["motion"].tolist() == [sample_meta(i, "train", 0).motion for i in range(4, 8)]
    # cached latents are the VAE's encoding of the clip, rounded to float16
    from vdmbench.models.synth_latent_i2v_vae import encode_frames
    from vdmbench.synth.train_vae import clips
    vae = load_vae(vae_dir)
    direct = torch.cat([encode_frames(vae, clips([i], "train", 8, 32)) for i in range(4, 8)])
    # clip by clip as the encoder does; float16 storage, so equal to its rounding
    assert torch.allclose(b["latents"], direct, rtol=2e-3, atol=1e-3)


def test_chroma_weight_marks_the_coloured_pixels() -> None:
    x = train_vae.clips([0, 1, 2, 3], "val", 2, 32)
    c = train_vae.chroma(x)
    assert c.shape == (4, 2, 1, 32, 32) and float(c.min()) >= 0 and float(c.max()) <= 1
    grey = torch.zeros(1, 1, 3, 4, 4).uniform_(-1, 1)[:, :, :1].expand(1, 1, 3, 4, 4)
    assert float(train_vae.chroma(grey).abs().max()) == 0.0
    # SynthMotion: grey backgrounds, coloured objects (white ones aside): few coloured pixels
    frac = float((c > 0.2).float().mean())
    assert 0.005 < frac < 0.3, frac
