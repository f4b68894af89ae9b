"""VAE decoder pruning: cuts, Torch-Pruning channels, save format, fine-tuning, compress wiring."""

from __future__ import annotations

import itertools
import json

import pytest
import torch
from diffusers import AutoencoderKLTemporalDecoder
from safetensors.torch import load_file, save_file
from torch import nn

from compression.recipe import Recipe, load_recipe
from compression.vae_cuts import prune_decoder
from compression.vae_finetune import LPIPSVGG, finetune_decoder, load_lpips_vgg
from vdmbench.errors import ConfigError, WeightsNotFoundError
from vdmbench.models.pruned_vae import (
    CONFIG_KEY,
    IdentityDecoderMidBlock,
    PrunedAutoencoderKLTemporalDecoder,
    decode,
    decoder_params,
    load_pruned_vae,
    save_pruned_vae,
)


def tiny_vae(levels: int = 4, seed: int = 0) -> AutoencoderKLTemporalDecoder:
    """SVD's temporal VAE with 64 channels per level (diffusers hard-codes 32 norm groups in the
    decoder, so 64 is the smallest width that can lose channels)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return AutoencoderKLTemporalDecoder(
            block_out_channels=(64,) * levels, down_block_types=("DownEncoderBlock2D",) * levels,
            layers_per_block=2, latent_channels=4).eval()


def latents(seed: int, n: int = 4, size: int = 4) -> torch.Tensor:
    return torch.randn(n, 4, size, size, generator=torch.Generator().manual_seed(seed))


@pytest.fixture(scope="module")
def teacher() -> AutoencoderKLTemporalDecoder:
    return tiny_vae()


@pytest.fixture(scope="module")
def pruned(teacher) -> PrunedAutoencoderKLTemporalDecoder:
    torch.set_num_threads(1)
    return prune_decoder(teacher)


def test_prune_cuts_and_channels(teacher, pruned):
    before = decoder_params(teacher)
    assert isinstance(teacher.decoder.mid_block, nn.Module)
    assert not isinstance(teacher.decoder.mid_block, IdentityDecoderMidBlock)  # not modified
    assert decoder_params(pruned) < 0.3 * before
    dec = pruned.decoder
    assert isinstance(dec.mid_block, IdentityDecoderMidBlock)
    assert len(dec.up_blocks[-1].resnets) == 1 and len(dec.up_blocks[0].resnets) == 3
    assert dec.conv_in.out_channels == 32 and dec.conv_out.out_channels == 3
    assert dec.time_conv_out.in_channels == 3
    for m in dec.modules():
        if isinstance(m, nn.GroupNorm):
            assert m.num_channels % m.num_groups == 0
    assert dec.up_blocks[0].upsamplers[0].channels == 32
    z = latents(1)
    with torch.no_grad():
        assert decode(pruned, z, 2).shape == decode(teacher, z, 2).shape == (4, 3, 32, 32)
    spec = pruned.pruned_spec
    assert spec["identity"] == ["decoder.mid_block"] and spec["up_block_layers"] == {"3": 1}
    assert spec["modules"]["decoder.conv_in"] == {"type": "Conv2d", "in_channels": 4,
                                                  "out_channels": 32}
    assert spec["decoder_params_before"] == before
    assert spec["decoder_params_after"] == decoder_params(pruned)


def test_no_channel_pruning_keeps_widths(teacher):
    s = prune_decoder(teacher, channel_ratio=1.0, up_block_layers={})
    assert s.pruned_spec["modules"] == {} and len(s.decoder.up_blocks[-1].resnets) == 3
    mid = sum(p.numel() for p in teacher.decoder.mid_block.parameters())
    assert decoder_params(s) == decoder_params(teacher) - mid


def test_round_trip_bit_identical(pruned, tmp_path):
    save_pruned_vae(pruned, tmp_path / "vae")
    cfg = json.loads((tmp_path / "vae" / "config.json").read_text())
    assert cfg["_class_name"] == "PrunedAutoencoderKLTemporalDecoder"
    assert cfg["block_out_channels"] == [64, 64, 64, 64] and CONFIG_KEY in cfg
    z = latents(2)
    with torch.no_grad():
        ref = decode(pruned, z, 2)
        for loaded in (load_pruned_vae(tmp_path),  # a folder containing vae/
                       PrunedAutoencoderKLTemporalDecoder.from_pretrained(
                           str(tmp_path / "vae"), local_files_only=True, use_safetensors=True,
                           variant=None, torch_dtype=torch.float32)):
            assert torch.equal(decode(loaded, z, 2), ref)
            assert decoder_params(loaded) == decoder_params(pruned)


def test_keep_mid_block_prunes_and_round_trips(teacher, tmp_path):
    s = prune_decoder(teacher, drop_mid_block=False, up_block_layers={2: 2, 3: 1})
    attn = s.decoder.mid_block.attentions[0]
    assert attn.to_q.out_features == attn.to_v.out_features == 64  # inner width kept
    assert attn.to_q.in_features == 32
    s.save_pretrained(tmp_path / "v")
    z = latents(3)
    with torch.no_grad():
        assert torch.equal(decode(load_pruned_vae(tmp_path / "v"), z, 2), decode(s, z, 2))


def test_load_names_mismatched_keys(pruned, tmp_path):
    d = save_pruned_vae(pruned, tmp_path / "vae")
    w = d / "diffusion_pytorch_model.safetensors"
    state = load_file(str(w))
    state["decoder.conv_in.weight"] = state["decoder.conv_in.weight"][:16].contiguous()
    del state["decoder.conv_out.bias"]
    save_file(state, str(w))
    with pytest.raises(ConfigError) as e:
        load_pruned_vae(d)
    msg = str(e.value)
    assert "decoder.conv_out.bias" in msg and "decoder.conv_in.weight" in msg and str(w) in msg


def test_load_errors(pruned, tmp_path):
    with pytest.raises(WeightsNotFoundError, match="config.json"):
        load_pruned_vae(tmp_path / "nowhere")
    d = save_pruned_vae(pruned, tmp_path / "vae")
    (d / "diffusion_pytorch_model.safetensors").unlink()
    with pytest.raises(WeightsNotFoundError, match="safetensors"):
        load_pruned_vae(d)
    tiny_vae(levels=2).save_pretrained(tmp_path / "plain")
    with pytest.raises(ConfigError, match=CONFIG_KEY):
        load_pruned_vae(tmp_path / "plain")
    d2 = save_pruned_vae(pruned, tmp_path / "v2")
    cfg = json.loads((d2 / "config.json").read_text())
    cfg[CONFIG_KEY]["up_block_layers"] = {"7": 1}
    (d2 / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ConfigError, match="up block 7"):
        load_pruned_vae(tmp_path / "v2")


def test_prune_rejects_bad_ratio(teacher):
    with pytest.raises(ConfigError, match="channel_ratio"):
        prune_decoder(teacher, channel_ratio=0.0)


def test_finetune_lowers_reconstruction_loss(teacher, pruned):
    student = prune_decoder(teacher)  # a fresh copy: the fixture stays untouched
    z = latents(4)

    def rec() -> float:
        with torch.no_grad():
            return float((decode(student, z, 2) - decode(teacher, z, 2)).abs().mean())

    r0 = rec()
    res = finetune_decoder(teacher, student, itertools.repeat(z), steps=6, lr=3e-4,
                           adv_weight=0.05, num_frames=2, seed=0)
    assert res.steps == 6 and {"rec", "adv_g", "adv_d", "loss"} <= set(res.log[0])
    assert rec() < 0.8 * r0
    assert not any(p.requires_grad for p in student.parameters())
    # seeded: the same run again gives the same losses
    again = prune_decoder(teacher)
    res2 = finetune_decoder(teacher, again, itertools.repeat(z), steps=2, lr=3e-4,
                            adv_weight=0.05, num_frames=2, seed=0)
    assert [r["loss"] for r in res2.log] == [r["loss"] for r in res.log[:2]]


def test_finetune_perceptual_term_and_exhausted_iterator(teacher):
    student = prune_decoder(teacher)
    calls: list[tuple] = []

    def perceptual(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        calls.append((x.shape, y.shape))
        return (x - y).pow(2).mean()

    res = finetune_decoder(teacher, student, [latents(5)], steps=1, lr=1e-4, adv_weight=0.0,
                           perceptual=perceptual, num_frames=2)
    assert calls == [((4, 3, 32, 32), (4, 3, 32, 32))] and "perceptual" in res.log[0]
    assert "adv_g" not in res.log[0]
    with pytest.raises(ConfigError, match="ran out"):
        finetune_decoder(teacher, student, [latents(5)], steps=2, lr=1e-4, adv_weight=0.0,
                         num_frames=2)


def test_lpips_vgg_loads_real_key_names(tmp_path):
    net = LPIPSVGG()
    state = {k: torch.rand_like(v) * 0.1 for k, v in net.state_dict().items()}
    state["classifier.0.weight"] = torch.zeros(2, 2)  # rest of a torchvision VGG16: ignored
    state["features.30.weight"] = torch.zeros(1)  # … but a trunk key it cannot place is not
    p = tmp_path / "lpips.safetensors"
    save_file({k: v for k, v in state.items() if k != "features.30.weight"}, str(p))
    with pytest.raises(ConfigError, match="classifier"):
        load_lpips_vgg(p)
    del state["classifier.0.weight"]
    del state["features.30.weight"]
    save_file(state, str(p))
    lp = load_lpips_vgg(p)
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    assert float(lp(x, x)) == 0.0 and float(lp(x, x.flip(-1))) > 0.0
    del state["lin4.model.1.weight"]
    save_file(state, str(p))
    with pytest.raises(ConfigError, match="lin4"):
        load_lpips_vgg(p)
    with pytest.raises(WeightsNotFoundError, match="perceptual"):
        load_lpips_vgg(tmp_path / "missing.safetensors")


def test_recipe_vae_section(tmp_path):
    from compression.compress import compress
    from vdmbench.errors import UnsupportedError

    p = tmp_path / "r.yaml"
    p.write_text("model: synth-i2v\nvae:\n  enabled: true\n")
    with pytest.raises(UnsupportedError, match="no 'vae' component"):  # before anything is written
        compress(load_recipe(p), tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()
    p.write_text("model: sfv\nvae:\n  enabled: true\n  perceptual: 1.0\n")
    with pytest.raises(ConfigError, match="perceptual_weights"):
        load_recipe(p)
    r = Recipe(model="sfv")
    assert r.vae.channel_ratio == 0.75 and not r.vae.enabled


def test_compress_sfv_writes_pruned_vae(tmp_path):
    from compression.compress import compress
    from compression.student import read_compression_json
    from vdmbench.models.svd_denoiser import random_svd_unet

    teacher_dir = tmp_path / "sfv"
    random_svd_unet(seed=0).save_pretrained(str(teacher_dir / "unet"))
    tiny_vae(levels=2).save_pretrained(str(teacher_dir / "vae"))
    recipe = Recipe.model_validate({
        "model": "sfv", "train": {"max_steps": 1, "batch_size": 1, "ema_decay": None,
                                  "checkpoint_every": 5},
        "data": {"name": "noise", "frames": 2},
        "vae": {"enabled": True, "finetune_steps": 2, "lr": 1e-4, "adversarial": 0.1}})
    out = compress(recipe, tmp_path / "student", weights=str(teacher_dir), progress=False)
    meta = read_compression_json(out)
    assert meta["classes"]["vae"] == \
        "vdmbench.models.pruned_vae:PrunedAutoencoderKLTemporalDecoder"
    assert meta["classes"]["unet"].startswith("vdmbench.models.unets:VDMini")
    assert meta["vae_finetune_steps"] == 2 and meta["vae"] is True
    assert meta["vae_decoder_params"] < meta["vae_teacher_decoder_params"]
    vae = load_pruned_vae(out)
    assert decoder_params(vae) == meta["vae_decoder_params"]
    with torch.no_grad():
        assert decode(vae, latents(6, n=2, size=8), 2).shape == (2, 3, 16, 16)
    log = (out / "train" / "vae_loss_log.csv").read_text().splitlines()
    assert log[0].startswith("step,loss,rec") and len(log) == 3


def test_compress_sfv_missing_teacher_vae(tmp_path):
    from compression.compress import compress
    from vdmbench.models.svd_denoiser import random_svd_unet

    teacher_dir = tmp_path / "sfv"
    random_svd_unet(seed=0).save_pretrained(str(teacher_dir / "unet"))
    recipe = Recipe.model_validate({"model": "sfv", "train": {"max_steps": 1},
                                    "data": {"name": "noise"}, "vae": {"enabled": True}})
    with pytest.raises(WeightsNotFoundError, match="vae"):
        compress(recipe, tmp_path / "student", weights=str(teacher_dir), progress=False)
    assert not (tmp_path / "student" / "train").exists()


def test_sfv_adapter_loads_student_with_pruned_vae(tmp_path):
    """compress → student dir with unet/ + vae/ → the sfv adapter generates with both."""
    from compression.compress import compress
    from vdmbench.generation import GenerationRequest
    from vdmbench.models.svd import SFVAdapter, random_svd_pipeline

    base = tmp_path / "svd-tiny"
    random_svd_pipeline("tiny", num_frames=2, seed=0).save_pretrained(base)
    recipe = Recipe.model_validate({
        "model": "sfv", "plan": {"preset": "none"},
        "train": {"max_steps": 1, "batch_size": 1, "ema_decay": None},
        "data": {"name": "noise", "frames": 2},
        "vae": {"enabled": True, "channel_ratio": 1.0, "finetune_steps": 1}})
    out = compress(recipe, tmp_path / "student", weights=str(base), progress=False)
    sfv = SFVAdapter.load("sfv-student", str(out), {"sigma": 80.0}, "cpu")
    assert sfv.sources["vae"].origin == "weights"
    assert sfv.sources["image_encoder"].origin != "weights"
    assert isinstance(sfv.pipe.vae, PrunedAutoencoderKLTemporalDecoder)
    assert isinstance(sfv.pipe.vae.decoder.mid_block, IdentityDecoderMidBlock)
    g = torch.Generator().manual_seed(0)
    image = torch.randint(0, 256, (16, 16, 3), generator=g, dtype=torch.uint8)
    req = GenerationRequest(id="r", seed=1, frames=2, height=16, width=16, fps=7.0, image=image)
    (video,) = sfv.generate([req])
    assert video.frames.shape == (2, 16, 16, 3) and video.frames.dtype == torch.uint8


def test_shipped_student_matches_teacher_and_generates():
    """The shipped synth-i2v student loads through the adapter, was distilled from the shipped
    teacher (weights hash), and generates the teacher's video shape."""
    from pathlib import Path

    from compression.student import read_compression_json
    from vdmbench.diffusion.denoiser import state_hash
    from vdmbench.generation import GenerationRequest
    from vdmbench.models.synth_i2v import SynthI2VAdapter, load_teacher_unet

    d = Path(__file__).resolve().parents[2] / "compression" / "students" / "synth-i2v-vdmini"
    meta = read_compression_json(d)
    assert meta["base_weights"] is None and meta["plan"]["preset"] == "vdmini"
    assert meta["base_weights_sha256"] == state_hash(load_teacher_unet()), \
        "the shipped teacher changed: distil the student again (docs/compression.md)"
    assert sorted(p.name for p in (d / "train").iterdir()) == ["loss.png", "loss_log.csv"]
    m = SynthI2VAdapter.load("student", str(d), {}, "cpu", steps=2)
    assert sum(p.numel() for p in m.pipeline.unet.parameters()) == meta["unet_params"]
    image = torch.randint(0, 256, (16, 16, 3), generator=torch.Generator().manual_seed(0),
                          dtype=torch.uint8)
    (video,) = m.generate([GenerationRequest(id="r", seed=0, frames=8, height=16, width=16,
                                             fps=8.0, image=image, extra={"motion_class": 1})])
    assert video.frames.shape == (8, 16, 16, 3)


def test_compress_cli_bare_fp16_unet_folder_with_vae_from_base(tmp_path):
    """`vdmbench compress --model sfv --weights BARE_UNET_DIR`: the UNet from a bare folder
    holding only an fp16 variant file, the VAE from the `base` folder (its fp16 variant too),
    the decoder fine-tuning capped by `--vae-steps`."""
    from click.testing import CliRunner

    from compression.cli import compress_cmd
    from compression.student import read_compression_json
    from vdmbench.models.svd_denoiser import random_svd_unet

    bare = tmp_path / "sfv-unet"
    random_svd_unet(seed=0).save_pretrained(str(bare), variant="fp16")
    assert not (bare / "diffusion_pytorch_model.safetensors").exists()
    base = tmp_path / "base"
    tiny_vae(levels=2).save_pretrained(str(base / "vae"), variant="fp16")
    recipe = tmp_path / "r.yaml"
    recipe.write_text("model: sfv\ntrain: {max_steps: 1, batch_size: 1, ema_decay: null}\n"
                      "data: {name: noise, frames: 2}\nloss: {lambda_mca: 0.0}\n"
                      "vae: {enabled: true, finetune_steps: 50, adversarial: 0.0}\n")
    args = ["--model", "sfv", "--weights", str(bare), "--recipe", str(recipe),
            "--model-option", "variant=fp16", "--model-option", f"base={base}",
            "--vae-steps", "1", "--out", str(tmp_path / "student")]
    res = CliRunner().invoke(compress_cmd, args)
    assert res.exit_code == 0, res.output
    meta = read_compression_json(tmp_path / "student")
    assert meta["vae_finetune_steps"] == 1 and meta["vae"] is True
    assert (tmp_path / "student" / meta["base_weights"]).resolve() == bare.resolve()
    # without the base folder the missing VAE is found before any training is written
    res = CliRunner().invoke(compress_cmd, args[:8] + ["--out", str(tmp_path / "s2")])
    assert res.exit_code == 2 and "'vae'" in res.output and "not found" in res.output
    assert not (tmp_path / "s2").exists()
