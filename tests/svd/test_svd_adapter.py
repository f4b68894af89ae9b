"""svd / sfv adapters on a tiny random SVD-architecture pipeline saved with save_pretrained."""

from __future__ import annotations

import shutil
from pathlib import Path

import pydantic
import pytest
import torch
from svd_test_utils import make_request

from vdmbench.errors import ConfigError, WeightsNotFoundError
from vdmbench.generation import ModelCard, VideoGenerator
from vdmbench.models.svd import SFVAdapter, SVDAdapter


@pytest.fixture(scope="module")
def svd(tiny_svd_dir: Path) -> SVDAdapter:
    return SVDAdapter.load("svd-tiny", str(tiny_svd_dir), {}, "cpu", steps=2)


@pytest.fixture(scope="module")
def sfv(tiny_svd_dir: Path) -> SFVAdapter:
    return SFVAdapter.load("sfv-tiny", str(tiny_svd_dir), {"sigma": 80.0}, "cpu")


def _unet_batches(adapter: SVDAdapter) -> tuple[list[int], torch.utils.hooks.RemovableHandle]:
    seen: list[int] = []
    handle = adapter.pipe.unet.register_forward_pre_hook(
        lambda _m, args: seen.append(int(args[0].shape[0])))
    return seen, handle


def test_protocol_and_shapes(svd: SVDAdapter) -> None:
    assert isinstance(svd, VideoGenerator)
    r = make_request(seed=3)
    (video,) = svd.generate([r])
    assert video.frames.dtype == torch.uint8
    assert tuple(video.frames.shape) == (4, 16, 16, 3)
    assert video.fps == 7.0


def test_seeded_bit_reproducible_and_batch_independent(svd: SVDAdapter) -> None:
    r1, r2 = make_request(seed=1, rid="a"), make_request(seed=2, rid="b", image_seed=5)
    a = svd.generate([r1, r2])
    b = svd.generate([r2])
    c = svd.generate([r1])
    assert torch.equal(a[1].frames, b[0].frames)
    assert torch.equal(a[0].frames, c[0].frames)
    assert not torch.equal(a[0].frames, svd.generate([make_request(seed=9, rid="a")])[0].frames)


def test_generate_matches_the_diffusers_pipeline(svd: SVDAdapter) -> None:
    """generate() is the pipeline's own sampling with a per-request CPU generator."""
    import PIL.Image

    r = make_request(seed=11)
    out = svd.pipe(PIL.Image.fromarray(r.image.numpy()), height=16, width=16, num_frames=4,
                   num_inference_steps=2, fps=7, generator=torch.Generator().manual_seed(11),
                   output_type="pt").frames  # (1, F, C, H, W) in [0, 1]
    ref = (out[0].permute(0, 2, 3, 1) * 255).round().to(torch.uint8)
    got = svd.generate([r])[0].frames
    assert (got.int() - ref.int()).abs().max() <= 1


def test_cfg_doubles_the_unet_batch_and_steps_are_counted(svd: SVDAdapter) -> None:
    seen, handle = _unet_batches(svd)
    try:
        svd.generate([make_request()])
        assert seen == [2, 2]  # 2 steps, CFG batch of 2
        seen.clear()
        svd.components(make_request())["denoise"]()
        assert seen == [2]
    finally:
        handle.remove()
    card = svd.describe()
    assert card.cfg and card.steps == 2


def test_no_cfg_when_max_guidance_is_one(tiny_svd_dir: Path) -> None:
    m = SVDAdapter.load("svd", str(tiny_svd_dir), {"max_guidance_scale": 1.0}, "cpu", steps=1)
    seen, handle = _unet_batches(m)
    try:
        m.generate([make_request()])
    finally:
        handle.remove()
    assert seen == [1] and not m.describe().cfg


def test_components_reproduce_the_pipeline(sfv: SFVAdapter) -> None:
    """One step from the same seed: the 'denoise' component gives the pipeline's latents."""
    import PIL.Image

    r = make_request(seed=4)
    comps = sfv.components(r)
    assert set(comps) == {"image_encode", "vae_encode", "denoise", "decode"}
    lat = sfv.pipe(PIL.Image.fromarray(r.image.numpy()), height=16, width=16, num_frames=4,
                   sigmas=[80.0, 0.0], max_guidance_scale=1.0, min_guidance_scale=1.0, fps=7,
                   generator=torch.Generator().manual_seed(4), output_type="latent").frames
    assert torch.equal(comps["denoise"](), lat)
    assert comps["denoise"]().shape == (1, 4, 4, 8, 8)
    assert comps["image_encode"]().shape == (1, 1, 32)
    assert comps["vae_encode"]().shape == (1, 4, 8, 8)
    assert comps["decode"]().shape == (1, 3, 4, 16, 16)


def test_sfv_is_one_forward_without_cfg(sfv: SFVAdapter) -> None:
    seen, handle = _unet_batches(sfv)
    try:
        v1 = sfv.generate([make_request(seed=5)])[0]
    finally:
        handle.remove()
    assert seen == [1]
    assert torch.equal(v1.frames, sfv.generate([make_request(seed=5)])[0].frames)
    card = sfv.describe()
    assert card.steps == 1 and not card.cfg and card.sampler["sigmas"] == [80.0, 0.0]
    with pytest.raises(pydantic.ValidationError):
        SFVAdapter.Options.model_validate({"max_guidance_scale": 3.0})


def test_sfv_rejects_more_steps(tiny_svd_dir: Path) -> None:
    with pytest.raises(ConfigError, match="steps must be 1"):
        SFVAdapter.load("sfv", str(tiny_svd_dir), {}, "cpu", steps=4)


def test_sigma_changes_the_video(tiny_svd_dir: Path, sfv: SFVAdapter) -> None:
    other = SFVAdapter.load("sfv", str(tiny_svd_dir), {"sigma": 700.0}, "cpu")
    r = make_request(seed=5)
    assert not torch.equal(other.generate([r])[0].frames, sfv.generate([r])[0].frames)


def test_model_card(svd: SVDAdapter, tiny_svd_dir: Path) -> None:
    card = svd.describe()
    assert isinstance(card, ModelCard)
    p = svd.pipe
    assert card.params["unet"] == sum(x.numel() for x in p.unet.parameters())
    assert card.params["vae_decoder"] == sum(x.numel() for x in p.vae.decoder.parameters())
    assert card.params["vae_encoder"] + card.params["vae_decoder"] == sum(
        x.numel() for x in p.vae.parameters())
    assert card.params["image_encoder"] > 0
    assert len(card.weights_sha256) == 64
    assert card.sampler["sources"] == dict.fromkeys(card.sampler["sources"], "weights")
    assert (card.frames, card.height, card.width) == (4, 16, 16)  # the UNet config's


def test_options_size_frames_and_resize(tiny_svd_dir: Path) -> None:
    m = SVDAdapter.load("svd", str(tiny_svd_dir), {"num_frames": 6, "height": 24, "width": 32},
                        "cpu", steps=1)
    v = m.generate([make_request(frames=4, size=16)])[0]
    assert tuple(v.frames.shape) == (4, 16, 16, 3)  # first 4 of 6 frames, resized
    card = m.describe()
    assert (card.frames, card.height, card.width) == (6, 24, 32)
    with pytest.raises(ConfigError, match="fewer"):
        m.generate([make_request(frames=8)])
    with pytest.raises(pydantic.ValidationError, match="multiple of 8"):
        SVDAdapter.Options.model_validate({"height": 20})
    with pytest.raises(pydantic.ValidationError):
        SVDAdapter.Options.model_validate({"guidance": 2.0})


def test_student_loads_with_components_from_base(tiny_student_dir: Path, tiny_svd_dir: Path,
                                                 svd: SVDAdapter,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VDMBENCH_TEST_SVD_BASE", str(tiny_svd_dir))
    monkeypatch.setenv("VDMBENCH_TEST_STUDENT", str(tiny_student_dir))
    student = SFVAdapter.load("vdmini", "${VDMBENCH_TEST_STUDENT}", {}, "cpu")
    src = student.sources
    assert src["unet"].folder == (tiny_student_dir / "unet").resolve()
    assert src["vae"].folder == (tiny_svd_dir / "vae").resolve()
    assert src["unet"].origin == "weights" and src["vae"].origin.startswith("base")
    card = student.describe()
    assert card.params["unet"] < svd.describe().params["unet"]
    assert card.params["vae_decoder"] == svd.describe().params["vae_decoder"]
    assert card.weights_sha256 != SFVAdapter.load("t", str(tiny_svd_dir), {}, "cpu"
                                                  ).describe().weights_sha256
    r = make_request(seed=8)
    assert torch.equal(student.generate([r])[0].frames, student.generate([r])[0].frames)


def test_student_vae_replaces_the_base_vae(tmp_path: Path, tiny_svd_dir: Path) -> None:
    from diffusers import AutoencoderKLTemporalDecoder

    torch.manual_seed(3)
    AutoencoderKLTemporalDecoder(block_out_channels=(32, 32), layers_per_block=1,
                                 down_block_types=("DownEncoderBlock2D",) * 2
                                 ).save_pretrained(tmp_path / "vae")
    (tmp_path / "compression.json").write_text(f'{{"base_weights": "{tiny_svd_dir}"}}')
    m = SVDAdapter.load("s", str(tmp_path), {}, "cpu", steps=1)
    assert m.sources["vae"].origin == "weights" and m.sources["unet"].origin.startswith("base")


def test_bare_unet_folder_with_base_option(tiny_svd_dir: Path) -> None:
    m = SFVAdapter.load("sfv", str(tiny_svd_dir / "unet"), {"base": str(tiny_svd_dir)}, "cpu")
    assert m.sources["unet"].folder == (tiny_svd_dir / "unet").resolve()
    assert m.sources["scheduler"].origin == "base"


def test_missing_weights_folder(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(WeightsNotFoundError, match=str(missing)):
        SVDAdapter.load("svd", str(missing), {}, "cpu")
    with pytest.raises(ConfigError, match="SVD_DOES_NOT_EXIST"):
        SVDAdapter.load("svd", "${SVD_DOES_NOT_EXIST}", {}, "cpu")
    with pytest.raises(ConfigError, match="weights"):
        SVDAdapter.load("svd", None, {}, "cpu")


def test_missing_vae_names_the_component_and_path(tmp_path: Path, tiny_svd_dir: Path) -> None:
    broken = tmp_path / "svd"
    shutil.copytree(tiny_svd_dir, broken)
    shutil.rmtree(broken / "vae")
    with pytest.raises(WeightsNotFoundError) as e:
        SVDAdapter.load("svd", str(broken), {}, "cpu")
    assert "'vae'" in str(e.value) and str(broken.resolve() / "vae" / "config.json") in str(e.value)
    (broken / "vae").mkdir()
    shutil.copy(tiny_svd_dir / "vae" / "config.json", broken / "vae")
    with pytest.raises(WeightsNotFoundError, match="diffusion_pytorch_model.safetensors"):
        SVDAdapter.load("svd", str(broken), {}, "cpu")


def test_missing_plain_file_names_the_variant_files_and_the_suite_key(
        tmp_path: Path, tiny_svd_dir: Path) -> None:
    """A folder shipped as the published repository ships it (only *.fp16.safetensors): the
    message names the fp16 file and the option that selects it; with the option it resolves."""
    from vdmbench.models.svd import SVDOptions, resolve_components

    fp16 = tmp_path / "svd-fp16"
    shutil.copytree(tiny_svd_dir, fp16)
    for comp, stem in (("unet", "diffusion_pytorch_model"), ("vae", "diffusion_pytorch_model"),
                       ("image_encoder", "model")):
        (fp16 / comp / f"{stem}.safetensors").rename(fp16 / comp / f"{stem}.fp16.safetensors")
    with pytest.raises(WeightsNotFoundError) as e:
        resolve_components("svd", str(fp16), SVDOptions())
    msg = str(e.value)
    assert "diffusion_pytorch_model.fp16.safetensors" in msg and "'variant: fp16'" in msg
    assert "options.variant" in msg
    with pytest.raises(WeightsNotFoundError, match="'variant: fp16'"):  # another variant asked
        resolve_components("svd", str(fp16), SVDOptions(variant="bf16"))
    src = resolve_components("svd", str(fp16), SVDOptions(variant="fp16"))
    assert {k: s.variant for k, s in src.items()}["vae"] == "fp16"


def test_float16_on_cpu_loads_quietly(tiny_svd_dir: Path,
                                      caplog: pytest.LogCaptureFixture) -> None:
    """No diffusers "float16 cannot run on cpu" notice (it runs here), and without torchvision
    the PIL image processor is taken directly (no transformers fallback notice)."""
    import importlib.util

    with caplog.at_level("WARNING"):
        m = SVDAdapter.load("svd", str(tiny_svd_dir), {}, "cpu", steps=1, dtype="float16")
    assert not [r for r in caplog.records if "float16" in r.getMessage()], caplog.text
    if importlib.util.find_spec("torchvision") is None:
        assert type(m.pipe.feature_extractor).__name__ == "CLIPImageProcessorPil"
    (video,) = m.generate([make_request(seed=1)])
    assert video.frames.shape == (4, 16, 16, 3)


def test_wrong_class_in_config(tmp_path: Path, tiny_svd_dir: Path) -> None:
    broken = tmp_path / "svd"
    shutil.copytree(tiny_svd_dir, broken)
    cfg = broken / "vae" / "config.json"
    cfg.write_text(cfg.read_text().replace("AutoencoderKLTemporalDecoder", "AutoencoderKL"))
    with pytest.raises(ConfigError, match="AutoencoderKL"):
        SVDAdapter.load("svd", str(broken), {}, "cpu")


def test_offline_hf_cache(tmp_path: Path, tiny_svd_dir: Path) -> None:
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hub" / "models--someorg--svd-tiny"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    shutil.copytree(tiny_svd_dir, repo / "snapshots" / commit)
    opts = {"hf_cache_dir": str(tmp_path / "hub")}
    m = SVDAdapter.load("svd", "hf:someorg/svd-tiny", opts, "cpu", steps=1)
    assert m.sources["unet"].folder == (repo / "snapshots" / commit / "unet").resolve()
    with pytest.raises(WeightsNotFoundError, match="someorg/absent"):
        SVDAdapter.load("svd", "hf:someorg/absent", opts, "cpu")


def test_chain_student_to_bare_sfv_unet_to_base_option(tmp_path: Path, tiny_svd_dir: Path,
                                                       tiny_student_dir: Path) -> None:
    """VDMini student → (compression.json, relative path) SF-V UNet folder → `base` option."""
    shutil.copytree(tiny_svd_dir / "unet", tmp_path / "sfv-unet")
    student = tmp_path / "student"
    shutil.copytree(tiny_student_dir / "unet", student / "unet")
    (student / "compression.json").write_text('{"base_weights": "../sfv-unet"}')
    m = SFVAdapter.load("vdmini", str(student), {"base": str(tiny_svd_dir)}, "cpu")
    assert m.sources["unet"].folder == (student / "unet").resolve()
    assert m.sources["vae"].origin == "base"
    (student / "unet" / "config.json").unlink()
    m = SFVAdapter.load("vdmini", str(student), {"base": str(tiny_svd_dir)}, "cpu")
    assert m.sources["unet"].folder == (tmp_path / "sfv-unet").resolve()
    assert m.sources["unet"].origin == "base_weights#1"


def test_registered_triton_backend_installs_and_keeps_outputs(tiny_svd_dir: Path,
                                                              sfv: SFVAdapter) -> None:
    """The registered "triton" transform (PyTorch fallback on CPU) reaches the UNet and the VAE
    through the adapter's denoiser() and changes no output beyond rounding."""
    from vdmbench.acceleration import make_transforms, transformed
    from vdmbench.suite import TransformSpec

    fast = SFVAdapter.load("sfv", str(tiny_svd_dir), {"sigma": 80.0}, "cpu")
    (t,) = make_transforms([TransformSpec(name="triton")], model="sfv")
    r = make_request(seed=6)
    with transformed(fast, [t], model="sfv") as applied:
        report = applied[0]["installed"]
        assert report["unet"]["temporal_attention"] > 0 and report["vae"]["group_norm_silu"] > 0
        diff = fast.generate([r])[0].frames.int() - sfv.generate([r])[0].frames.int()
    assert diff.abs().max() <= 1
