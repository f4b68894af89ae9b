"""``synth-dit-t2v``: a tiny *random* video diffusion transformer of the synthetic world, CPU-sized.

The denoiser is diffusers' ``WanTransformer3DModel`` (Wan 2.1's class: patch (1, 2, 2), rotary
3-D positions, per-block self-attention, cross-attention to the caption and feed-forward) with a
tiny config (:func:`tiny_transformer_config`: 4 blocks, 2 heads of 16, ~0.1 M parameters),
working in pixel space on ``frames × height × width`` RGB videos in [-1, 1] (8×16×16, the shape
of ``synth-t2v``). Captions (SynthMotion's, as ``synth-t2v`` takes them) are encoded by
:class:`~vdmbench.models.synth_t2v_pipeline.CaptionEncoder` → ``(B, 12, 32)``; the empty caption
is the unconditional input.

Sampling is Wan's: rectified flow (``x_σ = (1 − σ)·x₀ + σ·ε``, the transformer predicts
``ε − x₀``) with diffusers' ``FlowMatchEulerDiscreteScheduler`` (``shift`` from
``sampler.json``), classifier-free guidance batched as ``[uncond, cond]`` in one transformer call
inside ``transformer.cache_context("cond_uncond")`` (as diffusers' CogVideoX and LTX pipelines
call it, so diffusers' cache hooks see one call per step).

The weights are **random** (seeded ``torch`` initialisation of the classes above, not trained:
training a DiT teacher on SynthMotion was out of reach for this model's first version), so its
videos are structured noise: the model exists to exercise and time the DiT cache methods on CPU
(their fidelity to the uncached model, PSNR/SSIM to the teacher, and speed), not to score
SynthMotion quality. Model directory (``vdmbench/assets/synth_dit_t2v/``, 0.5 MB):
``transformer/`` (``save_pretrained``), ``text_encoder.safetensors`` + ``text_encoder.json``,
``sampler.json``; rebuilt bit for bit by ``python -m vdmbench.models.synth_dit_pipeline --out
DIR`` (seed 0).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from vdmbench.errors import ConfigError, WeightsNotFoundError
from vdmbench.models.student_dir import (
    ResolvedModel,
    load_student_transformer,
    read_json,
    walk_chain,
)
from vdmbench.models.synth_t2v_pipeline import CaptionEncoder, synthmotion_vocabulary
from vdmbench.paths import sha256_tree
from vdmbench.video import from_unit_float

ADAPTER_NAME = "synth-dit-t2v"
ASSET_DIR = Path(__file__).resolve().parent.parent / "assets" / "synth_dit_t2v"
#: part → the file whose presence in a directory says that directory provides the part
PARTS = {"transformer": "transformer/config.json", "text_encoder": "text_encoder.json",
         "sampler": "sampler.json"}
_LAYOUT = ("a synth-dit-t2v model directory holds transformer/ (save_pretrained), "
           "text_encoder.safetensors, text_encoder.json and sampler.json (build one with python "
           "-m vdmbench.models.synth_dit_pipeline --out DIR); a student directory (vdmbench "
           "compress) holds transformer/ and a compression.json whose base_weights names the "
           "rest")


@dataclass(frozen=True)
class DiTSamplerConfig:
    """Video shape and sampler settings (``sampler.json``)."""

    frames: int = 8
    height: int = 16
    width: int = 16
    steps: int = 8
    shift: float = 3.0
    guidance_scale: float = 3.0
    fps: float = 8.0


def tiny_transformer_config() -> dict[str, Any]:
    """The ``WanTransformer3DModel`` config: pixel space (3 channels), 4 blocks, 2 heads × 16."""
    return {"patch_size": [1, 2, 2], "num_attention_heads": 2, "attention_head_dim": 16,
            "in_channels": 3, "out_channels": 3, "text_dim": 32, "freq_dim": 32,
            "ffn_dim": 64, "num_layers": 4, "cross_attn_norm": True,
            "qk_norm": "rms_norm_across_heads", "eps": 1e-6, "rope_max_seq_len": 64}


def scheduler(shift: float) -> Any:
    """A fresh ``FlowMatchEulerDiscreteScheduler`` (its step state is per trajectory)."""
    from diffusers import FlowMatchEulerDiscreteScheduler

    return FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=shift)


class SynthDiTPipeline:
    """Caption encoder + transformer + flow-matching sampler. ``generate(captions, seeds)`` →
    uint8 ``(B, T, H, W, 3)``."""

    def __init__(self, transformer: Any, text_encoder: CaptionEncoder, sampler: DiTSamplerConfig,
                 device: str | torch.device = "cpu") -> None:
        self.transformer = transformer.to(device).eval()
        self.text_encoder = text_encoder.to(device).eval()
        self.sampler, self.device = sampler, torch.device(device)

    @property
    def unet(self) -> Any:
        """The denoiser under the name ``DenoiserSpec`` and ``unet_swapped`` use."""
        return self.transformer

    @unet.setter
    def unet(self, module: Any) -> None:
        self.transformer = module

    @torch.no_grad()
    def encode(self, captions: Sequence[str]) -> torch.Tensor:
        return self.text_encoder(self.text_encoder.tokenize(captions).to(self.device))

    @torch.no_grad()
    def noise(self, seeds: Sequence[int]) -> torch.Tensor:
        """Unit Gaussian ``(B, 3, T, H, W)``, sample ``i`` from ``seeds[i]`` alone."""
        s = self.sampler
        return torch.stack([torch.randn(3, s.frames, s.height, s.width,
                                        generator=torch.Generator().manual_seed(int(seed)))
                            for seed in seeds]).to(self.device)

    @torch.no_grad()
    def velocity(self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor,
                 uncond: torch.Tensor | None, scale: float) -> torch.Tensor:
        """One guided transformer call: ``x`` ``(B, 3, T, H, W)``, ``t`` scalar timestep (σ·1000)
        → predicted ``ε − x₀``, same shape; with guidance the batch is ``[uncond, cond]``."""
        tr = self.transformer
        if uncond is None or scale == 1.0:
            with tr.cache_context("cond"):
                return tr(hidden_states=x, timestep=t.expand(x.shape[0]),
                          encoder_hidden_states=cond, return_dict=False)[0]
        with tr.cache_context("cond_uncond"):
            both = tr(hidden_states=torch.cat([x, x]), timestep=t.expand(2 * x.shape[0]),
                      encoder_hidden_states=torch.cat([uncond, cond]), return_dict=False)[0]
        u, c = both.chunk(2)
        return u + scale * (c - u)

    @torch.no_grad()
    def sample(self, cond: torch.Tensor, uncond: torch.Tensor | None, noise: torch.Tensor,
               steps: int | None = None, guidance_scale: float | None = None) -> torch.Tensor:
        """Flow-matching Euler sampling from unit ``noise`` ``(B, 3, T, H, W)`` → x₀ float,
        about [-1, 1]."""
        s = self.sampler
        scale = s.guidance_scale if guidance_scale is None else guidance_scale
        sched = scheduler(s.shift)
        sched.set_timesteps(steps or s.steps, device=self.device)
        x = noise.to(self.device, torch.float32)
        for t in sched.timesteps:
            v = self.velocity(x, t, cond, uncond, scale)
            x = sched.step(v, t, x, return_dict=False)[0]
        return x

    @torch.no_grad()
    def generate(self, captions: Sequence[str], seeds: Sequence[int], steps: int | None = None,
                 guidance_scale: float | None = None) -> torch.Tensor:
        s = self.sampler
        scale = s.guidance_scale if guidance_scale is None else guidance_scale
        cond = self.encode(captions)
        uncond = self.encode([""] * len(captions)) if scale != 1.0 else None
        x = self.sample(cond, uncond, self.noise(seeds), steps, scale)
        return from_unit_float(x.clamp(-1, 1).permute(0, 2, 3, 4, 1).float().cpu())


def build_random(seed: int = 0) -> tuple[Any, CaptionEncoder]:
    """The random transformer and caption encoder, initialised from ``seed`` alone."""
    from diffusers import WanTransformer3DModel

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        transformer = WanTransformer3DModel(**tiny_transformer_config())
        text_encoder = CaptionEncoder(synthmotion_vocabulary(), dim=32)
    return transformer, text_encoder


def save_model_dir(out: Path, transformer: Any, text_encoder: CaptionEncoder,
                   sampler: DiTSamplerConfig) -> None:
    """Write a model directory (see the module docstring)."""
    out.mkdir(parents=True, exist_ok=True)
    transformer.save_pretrained(out / "transformer")
    save_file({k: v.detach().contiguous().cpu() for k, v in text_encoder.state_dict().items()},
              str(out / "text_encoder.safetensors"))
    (out / "text_encoder.json").write_text(json.dumps(text_encoder.config(), indent=1))
    (out / "sampler.json").write_text(json.dumps(asdict(sampler), indent=1))


def resolve_model_dir(weights: str | Path | None) -> ResolvedModel:
    """Where each part of ``weights`` comes from: a model directory (None = the shipped one) or
    a student directory (``compression.json``, its ``base_weights`` chain followed by
    :func:`~vdmbench.models.student_dir.walk_chain`: a depth-pruned student provides
    ``transformer/``, its teacher the caption encoder and ``sampler.json``)."""
    sources, chain, cls = walk_chain(weights, ASSET_DIR, ADAPTER_NAME, PARTS, _LAYOUT,
                                     denoiser="transformer")
    missing = [rel for part, rel in PARTS.items() if part not in sources]
    if missing:
        raise WeightsNotFoundError(f"synth-dit-t2v: {chain[-1] / missing[0]} not found (looked "
                                   f"in {', '.join(map(str, chain))}; {_LAYOUT})")
    return ResolvedModel(sources, sources["sampler"] / "sampler.json", chain, cls)


def _require(path: Path) -> Path:
    if not path.is_file():
        raise WeightsNotFoundError(f"synth-dit-t2v: {path} not found ({_LAYOUT})")
    return path


def load_pipeline(weights: str | Path | None = None, device: str = "cpu"
                  ) -> tuple[SynthDiTPipeline, ResolvedModel, str]:
    """(pipeline, where its parts came from, sha256 of the weights read: the directory's tree
    hash, or for a student its chain's); the transformer is frozen. A student's transformer is
    loaded by its ``classes.transformer`` target (:func:`load_student_transformer`)."""
    from diffusers import WanTransformer3DModel

    res = resolve_model_dir(weights)
    tr_dir = res.sources["transformer"] / "transformer"
    _require(tr_dir / "diffusion_pytorch_model.safetensors")
    if res.unet_class:
        transformer = load_student_transformer(tr_dir, res.unet_class,
                                               res.sources["transformer"] / "compression.json")
    else:
        transformer = WanTransformer3DModel.from_pretrained(tr_dir)
    if not isinstance(transformer, WanTransformer3DModel):
        raise ConfigError(f"synth-dit-t2v: the transformer at {tr_dir} is a "
                          f"{type(transformer).__name__}, not a WanTransformer3DModel",
                          file=str(tr_dir / "config.json"))
    te_dir = res.sources["text_encoder"]
    tcfg = read_json(_require(te_dir / "text_encoder.json"), "synth-dit-t2v text encoder")
    te = CaptionEncoder(tcfg["vocab"], tcfg["dim"], tcfg["layers"], tcfg["heads"],
                        tcfg["max_tokens"])
    te.load_state_dict(load_file(str(_require(te_dir / "text_encoder.safetensors"))), strict=True)
    try:
        sampler = DiTSamplerConfig(**read_json(_require(res.sampler_file),
                                               "synth-dit-t2v sampler settings"))
    except TypeError as e:
        raise ConfigError(f"synth-dit-t2v: {res.sampler_file}: {e}",
                          file=str(res.sampler_file)) from None
    sha = (sha256_tree(res.chain[0], ("*.json", "*.safetensors")) if len(res.chain) == 1
           else res.weights_sha256())
    pipe = SynthDiTPipeline(transformer.eval().requires_grad_(False), te.requires_grad_(False),
                            sampler, device)
    return pipe, res, sha


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m vdmbench.models.synth_dit_pipeline --out DIR [--seed 0]``: write the random
    model directory."""
    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    transformer, te = build_random(a.seed)
    save_model_dir(a.out, transformer, te, DiTSamplerConfig())
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
