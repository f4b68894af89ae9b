"""The synthetic T2V model (``synth-t2v``) as a :class:`~vdmbench.diffusion.denoiser.DenoiserSpec`.

Data are SynthMotion clips rendered at the teacher's shape (``sampler.json``: frames × H × W) with
their captions encoded by the teacher's frozen :class:`~vdmbench.models.synth_t2v.CaptionEncoder`.
On the ``train`` split captions are dropped to the empty caption with probability
``caption_dropout`` (the teacher's own 0.1), so a student also learns the unconditional denoiser
that classifier-free guidance needs. Preconditioning (EDM, σ_data and the UNet's timestep
``t(σ)`` from ``sampler.json``), the training objective (log-normal σ, λ(σ) weight: the trainer's
L_task) and sampling (Heun + CFG) are the teacher pipeline's own.

Layouts: the family's clips are ``(B, F, 3, H, W)`` like every family's; the
``VideoCrafter2UNet`` reads and writes ``(B, 3, F, H, W)``, so :meth:`encode_inputs` and
:meth:`precondition` permute.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from vdmbench.data.synthmotion import render_batch
from vdmbench.diffusion.denoiser import DenoiserSpec, unet_swapped
from vdmbench.diffusion.edm import edm_scalings
from vdmbench.errors import ConfigError
from vdmbench.models.synth_t2v_pipeline import SynthT2VPipeline
from vdmbench.video import to_unit_float, video_to_uint8


def _to_unet(x: torch.Tensor) -> torch.Tensor:
    """(B, F, C, H, W) ↔ (B, C, F, H, W) (the permutation is its own inverse)."""
    return x.permute(0, 2, 1, 3, 4)


class SynthT2VDenoiser(DenoiserSpec):
    """``pipeline``: the teacher :class:`SynthT2VPipeline` (its ``unet`` is the teacher).

    ``pool``: clips are drawn from SynthMotion indices ``< pool``; ``caption_dropout``: the
    probability that a ``train``-split clip gets the empty caption; ``guidance_scale``: CFG scale
    of :meth:`sample` (None = ``sampler.json``'s)."""

    name = "synth-t2v"
    clip_dataset = "synthmotion"
    # σ ~ log-normal(P_mean, P_std) of L_task: the shipped teacher's training distribution
    # (``python -m vdmbench.synth.train_t2v`` defaults), where layout and motion are decided.
    p_mean = -0.4
    p_std = 1.4

    def __init__(self, pipeline: SynthT2VPipeline, device: str = "cpu", pool: int = 4096,
                 caption_dropout: float = 0.1, guidance_scale: float | None = None,
                 weights: str | None = None) -> None:
        if not 0.0 <= caption_dropout <= 1.0:
            raise ConfigError(f"caption_dropout must be in [0, 1], got {caption_dropout}")
        if pool < 1:
            raise ConfigError(f"pool must be ≥ 1, got {pool}")
        super().__init__(pipeline.unet, device, weights=weights,
                         modules={"text_encoder": pipeline.text_encoder})
        self.pipe = pipeline
        s = pipeline.sampler
        self.sigma_min, self.sigma_max = s.sigma_min, s.sigma_max
        self.sigma_data = s.sigma_data
        self.default_steps = s.steps
        self.guidance_scale = s.guidance_scale if guidance_scale is None else guidance_scale
        self.pool, self.caption_dropout = pool, caption_dropout
        pipeline.text_encoder.requires_grad_(False).eval()

    def batch(self, n: int, seed: int, split: str = "train") -> dict[str, torch.Tensor]:
        """``n`` SynthMotion clips of ``split`` chosen by ``seed``: ``x0`` (B, F, 3, H, W) in
        [-1, 1], ``context`` (B, max_tokens, dim), ``tokens`` (B, max_tokens) int64 (all 0 =
        dropped caption), ``index`` and ``motion`` (B,) int64."""
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
        te = self.pipe.text_encoder
        tokens = te.tokenize(captions)
        with torch.no_grad():
            context = te(tokens.to(next(te.parameters()).device)).to(self.device)
        return {"x0": x0, "context": context, "tokens": tokens, "index": idx,
                "motion": torch.tensor([m.motion for m in metas])}

    def encode_inputs(self, x_noisy: torch.Tensor, sigma: torch.Tensor,
                      batch: dict[str, torch.Tensor]) -> dict[str, Any]:
        """UNet keyword arguments: ``sample`` = c_in·x (B, 3, F, H, W), ``timestep`` t(σ) (B,),
        ``encoder_hidden_states`` (B, max_tokens, dim)."""
        b = x_noisy.shape[0]
        sigma = sigma.to(x_noisy.device, torch.float32).reshape(-1).expand(b)
        _, _, c_in, _ = edm_scalings(sigma, self.sigma_data)
        sample = (c_in.view(-1, 1, 1, 1, 1) * x_noisy.float()).to(x_noisy.dtype)
        return {"sample": _to_unet(sample),
                "timestep": self.pipe.sampler.time_input(sigma).to(x_noisy.dtype),
                "encoder_hidden_states": batch["context"].to(x_noisy)}

    def precondition(self, x_noisy: torch.Tensor, sigma: torch.Tensor, raw: torch.Tensor
                     ) -> torch.Tensor:
        """``D = c_skip·x + c_out·F``; ``x_noisy`` (B, F, 3, H, W), ``raw`` the UNet's output
        (B, 3, F, H, W) → (B, F, 3, H, W)."""
        b = x_noisy.shape[0]
        sigma = sigma.to(x_noisy.device, torch.float32).reshape(-1).expand(b)
        c_skip, c_out, _, _ = edm_scalings(sigma, self.sigma_data)
        bc = (-1, 1, 1, 1, 1)
        out = c_skip.view(bc) * x_noisy.float() + c_out.view(bc) * _to_unet(raw).float()
        return out.to(x_noisy.dtype)

    @torch.no_grad()
    def sample(self, unet: nn.Module, batch: dict[str, torch.Tensor], seed: int,
               steps: int | None = None) -> torch.Tensor:
        """The pipeline's Heun + CFG sampler with ``unet`` on ``batch["context"]``; noise of
        sample ``i`` seeded ``seed·1000 + i`` (as the adapter seeds a request). Returns
        (B, F, 3, H, W), about [-1, 1]."""
        b = batch["x0"].shape[0]
        with unet_swapped(self.pipe, unet) as pipe:
            noise = pipe.noise([seed * 1000 + i for i in range(b)])
            uncond = pipe.encode([""] * b) if self.guidance_scale != 1.0 else None
            x = pipe.sample(batch["context"].to(pipe.device), uncond, noise, steps,
                            self.guidance_scale)
        return _to_unet(x).to(self.device)

    def to_video(self, x0: torch.Tensor) -> torch.Tensor:
        """uint8 (B, F, H, W, 3)."""
        return video_to_uint8(x0.clamp(-1, 1))
