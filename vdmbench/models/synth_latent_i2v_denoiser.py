"""The latent synthetic I2V model (``synth-latent-i2v``) as a
:class:`~vdmbench.diffusion.denoiser.DenoiserSpec`.

``x0`` is in latent space: scaled VAE latents ``(B, T, 4, h, w)`` of SynthMotion clips rendered
at the model's pixel shape; frame 0's latent is the conditioning latent (augmented with
``sampler.noise_aug_strength``, noise seeded by the batch seed), the motion class is the motion
bucket. ``modules`` holds ``unet``, ``image_encoder`` and ``vae`` (decoder pruning reads
``component("vae")`` and divides ``x0`` by its ``scaling_factor``).
"""

from __future__ import annotations

import torch
from torch import nn

from vdmbench.data.synthmotion import render_batch
from vdmbench.diffusion.denoiser import unet_swapped
from vdmbench.models.synth_i2v_denoiser import SynthI2VDenoiser
from vdmbench.models.synth_latent_i2v_pipeline import SynthLatentI2VPipeline
from vdmbench.video import to_unit_float, video_to_uint8


class SynthLatentI2VDenoiser(SynthI2VDenoiser):
    """``pipeline``: a :class:`SynthLatentI2VPipeline` (its ``unet`` is the denoiser); the
    pixel teacher's SVD convention (``encode_inputs``, ``precondition``) on latents."""

    name = "synth-latent-i2v"
    clip_dataset = "synthmotion"

    def __init__(self, pipeline: SynthLatentI2VPipeline, device: str = "cpu",
                 pool: int = 4096, weights: str | None = None) -> None:
        super().__init__(pipeline, device, pool, weights)  # type: ignore[arg-type]
        self.modules["vae"] = pipeline.vae
        pipeline.vae.requires_grad_(False).eval()

    def batch(self, n: int, seed: int, split: str = "train") -> dict[str, torch.Tensor]:
        """``n`` SynthMotion clips of ``split`` chosen by ``seed`` (indices < ``pool``), encoded:
        ``x0`` latents, ``cond`` the augmented frame-0 latent, ``context``, ``added_time_ids``,
        ``motion``, ``frames`` (the clips' pixels, float (B, T, 3, H, W) in [-1, 1])."""
        s = self.pipe.sampler
        g = torch.Generator().manual_seed(seed)
        idx = torch.randint(0, self.pool, (n,), generator=g).tolist()
        vids, metas = render_batch(idx, split=split, frames=s.frames, height=s.height,
                                   width=s.width)
        pix = to_unit_float(vids).permute(0, 1, 4, 2, 3).contiguous()
        motion = [m.motion for m in metas]
        with torch.no_grad():
            x0 = self.pipe.encode_video(pix).to(self.device, self.pipe.dtype)
            z0 = x0[:, 0]
            context = self.pipe.encode(z0, motion).to(self.device)
        cond = self.pipe.augment(z0, s.noise_aug_strength, torch.randn(z0.shape, generator=g))
        ids = self.pipe.added_time_ids(motion).to(self.device)
        return {"x0": x0, "cond": cond, "context": context, "added_time_ids": ids,
                "motion": torch.tensor(motion), "frames": pix.to(self.device)}

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

    @torch.no_grad()
    def to_video(self, x0: torch.Tensor) -> torch.Tensor:
        """Latents → uint8 (B, T, H, W, 3) through the model's VAE decoder."""
        return video_to_uint8(self.pipe.decode(x0).clamp(-1, 1))
