"""The latent synthetic I2V model (``synth-latent-i2v``) as a
:class:`~vdmbench.diffusion.denoiser.DenoiserSpec`.

``x0`` is in latent space: scaled VAE latents ``(B, T, 4, h, w)`` of SynthMotion clips rendered
at the model's pixel shape; frame 0's latent is the conditioning latent (augmented with
``sampler.noise_aug_strength``, noise seeded by the batch seed), the motion class is the motion
bucket. Training (``vdmbench compress``) takes the clips as a real latent model does: the
``synthmotion`` dataset named in the recipe, encoded by the VAE into the latent cache
(:meth:`SynthLatentI2VDenoiser.clip_encoder`, the latent teacher's own cache format) and drawn
from it; without an attached cache (analysis, calibration) ``batch`` renders and encodes.
``modules`` holds ``unet``, ``image_encoder`` and ``vae`` (decoder pruning reads
``component("vae")`` and divides ``x0`` by its ``scaling_factor``).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from vdmbench.data.synthmotion import render_batch
from vdmbench.diffusion.denoiser import unet_swapped
from vdmbench.errors import ConfigError
from vdmbench.models.synth_i2v_denoiser import SynthI2VDenoiser
from vdmbench.models.synth_latent_i2v_pipeline import SynthLatentI2VPipeline
from vdmbench.records import atomic_write_text
from vdmbench.video import to_unit_float, video_to_uint8


class SynthLatentI2VDenoiser(SynthI2VDenoiser):
    """``pipeline``: a :class:`SynthLatentI2VPipeline` (its ``unet`` is the denoiser); the
    pixel teacher's SVD convention (``encode_inputs``, ``precondition``) on latents."""

    name = "synth-latent-i2v"
    #: no own clips: it trains on the ``synthmotion`` dataset through the latent cache
    clip_dataset = None
    #: the world whose synthetic metric networks read its videos (``vdmbench analyze``)
    synthetic_world = "synthmotion"
    #: the latent teacher's training σ distribution (vdmbench.synth.train_latent_i2v defaults)
    p_mean = 0.3
    p_std = 1.4

    def __init__(self, pipeline: SynthLatentI2VPipeline, device: str = "cpu",
                 pool: int = 4096, weights: str | None = None) -> None:
        super().__init__(pipeline, device, pool, weights)  # type: ignore[arg-type]
        self.modules["vae"] = pipeline.vae
        pipeline.vae.requires_grad_(False).eval()

    def train_sigmas(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """σ of the training objective, ``(n,)``: the teacher's log-normal (``p_mean``,
        ``p_std``, as :mod:`vdmbench.synth.train_latent_i2v` trained it) for a multi-step model;
        a one-step model (sampler ``steps: 1``, e.g. an SF-V student) is trained where it
        samples: ``ln σ ~ N(ln σ_max, 1)`` clamped at σ_max (half the draws exactly σ_max)."""
        if self.default_steps != 1:
            return super().train_sigmas(n, generator)
        z = torch.randn(n, generator=generator)
        return (math.log(self.sigma_max) + z).exp().clamp(max=self.sigma_max)

    def clip_encoder(self, data: Any, storage: torch.dtype = torch.float16) -> Any:
        """The VAE as the clip encoder of the latent cache
        (:class:`~vdmbench.synth.latent_clips.LatentClipEncoder`: ``x0`` scaled posterior-mode
        latents in float16, ``motion``), for SynthMotion clips at the model's shape only."""
        s = self.pipe.sampler
        if data.name != "synthmotion":
            raise ConfigError(f"model '{self.name}' trains on SynthMotion clips (their motion "
                              f"classes are its motion buckets): name dataset 'synthmotion', "
                              f"not '{data.name}'", field="data.name")
        if (data.frames, data.height, data.width) != (s.frames, s.height, s.width):
            raise ConfigError(f"model '{self.name}' makes {s.frames} frames of "
                              f"{s.height}x{s.width}: data.frames/height/width are "
                              f"{data.frames}/{data.height}/{data.width}", field="data.frames")
        if storage != torch.float16:
            raise ConfigError(f"model '{self.name}': the latent cache stores float16 latents, "
                              f"not {storage}", field="dtype")
        from vdmbench.synth.latent_clips import LatentClipEncoder

        return LatentClipEncoder(self.pipe.vae, data.seed)

    def batch(self, n: int, seed: int, split: str = "train") -> dict[str, torch.Tensor]:
        """``n`` SynthMotion clips chosen by ``seed``, encoded: ``x0`` latents, ``cond`` the
        augmented frame-0 latent, ``context``, ``added_time_ids``, ``motion``. From the attached
        latent cache when there is one (``split`` is then the cache's), else clips of ``split``
        (indices < ``pool``) rendered and encoded, with ``frames`` (their pixels, float
        (B, T, 3, H, W) in [-1, 1])."""
        s = self.pipe.sampler
        g = torch.Generator().manual_seed(seed)
        if self.train_data is not None:
            idx = torch.randint(0, len(self.train_data), (n,), generator=g).tolist()
            got = self.train_data.get(idx)
            x0 = got["x0"].to(self.device, self.pipe.dtype)
            return self._conditioned(x0, got["motion"].tolist(), g)
        idx = torch.randint(0, self.pool, (n,), generator=g).tolist()
        vids, metas = render_batch(idx, split=split, frames=s.frames, height=s.height,
                                   width=s.width)
        pix = to_unit_float(vids).permute(0, 1, 4, 2, 3).contiguous()
        motion = [m.motion for m in metas]
        with torch.no_grad():
            x0 = self.pipe.encode_video(pix).to(self.device, self.pipe.dtype)
        return {**self._conditioned(x0, motion, g), "frames": pix.to(self.device)}

    def _conditioned(self, x0: torch.Tensor, motion: list[int], g: torch.Generator
                     ) -> dict[str, torch.Tensor]:
        """``x0`` with its conditioning: frame 0's latent augmented with noise drawn from
        ``g``, the context and the time ids of the motion classes."""
        z0 = x0[:, 0]
        with torch.no_grad():
            context = self.pipe.encode(z0, motion).to(self.device)
        cond = self.pipe.augment(z0, self.pipe.sampler.noise_aug_strength,
                                 torch.randn(z0.shape, generator=g))
        ids = self.pipe.added_time_ids(motion).to(self.device)
        return {"x0": x0, "cond": cond, "context": context, "added_time_ids": ids,
                "motion": torch.tensor(motion)}

    @torch.no_grad()
    def sample(self, unet: nn.Module, batch: dict[str, torch.Tensor], seed: int,
               steps: int | None = None) -> torch.Tensor:
        """The pipeline's Euler sampler with ``unet`` from noise of per-sample generators
        seeded ``seed·1000 + i``; returns latents (B, T, C, h, w)."""
        b = batch["x0"].shape[0]
        s = self.pipe.sampler
        gens = [torch.Generator().manual_seed(seed * 1000 + i) for i in range(b)]
        noise = self.pipe.initial_noise(b, s.frames, s.height, s.width, gens)
        with unet_swapped(self.pipe, unet) as pipe:
            return pipe.sample_latents(batch["cond"], batch["context"], batch["added_time_ids"],
                                       noise, steps)

    def write_one_step_sampler(self, directory: Path, sigma_max: float) -> Path:
        """``directory/sampler.json``: this model's sampler settings with ``steps: 1`` from
        ``sigma_max`` (what a one-step student of it, e.g. the SF-V stage's, samples with by
        default)."""
        path = Path(directory) / "sampler.json"
        one = replace(self.pipe.sampler, steps=1, sigma_max=float(sigma_max))
        atomic_write_text(path, json.dumps(asdict(one), indent=2, sort_keys=True) + "\n")
        return path

    @torch.no_grad()
    def to_video(self, x0: torch.Tensor) -> torch.Tensor:
        """Latents → uint8 (B, T, H, W, 3) through the model's VAE decoder."""
        return video_to_uint8(self.pipe.decode(x0).clamp(-1, 1))
