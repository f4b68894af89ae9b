"""``t2v-turbo-v2``: T2V-Turbo-v2 (consistency-distilled VideoCrafter2) behind the adapter protocol.

Components (all from local files under ``weights`` = a directory, e.g. ``${T2V_TURBO_V2_DIR}``):

- ``base_checkpoint`` (``VideoCrafter2_model.ckpt``, VideoCrafter2's ``model.ckpt``): the VAE
  (``first_stage_model.*``, ldm names, converted with diffusers' ldm→diffusers VAE mapping into an
  ``AutoencoderKL`` with the Stable Diffusion config) and, unless ``text_encoder`` is given, the
  OpenCLIP ViT-H-14 text tower (``cond_stage_model.model.*``).
- ``unet``: T2V-Turbo-v2's UNet, an lvdm state dict (``unet_mg.pt`` / ``unet_no_mg.pt``) loaded
  strictly into :class:`VideoCrafter2UNet` with ``time_cond_proj_dim=256`` (and
  ``motion_cond_proj_dim=256`` when the file has motion guidance), or a ``save_pretrained``
  directory (a compressed student such as VDMini-T2V).

Sampling follows the T2V-Turbo code: scaled-linear betas (0.00085 → 0.012, 1000 steps); LCM
timesteps ``c = 1000 // lcm_origin_steps``, ``origin = [1 … lcm_origin_steps]·c − 1``, every
``lcm_origin_steps // steps``-th from the end (4 steps, 200 origin steps: 999, 749, 499, 249);
ε-prediction; consistency boundary scalings ``c_skip = σ_d²/((t/0.1)² + σ_d²)``,
``c_out = (t/0.1)/√((t/0.1)² + σ_d²)`` with ``σ_d = 0.5``; re-noising between steps. Guidance is
distilled: the scale ``w`` (7.5) enters as a 256-d sinusoidal embedding of ``1000·w``
(``[sin, cos]``, frequencies ``exp(−ln(10⁴)·i/(half−1))``) through ``timestep_cond`` — one UNet call
per step, no CFG batch. With motion guidance, ``motion_gs`` (0.05) is embedded likewise while
``t ≥ 1000·(1 − percentage)`` and 0 afterwards. ``fps`` conditioning 16. Latents ``(B, 4, 16, 40,
64)`` decode frame by frame after ``/ 0.18215``. Steps: 4, 8 or 16.

The text encoder is VideoCrafter2's ``FrozenOpenCLIPEmbedder`` (``layer: penultimate``): tokens →
token + position embeddings → all residual blocks but the last → ``ln_final`` → ``(B, 77, 1024)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from vdmbench.errors import (
    VdmbenchError,
    WeightsNotFoundError,
)
from vdmbench.models.lvdm_convert import convert_state_dict, default_config, read_state_dict
from vdmbench.models.videocrafter2_unet import VideoCrafter2UNet
from vdmbench.video import from_unit_float

ALLOWED_STEPS = (4, 8, 16)
VAE_SCALE = 0.18215
SD_VAE_CONFIG: dict[str, Any] = {
    "in_channels": 3, "out_channels": 3, "latent_channels": 4,
    "down_block_types": ["DownEncoderBlock2D"] * 4, "up_block_types": ["UpDecoderBlock2D"] * 4,
    "block_out_channels": [128, 256, 512, 512], "layers_per_block": 2, "norm_num_groups": 32,
    "act_fn": "silu", "sample_size": 512, "scaling_factor": VAE_SCALE,
}


@dataclass(frozen=True)
class TurboSampler:
    """T2V-Turbo's consistency sampler settings."""

    steps: int = 4
    lcm_origin_steps: int = 200
    num_train_timesteps: int = 1000
    beta_start: float = 0.00085
    beta_end: float = 0.012
    sigma_data: float = 0.5
    guidance_scale: float = 7.5
    motion_gs: float = 0.05
    motion_percentage: float = 0.3
    fps: int = 16

    def timesteps(self) -> list[int]:
        """The inference timesteps, decreasing."""
        c = self.num_train_timesteps // self.lcm_origin_steps
        origin = [(i + 1) * c - 1 for i in range(self.lcm_origin_steps)]
        skip = len(origin) // self.steps
        return origin[::-skip][: self.steps]

    def alphas_cumprod(self) -> torch.Tensor:
        betas = torch.linspace(self.beta_start ** 0.5, self.beta_end ** 0.5,
                               self.num_train_timesteps, dtype=torch.float32) ** 2
        return torch.cumprod(1.0 - betas, dim=0)

    def boundary(self, t: int) -> tuple[float, float]:
        """``(c_skip, c_out)`` at timestep ``t``."""
        s = t / 0.1
        sd2 = self.sigma_data ** 2
        return sd2 / (s ** 2 + sd2), s / math.sqrt(s ** 2 + sd2)


def guidance_embedding(w: torch.Tensor, dim: int = 256) -> torch.Tensor:
    """``(B,)`` scales → ``(B, dim)``: ``[sin, cos](1000·w·exp(−ln(10⁴)·i/(dim/2 − 1)))``."""
    half = dim // 2
    freqs = torch.exp(torch.arange(half, dtype=torch.float32) * -(math.log(10000.0) / (half - 1)))
    arg = (w.float() * 1000.0)[:, None] * freqs[None]
    emb = torch.cat([torch.sin(arg), torch.cos(arg)], dim=1)
    return torch.nn.functional.pad(emb, (0, 1)) if dim % 2 else emb


class T2VTurboPipeline:
    """UNet + VAE + text encoder + :class:`TurboSampler`; device/dtype of the UNet."""

    def __init__(self, unet: VideoCrafter2UNet, vae: Any, encode_text: Callable[[list[str]],
                 torch.Tensor], sampler: TurboSampler, device: str | torch.device,
                 dtype: torch.dtype, motion_guidance: bool) -> None:
        self.unet, self.vae, self.encode_text = unet, vae, encode_text
        self.sampler, self.device, self.dtype = sampler, torch.device(device), dtype
        self.motion_guidance = motion_guidance
        self._ac = sampler.alphas_cumprod()

    def conditions(self, b: int, t: int) -> dict[str, torch.Tensor]:
        s = self.sampler
        out = {"timestep_cond": guidance_embedding(torch.full((b,), s.guidance_scale)).to(
            self.device, self.dtype)}
        if self.motion_guidance:
            threshold = s.num_train_timesteps * (1 - s.motion_percentage)
            mg = s.motion_gs if t >= threshold else 0.0
            out["motion_cond"] = guidance_embedding(torch.full((b,), mg)).to(self.device,
                                                                              self.dtype)
        return out

    @torch.no_grad()
    def unet_step(self, latents: torch.Tensor, t: int, context: torch.Tensor) -> torch.Tensor:
        """One UNet evaluation (ε prediction) at timestep ``t``."""
        b = latents.shape[0]
        ts = torch.full((b,), t, device=self.device, dtype=torch.long)
        return self.unet(latents, ts, context, fps=self.sampler.fps,
                         return_dict=False, **self.conditions(b, t))[0]

    @torch.no_grad()
    def sample_latents(self, context: torch.Tensor, generators: Sequence[torch.Generator],
                       shape: tuple[int, int, int, int]) -> torch.Tensor:
        """``shape`` = (C, T, h, w) per video; one generator per video (noise and re-noise)."""
        x = torch.stack([torch.randn(shape, generator=g) for g in generators]).to(
            self.device, self.dtype)
        ts = self.sampler.timesteps()
        denoised = x
        for i, t in enumerate(ts):
            eps = self.unet_step(x, t, context).float()
            a_t = self._ac[t]
            prev = ts[i + 1] if i + 1 < len(ts) else t
            a_prev = self._ac[prev]
            c_skip, c_out = self.sampler.boundary(t)
            x0 = (x.float() - (1 - a_t).sqrt() * eps) / a_t.sqrt()
            denoised = c_out * x0 + c_skip * x.float()
            if i + 1 < len(ts):
                noise = torch.stack([torch.randn(shape, generator=g) for g in generators]).to(
                    self.device)
                x = (a_prev.sqrt() * denoised + (1 - a_prev).sqrt() * noise).to(self.dtype)
        return denoised.to(self.dtype)

    @torch.no_grad()
    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """``(B, 4, T, h, w)`` latents → uint8 ``(B, T, 8h, 8w, 3)``, one frame at a time."""
        frames = []
        for i in range(latents.shape[2]):
            z = (latents[:, :, i] / VAE_SCALE).to(self.vae.dtype)
            frames.append(self.vae.decode(z).sample)
        x = torch.stack(frames, dim=1)  # (B, T, 3, H, W)
        return from_unit_float(x.permute(0, 1, 3, 4, 2).float().cpu())

    def generate(self, prompts: list[str], seeds: Sequence[int], frames: int, height: int,
                 width: int) -> torch.Tensor:
        context = self.encode_text(prompts).to(self.device, self.dtype)
        gens = [torch.Generator().manual_seed(int(s)) for s in seeds]
        lat = self.sample_latents(context, gens, (self.unet.config.in_channels, frames,
                                                  height // 8, width // 8))
        return self.decode(lat)


# ----------------------------------------------------------------------------- loading


def import_open_clip() -> Any:
    try:
        import open_clip  # noqa: PLC0415 (optional dependency)
    except ImportError:
        raise VdmbenchError("t2v-turbo-v2 needs the OpenCLIP text encoder: pip install "
                            "vdmbench[t2v] (open-clip-torch)") from None
    return open_clip


class OpenCLIPText:
    """VideoCrafter2's penultimate-layer OpenCLIP ViT-H-14 text features, ``(B, 77, 1024)``."""

    def __init__(self, state: dict[str, torch.Tensor], source: str, device: str,
                 dtype: torch.dtype) -> None:
        oc = import_open_clip()
        model = oc.create_model("ViT-H-14", pretrained=None, device="cpu")
        del model.visual
        text_state = {k: v for k, v in state.items() if not k.startswith("visual.")}
        missing, unexpected = model.load_state_dict(text_state, strict=False)
        if missing or unexpected:
            raise WeightsNotFoundError(
                f"{source}: OpenCLIP ViT-H-14 text weights do not match: missing "
                f"{missing[:10]}, unexpected {unexpected[:10]}")
        self.model = model.to(device, dtype).eval()
        self.tokenize = oc.tokenize
        self.device = device

    @torch.no_grad()
    def __call__(self, prompts: list[str]) -> torch.Tensor:
        m = self.model
        tokens = self.tokenize(prompts).to(self.device)
        x = m.token_embedding(tokens) + m.positional_embedding
        batch_first = getattr(m.transformer, "batch_first", False)
        if not batch_first:
            x = x.permute(1, 0, 2)
        blocks = m.transformer.resblocks
        for r in list(blocks)[: len(blocks) - 1]:  # penultimate layer
            x = r(x, attn_mask=m.attn_mask)
        if not batch_first:
            x = x.permute(1, 0, 2)
        return m.ln_final(x)


def load_vae(base: dict[str, torch.Tensor], source: str) -> Any:
    """VideoCrafter2's first stage as a diffusers ``AutoencoderKL`` (strict)."""
    from diffusers import AutoencoderKL
    from diffusers.loaders.single_file_utils import convert_ldm_vae_checkpoint

    ldm = {k: v for k, v in base.items() if k.startswith("first_stage_model.")}
    if not ldm:
        raise WeightsNotFoundError(f"{source}: no first_stage_model.* (VAE) weights")
    state = convert_ldm_vae_checkpoint(ldm, SD_VAE_CONFIG)
    with torch.device("meta"):
        vae = AutoencoderKL.from_config(SD_VAE_CONFIG)
    try:
        vae.load_state_dict(state, strict=True, assign=True)
    except RuntimeError as e:
        raise WeightsNotFoundError(f"{source}: VAE weights do not match the Stable Diffusion "
                                   f"AutoencoderKL config: {e}") from None
    return vae.eval()


def load_turbo_unet(path: Path, dtype: torch.dtype) -> VideoCrafter2UNet:
    """A T2V-Turbo(-v2) lvdm UNet file, or a ``save_pretrained`` directory."""
    if path.is_dir():
        return VideoCrafter2UNet.from_pretrained(path).to(dtype).eval()
    state = read_state_dict(path)
    cfg = default_config()
    cfg["time_cond_proj_dim"] = 256
    if any(k.endswith("motion_cond_proj.weight") for k in state):
        cfg["motion_cond_proj_dim"] = 256
    conv = convert_state_dict(state, cfg, source=str(path))
    with torch.device("meta"):
        unet = VideoCrafter2UNet.from_config(cfg)
    unet.load_state_dict(conv, strict=True, assign=True)
    return unet.to(dtype).eval()
