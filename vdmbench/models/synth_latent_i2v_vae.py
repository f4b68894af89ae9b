"""The latent synthetic world's temporal VAE: SVD's ``AutoencoderKLTemporalDecoder``, small.

Architecture: diffusers :class:`~diffusers.AutoencoderKLTemporalDecoder` (2-D encoder applied
per frame, decoder with temporal layers: ``SpatioTemporalResBlock`` s and a final
``Conv3d``), ``block_out_channels`` (64, 128, 128) → a 4× spatial factor, 4 latent channels,
``layers_per_block`` 1 (the decoder's up blocks hold 2 resnets each). A SynthMotion video of
8 frames at 32×32 becomes latents ``(8, 4, 8, 8)``.

Layouts: pixels are float ``(B, T, 3, H, W)`` in [-1, 1] (diffusers' video layout), latents
``(B, T, 4, H/4, W/4)`` *scaled* by ``config.scaling_factor`` (chosen at export so the scaled
latents of SynthMotion train clips have unit standard deviation, SD's convention).

A VAE directory is diffusers ``save_pretrained`` output: ``config.json`` +
``diffusion_pytorch_model.safetensors`` (stored as float16, loaded as float32). The shipped one
lives in ``vdmbench/assets/synth_latent_vae/`` with ``vae.json`` (training record and the
weights' sha256, checked on every load of the shipped VAE).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from diffusers import AutoencoderKLTemporalDecoder
from safetensors.torch import load_file

from vdmbench.errors import ConfigError, VdmbenchError, WeightsNotFoundError
from vdmbench.paths import sha256_file

#: the shipped VAE, inside the package
VAE_DIR = Path(__file__).resolve().parent.parent / "assets" / "synth_latent_vae"
VAE_WEIGHTS = "diffusion_pytorch_model.safetensors"
VAE_RECORD = "vae.json"


def vae_config(channels: Sequence[int] = (64, 128, 128), layers_per_block: int = 1,
               latent_channels: int = 4, scaling_factor: float = 1.0) -> dict[str, Any]:
    """``AutoencoderKLTemporalDecoder`` config: len(channels) − 1 spatial 2× downsamplings.

    Channels must be multiples of 32 (GroupNorm with 32 groups)."""
    if any(c % 32 for c in channels):
        raise ConfigError(f"VAE channels must be multiples of 32, got {list(channels)}")
    return {"in_channels": 3, "out_channels": 3,
            "down_block_types": ["DownEncoderBlock2D"] * len(channels),
            "block_out_channels": list(channels), "layers_per_block": layers_per_block,
            "latent_channels": latent_channels, "sample_size": 32,
            "scaling_factor": scaling_factor, "force_upcast": False}


def build_random_vae(seed: int = 0, **config: Any) -> AutoencoderKLTemporalDecoder:
    """A randomly initialised (seeded) VAE with :func:`vae_config` ``(**config)``."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return AutoencoderKLTemporalDecoder.from_config(vae_config(**config)).eval()


def spatial_factor(vae: AutoencoderKLTemporalDecoder) -> int:
    return 2 ** (len(vae.config.block_out_channels) - 1)


def encode_frames(vae: AutoencoderKLTemporalDecoder, x: torch.Tensor,
                  sample: bool = False, generator: torch.Generator | None = None
                  ) -> torch.Tensor:
    """Pixels ``(B, T, 3, H, W)`` (or frames ``(B, 3, H, W)``) in [-1, 1] → scaled latents
    ``(B, T, C, H/f, W/f)`` (or ``(B, C, H/f, W/f)``): the posterior mode, or a sample."""
    video = x.ndim == 5
    flat = x.flatten(0, 1) if video else x
    p = next(vae.parameters())
    post = vae.encode(flat.to(p.device, p.dtype)).latent_dist
    z = post.sample(generator) if sample else post.mode()
    z = z * vae.config.scaling_factor
    return z.unflatten(0, x.shape[:2]) if video else z


def decode_latents(vae: AutoencoderKLTemporalDecoder, z: torch.Tensor) -> torch.Tensor:
    """Scaled latents ``(B, T, C, h, w)`` → pixels ``(B, T, 3, h·f, w·f)`` (about [-1, 1],
    not clamped); the temporal decoder sees each video's T frames together."""
    b, t = z.shape[:2]
    p = next(vae.parameters())
    flat = (z.flatten(0, 1) / vae.config.scaling_factor).to(p.device, p.dtype)
    return vae.decode(flat, num_frames=t).sample.unflatten(0, (b, t))


def save_vae(directory: str | Path, vae: AutoencoderKLTemporalDecoder,
             dtype: torch.dtype = torch.float16) -> Path:
    """``save_pretrained`` with weights stored in ``dtype`` (loaded back as float32)."""
    import copy

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    copy.deepcopy(vae).to(dtype).save_pretrained(out, safe_serialization=True)
    return out


def load_vae(directory: str | Path | None = None) -> AutoencoderKLTemporalDecoder:
    """A VAE directory (None = the shipped VAE), float32, eval, no gradients, on the CPU. Where
    the directory holds ``vae.json`` (the shipped VAE always does), the weights' sha256 must be
    the one it records."""
    d = VAE_DIR if directory is None else Path(directory)
    cfg_path, w_path = d / "config.json", d / VAE_WEIGHTS
    for p in (cfg_path, w_path):
        if not p.is_file():
            raise WeightsNotFoundError(f"VAE: file not found at {p}. Put a diffusers "
                                       f"AutoencoderKLTemporalDecoder (config.json + "
                                       f"{VAE_WEIGHTS}) under {d}")
    record = d / VAE_RECORD
    if record.is_file() or directory is None:
        try:
            want = json.loads(record.read_text())["sha256"]
        except (OSError, json.JSONDecodeError, KeyError) as e:
            raise ConfigError(f"VAE: cannot read the recorded sha256: {e!r}",
                              file=str(record)) from e
        got = sha256_file(w_path)
        if got != want:
            raise VdmbenchError(f"VAE weights changed: sha256 {got} of {w_path} is not "
                                f"{want} (recorded in {record})")
    try:
        config = json.loads(cfg_path.read_text())
        vae = AutoencoderKLTemporalDecoder.from_config(config)
    except (OSError, json.JSONDecodeError, TypeError, ValueError) as e:
        raise ConfigError(f"VAE: invalid config: {e}", file=str(cfg_path)) from e
    try:
        vae.load_state_dict(load_file(str(w_path)), strict=True)
    except RuntimeError as e:
        raise ConfigError(f"VAE: weights do not match config: {e}", file=str(w_path)) from e
    return vae.float().eval().requires_grad_(False)
