"""The synthetic DiT (``synth-dit-t2v``) as a :class:`~vdmbench.diffusion.denoiser.DenoiserSpec`.

Rectified flow, as the pipeline samples it: ``x_σ = (1 − σ)·x₀ + σ·ε`` with σ ∈ (0, 1), the
transformer's timestep ``1000·σ`` and output ``ε − x₀``, so ``D(x; σ) = x − σ·F``. Data are
SynthMotion clips at the model's shape with their captions encoded by the frozen caption encoder
(captions dropped to "" with probability ``caption_dropout`` on the ``train`` split, for CFG);
training σ's are logit-normal (σ = sigmoid(n), n ~ N(0, 1)) with weight 1, the usual
flow-matching objective. Layouts: clips ``(B, F, 3, H, W)``; the transformer reads and writes
``(B, 3, F, H, W)``.
"""

from __future__ import annotations

import contextlib
from typing import Any

import torch
from torch import nn

from vdmbench.data.synthmotion import render_batch
from vdmbench.diffusion.denoiser import DenoiserSpec, broadcast, unet_swapped
from vdmbench.errors import ConfigError
from vdmbench.models.synth_dit_pipeline import SynthDiTPipeline
from vdmbench.video import to_unit_float, video_to_uint8


def _to_model(x: torch.Tensor) -> torch.Tensor:
    """(B, F, C, H, W) ↔ (B, C, F, H, W) (its own inverse)."""
    return x.permute(0, 2, 1, 3, 4)


class SynthDiTDenoiser(DenoiserSpec):
    """``pipeline``: the :class:`SynthDiTPipeline` (``unet`` is its transformer). ``pool``: clips
    come from SynthMotion indices ``< pool``; ``guidance_scale``: CFG of :meth:`sample` (None =
    ``sampler.json``'s)."""

    name = "synth-dit-t2v"
    clip_dataset = "synthmotion"
    sigma_min = 1e-3
    sigma_max = 1.0

    def __init__(self, pipeline: SynthDiTPipeline, device: str = "cpu", pool: int = 4096,
                 caption_dropout: float = 0.1, guidance_scale: float | None = None,
                 weights: str | None = None) -> None:
        if not 0.0 <= caption_dropout <= 1.0:
            raise ConfigError(f"caption_dropout must be in [0, 1], got {caption_dropout}")
        if pool < 1:
            raise ConfigError(f"pool must be ≥ 1, got {pool}")
        super().__init__(pipeline.transformer, device, weights=weights,
                         modules={"transformer": pipeline.transformer,
                                  "text_encoder": pipeline.text_encoder})
        self.pipe = pipeline
        s = pipeline.sampler
        self.default_steps = s.steps
        self.guidance_scale = s.guidance_scale if guidance_scale is None else guidance_scale
        self.pool, self.caption_dropout = pool, caption_dropout

    def batch(self, n: int, seed: int, split: str = "train") -> dict[str, torch.Tensor]:
        """``x0`` (B, F, 3, H, W) in [-1, 1], ``context`` (B, 12, 32), ``index``, ``motion``."""
        s = self.pipe.sampler
        g = torch.Generator().manual_seed(seed)
        idx = torch.randint(0, self.pool, (n,), generator=g)
        vids, metas = render_batch(idx.tolist(), split=split, frames=s.frames, height=s.height,
                                   width=s.width)
        x0 = to_unit_float(vids).permute(0, 1, 4, 2, 3).contiguous().to(self.device)
        captions = [m.caption for m in metas]
        if split == "train" and self.caption_dropout > 0:
            drop = (torch.rand(n, generator=g) < self.caption_dropout).tolist()
            captions = ["" if d else c for c, d in zip(captions, drop)]
        context = self.pipe.encode(captions).to(self.device)
        return {"x0": x0, "context": context, "index": idx,
                "motion": torch.tensor([m.motion for m in metas])}

    def timestep(self, sigma: torch.Tensor) -> torch.Tensor:
        """The transformer's timestep: ``1000·σ``."""
        return 1000.0 * sigma

    def noise_input(self, x0: torch.Tensor, noise: torch.Tensor, sigma: torch.Tensor
                    ) -> torch.Tensor:
        """``x_σ = (1 − σ)·x₀ + σ·ε``."""
        sb = broadcast(sigma, x0)
        return (1 - sb) * x0 + sb * noise

    def encode_inputs(self, x_noisy: torch.Tensor, sigma: torch.Tensor,
                      batch: dict[str, torch.Tensor]) -> dict[str, Any]:
        b = x_noisy.shape[0]
        sigma = sigma.to(x_noisy.device, torch.float32).reshape(-1).expand(b)
        return {"hidden_states": _to_model(x_noisy), "timestep": self.timestep(sigma),
                "encoder_hidden_states": batch["context"].to(x_noisy)}

    def precondition(self, x_noisy: torch.Tensor, sigma: torch.Tensor, raw: torch.Tensor
                     ) -> torch.Tensor:
        """``D = x − σ·F``: ``raw`` (B, 3, F, H, W) → (B, F, 3, H, W)."""
        b = x_noisy.shape[0]
        sigma = sigma.to(x_noisy.device, torch.float32).reshape(-1).expand(b)
        return x_noisy - broadcast(sigma, x_noisy) * _to_model(raw).to(x_noisy)

    def denoise(self, unet: nn.Module, x_noisy: torch.Tensor, sigma: torch.Tensor,
                batch: dict[str, torch.Tensor]) -> torch.Tensor:
        with (unet.cache_context("cond") if hasattr(unet, "cache_context")
              else contextlib.nullcontext()):
            raw = unet(**self.encode_inputs(x_noisy, sigma, batch), return_dict=False)[0]
        return self.precondition(x_noisy, sigma, raw)

    def train_sigmas(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """Logit-normal σ ∈ (0, 1)."""
        return torch.sigmoid(torch.randn(n, generator=generator)).clamp(self.sigma_min, 1.0)

    def loss_weight(self, sigma: torch.Tensor) -> torch.Tensor:
        return torch.ones_like(sigma)

    @torch.no_grad()
    def sample(self, unet: nn.Module, batch: dict[str, torch.Tensor], seed: int,
               steps: int | None = None) -> torch.Tensor:
        """The pipeline's sampler with ``unet`` on ``batch["context"]``; noise of sample ``i``
        seeded ``seed·1000 + i``. Returns (B, F, 3, H, W), about [-1, 1]."""
        b = batch["x0"].shape[0]
        with unet_swapped(self.pipe, unet) as pipe:
            noise = pipe.noise([seed * 1000 + i for i in range(b)])
            uncond = pipe.encode([""] * b) if self.guidance_scale != 1.0 else None
            x = pipe.sample(batch["context"].to(pipe.device), uncond, noise, steps,
                            self.guidance_scale)
        return _to_model(x).to(self.device)

    def to_video(self, x0: torch.Tensor) -> torch.Tensor:
        """uint8 (B, F, H, W, 3)."""
        return video_to_uint8(x0.clamp(-1, 1))

