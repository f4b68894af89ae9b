"""T2V-Turbo-v2 (``t2v-turbo-v2``) as a :class:`~vdmbench.diffusion.denoiser.DenoiserSpec`.

What transforms (DeepCache, PAB, T-GATE, int8) and calibration need from the loaded generator.
The model is a discrete-time ε-prediction UNet (scaled-linear ᾱ_t, t = 0 … 999) wrapped in the
consistency boundary of T2V-Turbo (:class:`~vdmbench.models.t2v_turbo.TurboSampler`); in the
spec's EDM-style terms a noisy latent is ``x = x0 + σ·n`` with ``σ_t = √((1 − ᾱ_t)/ᾱ_t)``:

- :meth:`timestep`: σ → the UNet's (continuous) timestep, interpolated in ln σ over the 1000
  training levels and extended linearly beyond them, so it increases with σ everywhere;
- :meth:`encode_inputs`: ``sample = x/√(1 + σ²)`` (the VP latent x_t), permuted to the UNet's
  ``(B, C, F, h, w)``; the guidance (and motion-guidance) embeddings the sampler passes;
- :meth:`precondition`: ``x̂0 = x − σ·ε``, then the consistency boundary
  ``D = c_out(t)·x̂0 + c_skip(t)·x_t`` — what the sampler calls ``denoised``;
- :meth:`sample`: the pipeline's own consistency sampler with a given UNet.

Training data: real captioned clips encoded by :class:`T2VClipEncoder` (attached as
``train_data``): ``x0`` (F, 4, H/8, W/8) = every frame's VAE latent (the posterior's mode, the
frames in [-1, 1]) × 0.18215 — the inverse of the pipeline's ``decode`` — and ``context``
(77, 1024) = the caption through the pipeline's ``encode_text``. A dataset without captions is
refused, a clip without one skipped. Without attached data :meth:`batch` gives seeded N(0, 1)
latent "clips" with the empty prompt's text features (the ``noise`` dataset, calibration, tests).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
from torch import nn

from vdmbench.data.noise import gaussian_latents, noise_generator
from vdmbench.diffusion.denoiser import DenoiserSpec, unet_swapped
from vdmbench.models.t2v_turbo_pipeline import (
    VAE_SCALE,
    T2VTurboPipeline,
    guidance_embedding,
)


def _to_unet(x: torch.Tensor) -> torch.Tensor:
    """(B, F, C, h, w) ↔ (B, C, F, h, w) (the permutation is its own inverse)."""
    return x.permute(0, 2, 1, 3, 4)


class T2VTurboDenoiser(DenoiserSpec):
    """``pipeline``: the loaded :class:`T2VTurboPipeline` (its ``unet`` is the denoiser);
    ``frames``, ``height``, ``width``: the adapter's video shape (latents are ``/ 8``)."""

    name = "t2v-turbo-v2"

    def __init__(self, pipeline: T2VTurboPipeline, device: str = "cpu", *, frames: int,
                 height: int, width: int, weights: str | None = None) -> None:
        modules: dict[str, nn.Module] = {}
        if isinstance(pipeline.vae, nn.Module):
            modules["vae"] = pipeline.vae
        text_model = getattr(pipeline.encode_text, "model", None)
        if isinstance(text_model, nn.Module):
            modules["text_encoder"] = text_model
        super().__init__(pipeline.unet, device, weights=weights, modules=modules)
        self.pipe = pipeline
        s = pipeline.sampler
        ac = s.alphas_cumprod().double()
        #: σ of every training level t = 0 … 999, increasing
        self.sigmas = ((1 - ac) / ac).sqrt()
        self.sigma_min, self.sigma_max = float(self.sigmas[0]), float(self.sigmas[-1])
        self.default_steps = s.steps
        self.frames, self.height, self.width = frames, height, width

    def timestep(self, sigma: torch.Tensor) -> torch.Tensor:
        """The UNet's timestep for σ: piecewise linear in ln σ through (ln σ_t, t), extended
        with the end segments' slopes below σ_0 and above σ_999; same shape and dtype."""
        logs = self.sigmas.log()
        x = sigma.detach().double().cpu().clamp_min(1e-30).log()
        n = len(logs)
        i = torch.searchsorted(logs, x).clamp(1, n - 1)
        x0, x1 = logs[i - 1], logs[i]
        t = (i - 1).double() + (x - x0) / (x1 - x0)
        return t.to(device=sigma.device, dtype=sigma.dtype if sigma.is_floating_point()
                    else torch.float32)

    def clip_encoder(self, data: Any, storage: torch.dtype = torch.float16) -> T2VClipEncoder:
        """The encoder of real captioned clips of ``data`` (see the module docstring)."""
        return T2VClipEncoder(self.pipe, self.modules.get("text_encoder"), data, storage)

    def batch(self, n: int, seed: int, split: str = "train") -> dict[str, torch.Tensor]:
        """``x0``: the attached clips' latents (B, F, 4, h, w) and ``context`` their captions'
        text features (B, tokens, dim); without attached data seeded N(0, 1) latents and the
        empty prompt's features."""
        if self.train_data is not None:
            return self.cached_batch(n, seed)
        g = noise_generator(seed, split)  # the `noise` dataset
        c = int(self.pipe.unet.config.in_channels)
        x0 = gaussian_latents((n, self.frames, c, self.height // 8, self.width // 8), g)
        context = self.pipe.encode_text([""] * n)
        return {"x0": x0.to(self.device), "context": context.to(self.device)}

    def _conditions(self, t: torch.Tensor) -> dict[str, torch.Tensor]:
        """The sampler's guidance embeddings for timesteps ``t`` (B,) (motion guidance while
        ``t ≥ 1000·(1 − percentage)``)."""
        s, p = self.pipe.sampler, self.pipe
        b = t.shape[0]
        out = {"timestep_cond": guidance_embedding(torch.full((b,), s.guidance_scale)).to(
            p.device, p.dtype)}
        if p.motion_guidance:
            threshold = s.num_train_timesteps * (1 - s.motion_percentage)
            mg = torch.where(t.float().cpu() >= threshold, s.motion_gs, 0.0)
            out["motion_cond"] = guidance_embedding(mg).to(p.device, p.dtype)
        return out

    def encode_inputs(self, x_noisy: torch.Tensor, sigma: torch.Tensor,
                      batch: dict[str, torch.Tensor]) -> dict[str, Any]:
        """UNet keyword arguments: ``sample`` x_t (B, C, F, h, w), ``timestep`` (B,),
        ``encoder_hidden_states``, ``fps``, ``timestep_cond`` (and ``motion_cond``)."""
        b = x_noisy.shape[0]
        sigma = sigma.to(x_noisy.device, torch.float32).reshape(-1).expand(b)
        x_t = x_noisy.float() / (sigma ** 2 + 1).sqrt().view(-1, 1, 1, 1, 1)
        t = self.timestep(sigma)
        return {"sample": _to_unet(x_t.to(x_noisy.dtype)), "timestep": t,
                "encoder_hidden_states": batch["context"].to(x_noisy),
                "fps": self.pipe.sampler.fps, **self._conditions(t)}

    def precondition(self, x_noisy: torch.Tensor, sigma: torch.Tensor, raw: torch.Tensor
                     ) -> torch.Tensor:
        """``x_noisy`` (B, F, C, h, w), ``raw`` the UNet's ε (B, C, F, h, w) → ``D``
        (B, F, C, h, w): ``c_out·(x − σ·ε) + c_skip·x/√(1 + σ²)``."""
        b = x_noisy.shape[0]
        sigma = sigma.to(x_noisy.device, torch.float32).reshape(-1).expand(b)
        s = self.timestep(sigma).float() / 0.1
        sd2 = self.pipe.sampler.sigma_data ** 2
        c_skip = sd2 / (s ** 2 + sd2)
        c_out = s / (s ** 2 + sd2).sqrt()
        bc = (-1, 1, 1, 1, 1)
        x = x_noisy.float()
        x0 = x - sigma.view(bc) * _to_unet(raw).float()
        x_t = x / (sigma ** 2 + 1).sqrt().view(bc)
        return (c_out.view(bc) * x0 + c_skip.view(bc) * x_t).to(x_noisy.dtype)

    @torch.no_grad()
    def sample(self, unet: nn.Module, batch: dict[str, torch.Tensor], seed: int,
               steps: int | None = None) -> torch.Tensor:
        """The pipeline's consistency sampler with ``unet`` on ``batch["context"]``; sample
        ``i`` seeded ``seed·1000 + i``. Returns latents (B, F, C, h, w)."""
        p = self.pipe
        b, f, c, h, w = batch["x0"].shape
        old = p.sampler
        if steps is not None and steps != old.steps:
            p.sampler = dataclasses.replace(old, steps=steps)
        try:
            with unet_swapped(p, unet):
                gens = [torch.Generator().manual_seed(seed * 1000 + i) for i in range(b)]
                lat = p.sample_latents(batch["context"].to(p.device, p.dtype), gens,
                                       (c, f, h, w))
        finally:
            p.sampler = old
        return _to_unet(lat.float()).to(self.device)


class T2VClipEncoder:
    """Encodes a captioned :class:`~vdmbench.data.clips.TrainClip` for T2V-Turbo training
    (see the module docstring); ``storage``: the cache dtype; ``chunk``: frames per VAE call."""

    needs_captions = True

    def __init__(self, pipeline: T2VTurboPipeline, text_module: nn.Module | None, data: Any,
                 storage: torch.dtype = torch.float16, chunk: int = 8) -> None:
        from vdmbench.errors import ConfigError

        if data.height % 8 or data.width % 8:
            raise ConfigError(f"data: {data.height}×{data.width} is not a multiple of 8 (the "
                              f"VAE's downsampling)", field="data.height")
        self.pipe, self.text_module, self.data = pipeline, text_module, data
        self.storage, self.chunk = storage, chunk

    def material(self) -> dict[str, Any]:
        from vdmbench.diffusion.denoiser import state_hash

        text = (state_hash(self.text_module) if self.text_module is not None else
                f"callable:{type(self.pipe.encode_text).__qualname__}")
        return {"encoder": "t2v-turbo-1", "vae": state_hash(self.pipe.vae), "text": text,
                "scale": VAE_SCALE, "dtype": str(self.storage), "chunk": self.chunk,
                "device": self.pipe.device.type}

    @torch.no_grad()
    def encode(self, clip: Any) -> dict[str, torch.Tensor]:
        p = self.pipe
        x = clip.frames.permute(0, 3, 1, 2).float() / 127.5 - 1.0  # (F, 3, H, W) in [-1, 1]
        lat = []
        for k in range(0, x.shape[0], self.chunk):
            part = x[k:k + self.chunk].to(p.device, p.vae.dtype)
            lat.append(p.vae.encode(part).latent_dist.mode().float())
        x0 = torch.cat(lat) * VAE_SCALE
        context = p.encode_text([clip.caption])[0]
        return {"x0": x0.to(self.storage), "context": context.to(self.storage)}
