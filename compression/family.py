"""How a teacher family is called: inputs, EDM preconditioning, sampling, data, objective.

Analysis and distillation see a teacher only through :class:`Family`:

- ``batch(n, seed)``: a training / calibration batch, ``{"x0": (B, F, C, H, W) float, …}``
  (``x0`` in the model's space: pixels in [-1, 1] for the synthetic teacher, latents for SVD);
- ``denoise(unet, x_noisy, sigma, batch)``: the EDM denoiser ``D(x; σ)`` (B, F, C, H, W);
- ``sample(unet, batch, seed, steps)``: a full sample from seeded noise (Euler, EDM/Karras σ's);
- ``to_video(x0)``: uint8 (B, F, H, W, 3), or ``None`` in latent space;
- ``encode_inputs(x_noisy, sigma, batch)``: the UNet keyword arguments (for the MCA encoder).

:class:`SVDFamily` is the SVD convention (v-prediction preconditioning
``c_in = 1/√(σ²+1)``, ``c_skip = 1/(σ²+1)``, ``c_out = -σ/√(σ²+1)``, ``c_noise = ¼·ln σ``;
UNet input = noisy sample ‖ conditioning frame along channels; 1-token context;
``added_time_ids`` (B, 3)).
It serves random test models and the ``sfv`` teacher; the synthetic teacher's family lives in
:mod:`compression.synth_family`.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import Any, TypeVar

import torch
from torch import nn


def karras_sigmas(steps: int, sigma_min: float, sigma_max: float, rho: float = 7.0
                  ) -> torch.Tensor:
    """``steps`` decreasing σ's (Karras et al. 2022) followed by a final 0: (steps + 1,)."""
    if steps == 1:
        return torch.tensor([sigma_max, 0.0], dtype=torch.float64)
    i = torch.arange(steps, dtype=torch.float64) / (steps - 1)
    s = (sigma_max ** (1 / rho) + i * (sigma_min ** (1 / rho) - sigma_max ** (1 / rho))) ** rho
    return torch.cat([s, torch.zeros(1, dtype=torch.float64)])


class Family(ABC):
    """A teacher family (see the module docstring). ``unet`` is the teacher."""

    name: str = "family"
    sigma_min: float = 0.002
    sigma_max: float = 80.0
    p_mean: float = -1.2
    p_std: float = 1.2
    default_steps: int = 8

    def __init__(self, unet: nn.Module, device: str = "cpu") -> None:
        self.unet = unet
        self.device = device

    @abstractmethod
    def batch(self, n: int, seed: int, split: str = "train") -> dict[str, torch.Tensor]: ...

    @abstractmethod
    def encode_inputs(self, x_noisy: torch.Tensor, sigma: torch.Tensor,
                      batch: dict[str, torch.Tensor]) -> dict[str, Any]: ...

    @abstractmethod
    def precondition(self, x_noisy: torch.Tensor, sigma: torch.Tensor, raw: torch.Tensor
                     ) -> torch.Tensor: ...

    def to_video(self, x0: torch.Tensor) -> torch.Tensor | None:
        """uint8 (B, F, H, W, 3) frames of ``x0``, or None when ``x0`` is not pixels."""
        return None

    def denoise(self, unet: nn.Module, x_noisy: torch.Tensor, sigma: torch.Tensor,
                batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """``D(x; σ)``: (B, F, C, H, W); ``sigma`` (B,)."""
        raw = unet(**self.encode_inputs(x_noisy, sigma, batch), return_dict=False)[0]
        return self.precondition(x_noisy, sigma, raw)

    def train_sigmas(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """σ ~ log-normal(P_mean, P_std): (n,)."""
        z = torch.randn(n, generator=generator)
        return (self.p_mean + self.p_std * z).exp()

    def noise(self, batch: dict[str, torch.Tensor], seed: int) -> torch.Tensor:
        g = torch.Generator().manual_seed(seed)
        return torch.randn(batch["x0"].shape, generator=g).to(batch["x0"])

    @torch.no_grad()
    def sample(self, unet: nn.Module, batch: dict[str, torch.Tensor], seed: int,
               steps: int | None = None) -> torch.Tensor:
        """Euler sampling from seeded noise; returns x0 (B, F, C, H, W)."""
        sig = karras_sigmas(steps or self.default_steps, self.sigma_min, self.sigma_max)
        x = self.noise(batch, seed) * float(sig[0])
        b = x.shape[0]
        for k in range(len(sig) - 1):
            s = torch.full((b,), float(sig[k]), dtype=x.dtype, device=x.device)
            d0 = self.denoise(unet, x, s, batch)
            if float(sig[k + 1]) == 0.0:
                x = d0
            else:
                x = x + (x - d0) / float(sig[k]) * (float(sig[k + 1]) - float(sig[k]))
        return x


P = TypeVar("P")


@contextlib.contextmanager
def unet_swapped(pipe: P, unet: nn.Module) -> Iterator[P]:
    """``pipe`` (anything with a ``unet`` attribute) with ``pipe.unet`` replaced by ``unet``
    inside the block, restored after it — to run a pipeline's own sampler with a student."""
    old = pipe.unet  # type: ignore[attr-defined]
    pipe.unet = unet  # type: ignore[attr-defined]
    try:
        yield pipe
    finally:
        pipe.unet = old  # type: ignore[attr-defined]


def _bc(v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return v.reshape(-1, *([1] * (like.ndim - 1))).to(like)


class SVDFamily(Family):
    """SVD convention on a ``UNetSpatioTemporalConditionModel`` whose ``in_channels`` is twice
    its ``out_channels``. Data: seeded Gaussian "clips" with a smooth per-clip drift (for random
    test models) unless ``data_fn(n, seed) -> x0`` is given."""

    name = "svd"
    sigma_max = 700.0
    default_steps = 4

    def __init__(self, unet: nn.Module, device: str = "cpu", frames: int | None = None,
                 size: int | None = None, data_fn: Any = None,
                 added_time_ids: tuple[float, float, float] = (6.0, 127.0, 0.02)) -> None:
        super().__init__(unet, device)
        cfg = unet.config
        self.channels = int(cfg.out_channels)
        self.frames = int(frames or cfg.num_frames)
        self.size = int(size or cfg.sample_size or 16)
        self.ctx_dim = int(cfg.cross_attention_dim if isinstance(cfg.cross_attention_dim, int)
                           else cfg.cross_attention_dim[0])
        self.data_fn = data_fn
        self.added_time_ids = added_time_ids

    def batch(self, n: int, seed: int, split: str = "train") -> dict[str, torch.Tensor]:
        g = torch.Generator().manual_seed(seed * 7919 + (0 if split == "train" else 1))
        if self.data_fn is not None:
            x0 = self.data_fn(n, seed).float()
        else:
            base = torch.randn(n, 1, self.channels, self.size, self.size, generator=g)
            drift = torch.randn(n, 1, self.channels, self.size, self.size, generator=g)
            t = torch.linspace(0, 1, self.frames).reshape(1, -1, 1, 1, 1)
            x0 = 0.5 * (base + t * drift)
        ctx = torch.randn(n, 1, self.ctx_dim, generator=g)
        ids = torch.tensor(self.added_time_ids).repeat(n, 1)
        return {"x0": x0.to(self.device), "cond": x0[:, 0].to(self.device),
                "context": ctx.to(self.device), "added_time_ids": ids.to(self.device)}

    def encode_inputs(self, x_noisy: torch.Tensor, sigma: torch.Tensor,
                      batch: dict[str, torch.Tensor]) -> dict[str, Any]:
        c_in = _bc(1.0 / (sigma ** 2 + 1).sqrt(), x_noisy)
        cond = batch["cond"].unsqueeze(1).expand(-1, x_noisy.shape[1], -1, -1, -1)
        sample = torch.cat([x_noisy * c_in, cond.to(x_noisy)], dim=2)
        timestep = (0.25 * sigma.log()).to(x_noisy.dtype)
        return {"sample": sample, "timestep": timestep,
                "encoder_hidden_states": batch["context"].to(x_noisy),
                "added_time_ids": batch["added_time_ids"].to(x_noisy)}

    def precondition(self, x_noisy: torch.Tensor, sigma: torch.Tensor, raw: torch.Tensor
                     ) -> torch.Tensor:
        c_skip = _bc(1.0 / (sigma ** 2 + 1), x_noisy)
        c_out = _bc(-sigma / (sigma ** 2 + 1).sqrt(), x_noisy)
        return c_skip * x_noisy + c_out * raw


def edm_weight(sigma: torch.Tensor, sigma_data: float = 1.0) -> torch.Tensor:
    """EDM loss weight λ(σ) = (σ² + σ_d²) / (σ·σ_d)²."""
    return (sigma ** 2 + sigma_data ** 2) / (sigma * sigma_data) ** 2


