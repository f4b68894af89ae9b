"""``synth-t2v``: a tiny text-to-video teacher of the synthetic world (SynthMotion), CPU-sized.

The denoiser is :class:`~vdmbench.models.videocrafter2_unet.VideoCrafter2UNet` with a tiny config
(the same class as VideoCrafter2's, so compression plans, converters and kernels apply), working
in pixel space on ``frames × height × width`` RGB videos in [-1, 1]. The caption is encoded by
:class:`CaptionEncoder`: a fixed vocabulary built from SynthMotion's attribute words, a word
embedding plus a learned position embedding, and a 2-layer transformer → context
``(B, max_tokens, dim)``. Trained with EDM preconditioning (Karras et al.): ``D(x; σ) =
c_skip x + c_out F(c_in x; t(σ), text)`` with ``t(σ) = 1000·(ln σ − ln σ_min)/(ln σ_max −
ln σ_min)``; sampled with the deterministic Euler/Heun (2nd order) sampler on Karras σ's and
classifier-free guidance (the empty caption is the unconditional input).

Model directory: ``unet/`` (``save_pretrained``), ``text_encoder.safetensors`` +
``text_encoder.json`` (vocabulary, sizes), ``sampler.json``. Built by
``python -m vdmbench.synth.train_t2v``; the trained teacher ships in
``vdmbench/assets/synth_t2v_teacher/``. A student directory (written by ``vdmbench compress
--model synth-t2v``) holds only ``unet/`` plus ``compression.json``, whose ``base_weights``
names the directory the other parts come from (null = the shipped teacher) and whose
``classes.unet`` names its UNet class; see :func:`resolve_model_dir` and
:mod:`vdmbench.models.student_dir`. What the adapter hands to training and acceleration is
:class:`~vdmbench.models.synth_t2v_denoiser.SynthT2VDenoiser`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from vdmbench.diffusion.edm import edm_scalings, karras_sigmas
from vdmbench.errors import ConfigError, WeightsNotFoundError
from vdmbench.models.student_dir import (
    ResolvedModel,
    load_student_unet,
    read_json,
    walk_chain,
)
from vdmbench.models.videocrafter2_unet import VideoCrafter2UNet
from vdmbench.paths import variant_note
from vdmbench.video import from_unit_float

ADAPTER_NAME = "synth-t2v"
ASSET_DIR = Path(__file__).resolve().parent.parent / "assets" / "synth_t2v_teacher"
#: part → the file whose presence in a directory says that directory provides the part
PARTS = {"unet": "unet/config.json", "text_encoder": "text_encoder.json",
         "sampler": "sampler.json"}
_LAYOUT = ("a model directory holds unet/, text_encoder.safetensors, text_encoder.json and "
           "sampler.json (build one with python -m vdmbench.synth.train_t2v); a student directory "
           "holds unet/ and compression.json")


def synthmotion_vocabulary() -> list[str]:
    """Every word SynthMotion captions use, sorted; index 0 = ``<pad>``, 1 = ``<unk>``."""
    from vdmbench.data import synthmotion as sm

    words = {"a", "two", "on", "background", "crossing", "paths"}
    words |= set(sm.SHAPES) | {s + "s" for s in sm.SHAPES} | set(sm.COLORS) | set(sm.SIZES)
    words |= set(sm._BG_WORDS.values())  # noqa: SLF001 (the caption words are data)
    for verb in sm._VERBS.values():  # noqa: SLF001
        words |= set(verb.split())
    return ["<pad>", "<unk>", *sorted(words)]


class CaptionEncoder(nn.Module):
    """Captions → context ``(B, max_tokens, dim)``; lower-cased words split on spaces, unknown
    words → ``<unk>``, padded with ``<pad>`` (the empty caption is all padding)."""

    def __init__(self, vocab: Sequence[str], dim: int = 32, layers: int = 2, heads: int = 4,
                 max_tokens: int = 12) -> None:
        super().__init__()
        self.vocab = list(vocab)
        self.index = {w: i for i, w in enumerate(self.vocab)}
        self.dim, self.max_tokens = dim, max_tokens
        self.token_embedding = nn.Embedding(len(self.vocab), dim)
        self.position_embedding = nn.Parameter(torch.zeros(max_tokens, dim))
        nn.init.normal_(self.position_embedding, std=0.02)
        layer = nn.TransformerEncoderLayer(dim, heads, dim * 2, dropout=0.0, batch_first=True,
                                           norm_first=True)
        self.transformer = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)

    def tokenize(self, captions: Sequence[str]) -> torch.Tensor:
        """``(B, max_tokens)`` int64 token ids."""
        out = torch.zeros(len(captions), self.max_tokens, dtype=torch.int64)
        for i, c in enumerate(captions):
            ids = [self.index.get(w, 1) for w in c.lower().split()][: self.max_tokens]
            out[i, : len(ids)] = torch.tensor(ids, dtype=torch.int64)
        return out

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        x = self.token_embedding(tokens) + self.position_embedding
        return self.norm(self.transformer(x))

    def config(self) -> dict[str, Any]:
        layer = self.transformer.layers[0]
        return {"vocab": self.vocab, "dim": self.dim, "layers": len(self.transformer.layers),
                "heads": layer.self_attn.num_heads, "max_tokens": self.max_tokens}


@dataclass(frozen=True)
class T2VSamplerConfig:
    """Video shape, EDM σ range and sampler settings (``sampler.json``)."""

    frames: int = 8
    height: int = 16
    width: int = 16
    steps: int = 8
    sigma_min: float = 0.002
    sigma_max: float = 20.0
    rho: float = 7.0
    sigma_data: float = 0.5
    guidance_scale: float = 2.0
    fps: float = 8.0

    def time_input(self, sigma: torch.Tensor) -> torch.Tensor:
        """The UNet's timestep for noise level ``σ``: ``1000·(ln σ − ln σ_min)/(ln σ_max −
        ln σ_min)``."""
        lo, hi = math.log(self.sigma_min), math.log(self.sigma_max)
        return 1000.0 * (sigma.log() - lo) / (hi - lo)

    def sigmas(self, steps: int) -> torch.Tensor:
        """Karras σ's, ``steps`` decreasing values then 0 (float64; see diffusion/edm.py)."""
        return karras_sigmas(steps, self.sigma_min, self.sigma_max, self.rho, dtype=torch.float64)


def tiny_unet_config() -> dict[str, Any]:
    """The synthetic teacher's :class:`VideoCrafter2UNet` config (pixel space, 2 levels)."""
    return {"in_channels": 3, "out_channels": 3, "block_out_channels": [32, 64],
            "layers_per_block": 1,
            "down_block_types": ["DownBlockVC2", "CrossAttnDownBlockVC2"],
            "up_block_types": ["CrossAttnUpBlockVC2", "UpBlockVC2"],
            "attention_head_dim": 16, "cross_attention_dim": 32, "transformer_in_heads": 2,
            "norm_num_groups": 8, "fps_cond": False, "num_frames": 8,
            "temporal_conv_dropout": 0.0}


def denoise(unet: VideoCrafter2UNet, x: torch.Tensor, sigma: torch.Tensor,
            context: torch.Tensor, cfg: T2VSamplerConfig) -> torch.Tensor:
    """EDM denoiser ``D(x; σ)``: ``x`` ``(B, 3, T, H, W)``, ``σ`` ``(B,)`` → x̂₀, same shape."""
    c_skip, c_out, c_in, _ = edm_scalings(sigma.to(x.dtype).view(-1, 1, 1, 1, 1),
                                          cfg.sigma_data)
    out = unet(c_in * x, cfg.time_input(sigma.to(x.dtype)), context, return_dict=False)[0]
    return c_skip * x + c_out * out


class SynthT2VPipeline:
    """Text encoder + UNet + sampler. ``generate(captions, seeds)`` → uint8 ``(B, T, H, W, 3)``."""

    def __init__(self, unet: VideoCrafter2UNet, text_encoder: CaptionEncoder,
                 sampler: T2VSamplerConfig, device: str | torch.device = "cpu") -> None:
        self.unet = unet.to(device).eval()
        self.text_encoder = text_encoder.to(device).eval()
        self.sampler, self.device = sampler, torch.device(device)

    @torch.no_grad()
    def encode(self, captions: Sequence[str]) -> torch.Tensor:
        return self.text_encoder(self.text_encoder.tokenize(captions).to(self.device))

    @torch.no_grad()
    def noise(self, seeds: Sequence[int]) -> torch.Tensor:
        s = self.sampler
        return torch.stack([torch.randn(3, s.frames, s.height, s.width,
                                        generator=torch.Generator().manual_seed(int(seed)))
                            for seed in seeds]).to(self.device)

    @torch.no_grad()
    def guided(self, x: torch.Tensor, sigma: torch.Tensor, cond: torch.Tensor,
               uncond: torch.Tensor | None, scale: float) -> torch.Tensor:
        """One guided denoiser evaluation (CFG doubles the batch when ``scale != 1``)."""
        if uncond is None or scale == 1.0:
            return denoise(self.unet, x, sigma, cond, self.sampler)
        both = denoise(self.unet, torch.cat([x, x]), torch.cat([sigma, sigma]),
                       torch.cat([cond, uncond]), self.sampler)
        c, u = both.chunk(2)
        return u + scale * (c - u)

    @torch.no_grad()
    def generate(self, captions: Sequence[str], seeds: Sequence[int], steps: int | None = None,
                 guidance_scale: float | None = None) -> torch.Tensor:
        s = self.sampler
        scale = s.guidance_scale if guidance_scale is None else guidance_scale
        cond = self.encode(captions)
        uncond = self.encode([""] * len(captions)) if scale != 1.0 else None
        x = self.sample(cond, uncond, self.noise(seeds), steps, scale)
        return from_unit_float(x.permute(0, 2, 3, 4, 1).float().cpu())

    @torch.no_grad()
    def sample(self, cond: torch.Tensor, uncond: torch.Tensor | None, noise: torch.Tensor,
               steps: int | None = None, guidance_scale: float | None = None) -> torch.Tensor:
        """Heun sampling with CFG from unit-variance ``noise`` ``(B, 3, T, H, W)``; ``cond`` /
        ``uncond`` contexts ``(B, max_tokens, dim)`` (``uncond`` None: no guidance) → x̂₀ float
        ``(B, 3, T, H, W)``, about [-1, 1]."""
        s = self.sampler
        steps = steps or s.steps
        scale = s.guidance_scale if guidance_scale is None else guidance_scale
        sig = s.sigmas(steps)
        x = noise.to(self.device) * sig[0].float()
        b = x.shape[0]
        for i in range(steps):  # Heun (2nd order) except on the last step (to σ = 0)
            s0, s1 = float(sig[i]), float(sig[i + 1])
            d0 = (x - self.guided(x, torch.full((b,), s0, device=self.device), cond, uncond,
                                  scale)) / s0
            x1 = x + (s1 - s0) * d0
            if s1 > 0:
                d1 = (x1 - self.guided(x1, torch.full((b,), s1, device=self.device), cond,
                                       uncond, scale)) / s1
                x1 = x + (s1 - s0) * 0.5 * (d0 + d1)
            x = x1
        return x


def save_model_dir(out: Path, unet: VideoCrafter2UNet, text_encoder: CaptionEncoder,
                   sampler: T2VSamplerConfig) -> None:
    """Write the model directory (see the module docstring)."""
    out.mkdir(parents=True, exist_ok=True)
    unet.save_pretrained(out / "unet")
    save_file({k: v.detach().contiguous().cpu() for k, v in text_encoder.state_dict().items()},
              str(out / "text_encoder.safetensors"))
    (out / "text_encoder.json").write_text(json.dumps(text_encoder.config(), indent=1))
    (out / "sampler.json").write_text(json.dumps(asdict(sampler), indent=1))


def resolve_model_dir(weights: str | Path | None) -> ResolvedModel:
    """Where each part (:data:`PARTS`) of a model comes from: follow ``compression.json`` →
    ``base_weights`` links from ``weights`` (None = the shipped teacher) until the UNet, the
    text encoder and ``sampler.json`` are found (see
    :func:`vdmbench.models.student_dir.walk_chain`); a missing part is a
    :class:`WeightsNotFoundError` naming the file looked for."""
    sources, chain, unet_class = walk_chain(weights, ASSET_DIR, ADAPTER_NAME, PARTS, _LAYOUT)
    missing = [rel for part, rel in PARTS.items() if part not in sources]
    if missing:
        raise WeightsNotFoundError(
            f"synth-t2v: {chain[-1] / missing[0]} not found (looked in "
            f"{', '.join(map(str, chain))}; {_LAYOUT})")
    return ResolvedModel(sources, sources["sampler"] / "sampler.json", chain, unet_class)


def _require(path: Path) -> Path:
    if not path.is_file():
        raise WeightsNotFoundError(f"synth-t2v: {path} not found{variant_note(path)} "
                                   f"({_LAYOUT})")
    return path


def load_pipeline(weights: str | Path | None = None, device: str = "cpu"
                  ) -> tuple[SynthT2VPipeline, ResolvedModel]:
    """Load a teacher or student directory (see :func:`resolve_model_dir`); a missing file is a
    :class:`WeightsNotFoundError` naming it. The UNet is frozen (no gradients)."""
    res = resolve_model_dir(weights)
    unet_dir = res.sources["unet"] / "unet"
    _require(unet_dir / "diffusion_pytorch_model.safetensors")
    if res.unet_class:
        unet = load_student_unet(unet_dir, res.unet_class,
                                 res.sources["unet"] / "compression.json")
    else:
        unet = VideoCrafter2UNet.from_pretrained(unet_dir)
    if not isinstance(unet, VideoCrafter2UNet):
        raise ConfigError(f"synth-t2v: the UNet at {unet_dir} is a {type(unet).__name__}, not a "
                          f"VideoCrafter2UNet", file=str(unet_dir / "config.json"))
    te_dir = res.sources["text_encoder"]
    tcfg = read_json(te_dir / "text_encoder.json", "synth-t2v text encoder")
    te = CaptionEncoder(tcfg["vocab"], tcfg["dim"], tcfg["layers"], tcfg["heads"],
                        tcfg["max_tokens"])
    te.load_state_dict(load_file(str(_require(te_dir / "text_encoder.safetensors"))),
                       strict=True)
    sampler = T2VSamplerConfig(**read_json(res.sampler_file, "synth-t2v sampler settings"))
    return SynthT2VPipeline(unet.requires_grad_(False), te, sampler, device), res


def load_model_dir(path: Path, device: str = "cpu") -> SynthT2VPipeline:
    """The pipeline of a model (or student) directory; see :func:`load_pipeline`."""
    return load_pipeline(path, device)[0]


