"""The latent synthetic world's image-to-video model: SVD's UNet on a temporal VAE's latents.

This module holds the model (architecture, sampler settings, pipeline, loading and saving);
:mod:`vdmbench.models.synth_latent_i2v` is its adapter, and
:mod:`vdmbench.models.synth_latent_i2v_denoiser` what it hands to training and acceleration.
The VAE is :mod:`vdmbench.models.synth_latent_i2v_vae`.

SVD's architecture and convention, in miniature:

- ``vae``: diffusers ``AutoencoderKLTemporalDecoder`` (4 latent channels, 4× spatial factor):
  8 frames of 32×32 pixels ↔ latents ``(8, 4, 8, 8)``, scaled by ``vae.config.scaling_factor``
  (unit standard deviation);
- ``unet``: diffusers ``UNetSpatioTemporalConditionModel`` with SVD's block types and 4
  resolution levels; input = the noisy latent (4 channels) ‖ the conditioning frame's latent
  (4 channels, repeated over frames) → ``in_channels=8``, ``out_channels=4``;
- ``image_encoder``: :class:`~vdmbench.models.synth_i2v_pipeline.FirstFrameEncoder` on the
  conditioning frame's (clean) latent plus a learned motion-bucket embedding → a one-token
  context (SVD's CLIP image embedding plays this role; the pixel teacher's reason for the
  motion embedding holds here too);
- ``added_time_ids`` = (fps id, motion bucket id = SynthMotion motion class, noise augmentation
  strength); **conditioning noise augmentation** as in SVD: the concatenated conditioning latent
  is ``z_cond + s·ε`` and ``s`` is the third time id (training: ``s ~ logNormal(-3, 0.5)``, as
  SVD; sampling: ``sampler.noise_aug_strength``, 0.02 by default). SVD adds the noise to the
  pixels before encoding; here it is added to the (scaled) latent, so that a cached latent
  serves every draw;
- EDM preconditioning (σ_data = 1, the scaled latents' std), ``c_noise = ln σ / 4``, Euler on a
  Karras schedule.

Tensors: pixels float ``(B, T, 3, H, W)`` in [-1, 1]; latents ``(B, T, 4, H/4, W/4)`` (scaled).
A model directory holds ``unet/``, ``image_encoder/``, ``sampler.json`` and optionally ``vae/``
(absent = the shipped VAE, ``vdmbench/assets/synth_latent_vae``); a student directory holds
what changed plus ``compression.json`` (see :mod:`vdmbench.models.student_dir`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn
from diffusers import UNetSpatioTemporalConditionModel

from vdmbench.diffusion.edm import edm_loss_weight
from vdmbench.errors import VdmbenchError, WeightsNotFoundError
from vdmbench.models.student_dir import ResolvedModel, load_student_unet, walk_chain
from vdmbench.models.synth_i2v_pipeline import (
    FirstFrameEncoder,
    SamplerConfig,
    SynthI2VPipeline,
    _load_module,
    save_model_dir,
    teacher_unet_config,
)
from vdmbench.models.synth_latent_i2v_vae import (
    VAE_DIR,
    decode_latents,
    encode_frames,
    load_vae,
)

ADAPTER_NAME = "synth-latent-i2v"
#: the shipped latent teacher (EMA weights), inside the package
TEACHER_DIR = Path(__file__).resolve().parent.parent / "assets" / "synth_latent_i2v_teacher"
COMPONENTS = ("unet", "image_encoder")
#: SVD's conditioning-augmentation distribution in training: ln s ~ N(-3, 0.5²)
AUG_P_MEAN, AUG_P_STD = -3.0, 0.5


@dataclass(frozen=True)
class LatentSamplerConfig(SamplerConfig):
    """``sampler.json`` of a latent model: :class:`SamplerConfig`'s fields with latent-world
    defaults (``frames``/``height``/``width`` are the *pixel* video shape; σ's are in units of
    the scaled latents, whose std is 1)."""

    frames: int = 8
    height: int = 32
    width: int = 32
    steps: int = 8
    sigma_max: float = 40.0
    sigma_data: float = 1.0
    noise_aug_strength: float = 0.02


def latent_unet_config(channels: Sequence[int] = (32, 32, 32, 32),
                       heads: Sequence[int] = (2, 2, 2, 2), cross_attention_dim: int = 32,
                       frames: int = 8, latent_channels: int = 4) -> dict[str, Any]:
    """The pixel teacher's UNet config (:func:`teacher_unet_config`) on latents:
    ``in_channels`` = 2 × latent channels, ``out_channels`` = latent channels."""
    cfg = teacher_unet_config(channels, heads, cross_attention_dim, frames)
    cfg.update(in_channels=2 * latent_channels, out_channels=latent_channels)
    return cfg


class SynthLatentI2VPipeline(SynthI2VPipeline):
    """VAE + UNet + first-latent encoder + sampler settings: sampling (latents, then decode)
    and the EDM loss on latents. ``denoise``, ``added_time_ids`` and ``sigmas`` are the pixel
    pipeline's (they are space-agnostic); noise is drawn on the CPU from per-sample generators.
    """

    def __init__(self, unet: nn.Module, image_encoder: nn.Module, vae: nn.Module,
                 sampler: LatentSamplerConfig) -> None:
        super().__init__(unet, image_encoder, sampler)
        self.vae = vae

    @property
    def latent_channels(self) -> int:
        return int(self.vae.config.latent_channels)

    @property
    def factor(self) -> int:
        return 2 ** (len(self.vae.config.block_out_channels) - 1)

    # -- VAE ---------------------------------------------------------------------------------

    @torch.no_grad()
    def encode_images(self, images: torch.Tensor) -> torch.Tensor:
        """Conditioning frames (uint8 ``(B, H, W, 3)`` or float ``(B, 3, H, W)`` in [-1, 1]) →
        their scaled latents ``(B, C, H/f, W/f)`` (posterior mode), model dtype and device."""
        cond = self.prepare_images(images)
        return encode_frames(self.vae, cond.float()).to(self.device, self.dtype)

    @torch.no_grad()
    def encode_video(self, videos: torch.Tensor) -> torch.Tensor:
        """Pixels ``(B, T, 3, H, W)`` in [-1, 1] → scaled latents ``(B, T, C, h, w)`` (mode)."""
        return encode_frames(self.vae, videos.float())

    @torch.no_grad()
    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """Scaled latents ``(B, T, C, h, w)`` → float pixels ``(B, T, 3, H, W)`` (not clamped)."""
        return decode_latents(self.vae, latents).float()

    # -- conditioning ------------------------------------------------------------------------

    def augment(self, cond_latent: torch.Tensor, strength: torch.Tensor | float,
                noise: torch.Tensor) -> torch.Tensor:
        """SVD's conditioning noise augmentation: ``z + s·ε`` (``s`` scalar or ``(B,)``)."""
        s = torch.as_tensor(strength, dtype=torch.float32).reshape(-1, 1, 1, 1)
        return (cond_latent.float() + s.to(cond_latent.device) * noise.to(cond_latent.device)
                ).to(cond_latent.dtype)

    def added_time_ids(self, motion_classes: Sequence[int] | torch.Tensor,
                       aug: torch.Tensor | None = None) -> torch.Tensor:
        """``(B, 3)`` = (fps id, motion bucket, augmentation strength: ``aug`` ``(B,)`` or the
        sampler's)."""
        ids = super().added_time_ids(motion_classes)
        if aug is not None:
            ids = ids.clone()
            ids[:, 2] = aug.to(ids)
        return ids

    def initial_noise(self, batch: int, num_frames: int, height: int, width: int,
                      generators: Sequence[torch.Generator] | None) -> torch.Tensor:
        """Unit Gaussian latent noise ``(B, T, C, h, w)`` (pixel ``height``/``width``) and,
        after it from the same generator, nothing else: the conditioning noise is drawn by
        :meth:`cond_noise`."""
        shape = (num_frames, self.latent_channels, height // self.factor, width // self.factor)
        if generators is None:
            return torch.randn(batch, *shape)
        if len(generators) != batch:
            raise VdmbenchError(f"need one generator per sample: {len(generators)} for {batch}")
        return torch.stack([torch.randn(shape, generator=g) for g in generators])

    def cond_noise(self, batch: int, height: int, width: int,
                   generators: Sequence[torch.Generator] | None) -> torch.Tensor:
        """Unit Gaussian ``(B, C, h, w)`` for the conditioning augmentation."""
        shape = (self.latent_channels, height // self.factor, width // self.factor)
        if generators is None:
            return torch.randn(batch, *shape)
        return torch.stack([torch.randn(shape, generator=g) for g in generators])

    def conditioning(self, images: torch.Tensor, motion_classes: Sequence[int] | torch.Tensor,
                     generators: Sequence[torch.Generator] | None = None,
                     cond_noise: torch.Tensor | None = None
                     ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(augmented conditioning latent ``(B, C, h, w)``, context ``(B, 1, D)``, time ids
        ``(B, 3)``) for frames and motion buckets; the augmentation noise comes from
        ``generators`` (drawn after the initial noise) or ``cond_noise``."""
        z = self.encode_images(images)
        b = z.shape[0]
        h, w = z.shape[-2] * self.factor, z.shape[-1] * self.factor
        if cond_noise is None:
            cond_noise = self.cond_noise(b, h, w, generators)
        with torch.no_grad():
            context = self.encode(z, motion_classes)
        cond = self.augment(z, self.sampler.noise_aug_strength, cond_noise)
        return cond, context, self.added_time_ids(motion_classes)

    # -- sampling ----------------------------------------------------------------------------

    @torch.no_grad()
    def sample_latents(self, cond: torch.Tensor, context: torch.Tensor, ids: torch.Tensor,
                       noise: torch.Tensor, steps: int | None = None) -> torch.Tensor:
        """Euler sampling from unit ``noise`` ``(B, T, C, h, w)`` with prepared conditioning;
        returns latents in the model dtype."""
        sig = self.sigmas(steps).to(self.device)
        x = (noise.to(self.device, torch.float32) * sig[0]).to(self.dtype)
        for i in range(len(sig) - 1):
            denoised = self.denoise(x, sig[i], cond, context, ids)
            d = (x.float() - denoised.float()) / sig[i]
            x = (x.float() + (sig[i + 1] - sig[i]) * d).to(self.dtype)
        return x

    @torch.no_grad()
    def sample(self, images: torch.Tensor, motion_classes: Sequence[int] | torch.Tensor,
               num_frames: int | None = None, steps: int | None = None,
               generators: Sequence[torch.Generator] | None = None,
               noise: torch.Tensor | None = None) -> torch.Tensor:
        """Generate pixel videos float ``(B, T, 3, H, W)`` (about [-1, 1], not clamped).

        ``images``: uint8 ``(B, H, W, 3)`` or float ``(B, 3, H, W)``; ``motion_classes``: B
        buckets; each sample's generator draws its latent noise, then its conditioning noise."""
        if images.dtype == torch.uint8:
            h, w = int(images.shape[1]), int(images.shape[2])
        else:
            h, w = int(images.shape[-2]), int(images.shape[-1])
        b = int(images.shape[0])
        t = num_frames or self.sampler.frames
        if noise is None:
            noise = self.initial_noise(b, t, h, w, generators)
        cond, context, ids = self.conditioning(images, motion_classes, generators)
        return self.decode(self.sample_latents(cond, context, ids, noise, steps))

    # -- training ----------------------------------------------------------------------------

    def loss(self, latents: torch.Tensor, motion_classes: torch.Tensor, p_mean: float,
             p_std: float, generator: torch.Generator | None = None) -> torch.Tensor:
        """EDM loss (scalar) on scaled latents ``(B, T, C, h, w)`` whose frame 0 is the
        conditioning frame's latent: σ ~ logNormal(p_mean, p_std), weight λ(σ); the
        conditioning latent is augmented with ``s ~ logNormal(-3, 0.5)``, ``s`` fed as the third
        time id; the context sees the clean latent."""
        b = latents.shape[0]
        dev = latents.device
        sigma = (torch.randn(b, generator=generator) * p_std + p_mean).exp().to(dev)
        n = torch.randn(latents.shape, generator=generator).to(dev)
        aug = (torch.randn(b, generator=generator) * AUG_P_STD + AUG_P_MEAN).exp()
        z0 = latents[:, 0]
        cond = self.augment(z0, aug, torch.randn(z0.shape, generator=generator))
        noisy = latents + sigma.view(-1, 1, 1, 1, 1) * n
        denoised = self.denoise(noisy, sigma, cond, self.encode(z0, motion_classes),
                                self.added_time_ids(motion_classes, aug.to(dev)))
        per = ((denoised.float() - latents.float()) ** 2).mean(dim=(1, 2, 3, 4))
        return (edm_loss_weight(sigma, self.sampler.sigma_data) * per).mean()


# ----------------------------------------------------------------------------- building


def build_random_model(vae: nn.Module, seed: int = 0, sampler: LatentSamplerConfig | None = None,
                       channels: Sequence[int] = (32, 32, 32, 32),
                       heads: Sequence[int] = (2, 2, 2, 2), cross_attention_dim: int = 32,
                       encoder_channels: tuple[int, ...] = (32, 64)) -> SynthLatentI2VPipeline:
    """A randomly initialised (seeded) latent teacher around ``vae`` (not re-initialised)."""
    sampler = sampler or LatentSamplerConfig()
    c = int(vae.config.latent_channels)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        unet = UNetSpatioTemporalConditionModel.from_config(
            latent_unet_config(channels, heads, cross_attention_dim, sampler.frames, c))
        enc = FirstFrameEncoder(c, tuple(encoder_channels), cross_attention_dim,
                                sampler.null_motion_bucket + 1)
    return SynthLatentI2VPipeline(unet.eval(), enc.eval(), vae, sampler)


# ----------------------------------------------------------------------------- loading


def resolve_model_dir(weights: str | Path | None) -> ResolvedModel:
    """Follow ``compression.json`` → ``base_weights`` links (None = the shipped teacher) until
    ``unet``, ``image_encoder`` and ``sampler.json`` are found; ``vae`` is optional (absent =
    the shipped VAE)."""
    parts = {**{c: c for c in COMPONENTS}, "vae": "vae", "sampler": "sampler.json"}
    sources, chain, unet_class = walk_chain(
        weights, TEACHER_DIR, ADAPTER_NAME, parts,
        "give a model directory with unet/, image_encoder/ and sampler.json (vae/ optional), "
        "or a student directory with compression.json")
    last = chain[-1]
    for comp in COMPONENTS:
        if comp not in sources:
            raise WeightsNotFoundError(
                f"{comp}: file not found at {last / comp / 'config.json'} (looked in "
                f"{', '.join(map(str, chain))}). Put the {comp} (config.json + safetensors) "
                f"there")
    if "sampler" not in sources:
        raise WeightsNotFoundError(
            f"sampler settings: file not found at {last / 'sampler.json'} (looked in "
            f"{', '.join(map(str, chain))})")
    return ResolvedModel(sources, sources["sampler"] / "sampler.json", chain, unet_class)


def load_model_vae(res: ResolvedModel) -> nn.Module:
    """The VAE of a resolved model: a pruned ``vae/`` (``vdmbench_pruned`` in its config), a
    plain one, or the shipped VAE when no directory of the chain has ``vae/``."""
    if "vae" not in res.sources:
        return load_vae(None)
    folder = res.sources["vae"] / "vae"
    cfg = folder / "config.json"
    if cfg.is_file():
        from vdmbench.models.pruned_modules import CONFIG_KEY

        if CONFIG_KEY in json.loads(cfg.read_text()):
            from vdmbench.models.pruned_vae import load_pruned_vae

            return load_pruned_vae(folder).float().eval().requires_grad_(False)
    return load_vae(folder)


def load_pipeline(weights: str | Path | None = None, device: str = "cpu",
                  dtype: torch.dtype = torch.float32
                  ) -> tuple[SynthLatentI2VPipeline, ResolvedModel]:
    """Load a teacher or student directory (see :func:`resolve_model_dir`) as a pipeline; the
    VAE stays float32 (its latents are cast to the UNet's dtype)."""
    res = resolve_model_dir(weights)
    if res.unet_class:
        unet = load_student_unet(res.sources["unet"] / "unet", res.unet_class,
                                 res.sources["unet"] / "compression.json")
        unet = unet.eval().requires_grad_(False)
    else:
        unet = _load_module(UNetSpatioTemporalConditionModel, res.sources["unet"], "unet")
    enc = _load_module(FirstFrameEncoder, res.sources["image_encoder"], "image_encoder")
    vae = load_model_vae(res).to(device)
    sampler = LatentSamplerConfig.from_json(res.sampler_file)
    for module in (unet, enc):
        if dtype == torch.float32:
            module.to(device)
        else:
            module.to(device=device, dtype=dtype)
    return SynthLatentI2VPipeline(unet, enc, vae, sampler), res


def save_latent_model_dir(directory: str | Path, pipe: SynthLatentI2VPipeline,
                          dtype: torch.dtype = torch.float32) -> Path:
    """Write ``unet/``, ``image_encoder/`` and ``sampler.json`` (the VAE is not written: the
    shipped one is implied)."""
    return save_model_dir(directory, pipe.unet, pipe.image_encoder, pipe.sampler, dtype)


__all__ = ["ADAPTER_NAME", "TEACHER_DIR", "VAE_DIR", "LatentSamplerConfig",
           "SynthLatentI2VPipeline", "build_random_model", "latent_unet_config",
           "load_model_vae", "load_pipeline", "resolve_model_dir", "save_latent_model_dir"]
