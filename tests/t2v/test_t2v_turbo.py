"""T2V-Turbo-v2 adapter pieces: sampler schedule, guidance embedding, pipeline, weight errors."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from lvdm_layout import TINY_CONFIG, lvdm_state_dict

from vdmbench.errors import ConfigError, VdmbenchError, WeightsNotFoundError
from vdmbench.models.t2v_turbo import T2VTurboAdapter
from vdmbench.models.t2v_turbo_pipeline import (
    T2VTurboPipeline,
    TurboSampler,
    guidance_embedding,
    load_turbo_unet,
)
from vdmbench.models.videocrafter2_unet import VideoCrafter2UNet

torch.set_num_threads(1)


def test_lcm_timesteps_hand_values() -> None:
    assert TurboSampler(steps=4).timesteps() == [999, 749, 499, 249]
    assert TurboSampler(steps=8).timesteps() == [999, 874, 749, 624, 499, 374, 249, 124]
    t16 = TurboSampler(steps=16).timesteps()
    assert len(t16) == 16 and t16[:3] == [999, 939, 879] and t16[-1] == 99
    assert TurboSampler(steps=4, lcm_origin_steps=50).timesteps() == [999, 759, 519, 279]


def test_boundary_and_schedule() -> None:
    s = TurboSampler()
    c_skip, c_out = s.boundary(999)
    assert c_skip == pytest.approx(0.25 / (9990 ** 2 + 0.25))
    assert c_out == pytest.approx(9990 / math.sqrt(9990 ** 2 + 0.25))
    ac = s.alphas_cumprod()
    assert ac[0] == pytest.approx(1 - 0.00085, rel=1e-6)
    assert ac[-1] == pytest.approx(0.00466, abs=2e-4)  # SD's scaled-linear end value


def test_guidance_embedding_formula() -> None:
    e = guidance_embedding(torch.tensor([7.5, 0.0]))
    assert e.shape == (2, 256)
    f1 = math.exp(-math.log(10000.0) / 127)
    assert e[0, 1].item() == pytest.approx(math.sin(7500 * f1), abs=1e-3)
    assert e[0, 128].item() == pytest.approx(math.cos(7500.0), abs=1e-3)
    assert torch.equal(e[1, :128], torch.zeros(128)) and torch.equal(e[1, 128:], torch.ones(128))


class _TinyVAE(torch.nn.Module):
    """Stands in for AutoencoderKL.decode: a 1x1 conv then ×8 nearest upsampling."""

    dtype = torch.float32

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(4, 3, 1)

    def decode(self, z: torch.Tensor) -> object:
        out = torch.tanh(torch.nn.functional.interpolate(self.conv(z), scale_factor=8.0))
        return type("Out", (), {"sample": out})()


def _pipe(motion: bool) -> T2VTurboPipeline:
    torch.manual_seed(0)
    cfg = dict(TINY_CONFIG, time_cond_proj_dim=256,
               motion_cond_proj_dim=256 if motion else None)
    unet = VideoCrafter2UNet.from_config(cfg).eval()
    torch.nn.init.normal_(unet.conv_out.weight, std=0.05)
    g = torch.Generator().manual_seed(5)
    table = torch.randn(50, 24, generator=g)

    def text(prompts: list[str]) -> torch.Tensor:
        return torch.stack([table[[hash(w) % 50 for w in (p.split() + ["."] * 5)[:5]]]
                            for p in prompts])

    return T2VTurboPipeline(unet, _TinyVAE(), text, TurboSampler(steps=4), "cpu",
                            torch.float32, motion_guidance=motion)


@pytest.mark.parametrize("motion", [False, True])
def test_pipeline_is_seeded_and_batch_independent(motion: bool) -> None:
    p = _pipe(motion)
    a = p.generate(["a cat", "a dog"], [1, 2], 3, 16, 16)
    assert a.shape == (2, 3, 16, 16, 3) and a.dtype == torch.uint8
    b = p.generate(["a dog"], [2], 3, 16, 16)
    assert torch.equal(a[1:], b)
    assert not torch.equal(p.generate(["a cat"], [3], 3, 16, 16), a[:1])
    conds = p.conditions(2, 999)
    assert conds["timestep_cond"].shape == (2, 256)
    if motion:  # motion guidance only in the first 30 % of the trajectory
        assert conds["motion_cond"][0, 0] != 0 or conds["motion_cond"][0, 128] != 1
        late = p.conditions(2, 249)["motion_cond"]
        assert torch.equal(late[:, 128:], torch.ones(2, 128))


def test_turbo_unet_file_loads_strictly(tmp_path: Path) -> None:
    sd = {k[len("model.diffusion_model."):]: v for k, v in lvdm_state_dict().items()}
    sd["time_cond_proj.weight"] = torch.randn(32, 256)
    torch.save(sd, tmp_path / "unet_mg.pt")
    # the released file has the full-size layout; a tiny one must fail loudly, naming keys
    with pytest.raises(WeightsNotFoundError, match="unet_mg.pt"):
        load_turbo_unet(tmp_path / "unet_mg.pt", torch.float32)


def test_missing_weights_are_named(tmp_path: Path) -> None:
    with pytest.raises(WeightsNotFoundError, match="T2V_TURBO_V2_DIR|weights"):
        T2VTurboAdapter.load("t", str(tmp_path / "nope"), {}, "cpu")
    with pytest.raises(WeightsNotFoundError, match="VideoCrafter2_model.ckpt"):
        T2VTurboAdapter.load("t", str(tmp_path), {}, "cpu")
    (tmp_path / "VideoCrafter2_model.ckpt").write_bytes(b"x")
    with pytest.raises(WeightsNotFoundError, match="unet_mg.pt"):
        T2VTurboAdapter.load("t", str(tmp_path), {}, "cpu")
    with pytest.raises(ConfigError, match="4, 8, 16"):
        T2VTurboAdapter.load("t", str(tmp_path), {}, "cpu", steps=6)


def test_open_clip_missing_says_what_to_install(tmp_path: Path) -> None:
    try:
        import open_clip  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("open_clip is installed")
    (tmp_path / "VideoCrafter2_model.ckpt").write_bytes(b"x")
    (tmp_path / "unet_mg.pt").write_bytes(b"x")
    with pytest.raises(VdmbenchError, match=r"pip install vdmbench\[t2v\]"):
        T2VTurboAdapter.load("t", str(tmp_path), {}, "cpu")


def _adapter(motion: bool) -> T2VTurboAdapter:
    opts = T2VTurboAdapter.Options(frames=3, height=16, width=16)
    return T2VTurboAdapter("t2v-turbo-v2", _pipe(motion), opts, "float32", files=[])


def test_denoiser_timestep_inverts_the_noise_levels() -> None:
    spec = _adapter(False).denoiser()
    t = spec.timestep(spec.sigmas.float())
    assert torch.allclose(t, torch.arange(1000, dtype=torch.float32), atol=1e-3)
    wide = spec.timestep(torch.tensor([1e-4, spec.sigma_min, 1.0, spec.sigma_max, 100.0]))
    assert torch.all(wide[1:] > wide[:-1]) and wide[0] < 0 and wide[-1] > 999
    assert spec.sigma_max == pytest.approx(14.61, abs=0.01)


@pytest.mark.parametrize("motion", [False, True])
def test_denoiser_is_the_samplers_step(motion: bool) -> None:
    """D(x; σ_t) of the spec = the sampler's ``denoised`` at t (VP latent x_t = x/√(1+σ²)),
    with the guidance embeddings of that t; ``sample`` = the pipeline's latents."""
    adapter = _adapter(motion)
    spec, p = adapter.denoiser(), adapter.pipe
    assert spec.unet is p.unet and spec.default_steps == 4
    batch = spec.batch(2, seed=0)
    assert batch["x0"].shape == (2, 3, 4, 2, 2) and batch["context"].shape == (2, 5, 24)
    g = torch.Generator().manual_seed(3)
    x_t = torch.randn(2, 4, 3, 2, 2, generator=g)  # (B, C, F, h, w)
    for t in (999, 249):
        a = p._ac[t]
        eps = p.unet_step(x_t, t, batch["context"]).float()
        c_skip, c_out = p.sampler.boundary(t)
        want = c_out * (x_t - (1 - a).sqrt() * eps) / a.sqrt() + c_skip * x_t
        sigma = spec.sigmas[t].float().expand(2)
        x_noisy = (x_t / a.sqrt()).permute(0, 2, 1, 3, 4)
        with torch.no_grad():
            got = spec.denoise(p.unet, x_noisy, sigma, batch).permute(0, 2, 1, 3, 4)
        assert torch.allclose(got, want, atol=1e-4), (t, (got - want).abs().max())
    lat = spec.sample(p.unet, batch, seed=4)
    gens = [torch.Generator().manual_seed(4000 + i) for i in range(2)]
    ref = p.sample_latents(batch["context"], gens, (4, 3, 2, 2))
    assert torch.equal(lat, ref.permute(0, 2, 1, 3, 4))
    assert spec.sample(p.unet, batch, seed=4, steps=8).shape == lat.shape
    assert p.sampler.steps == 4
