"""The SVD denoiser convention as a :class:`~vdmbench.diffusion.denoiser.DenoiserSpec`.

v-prediction preconditioning ``c_in = 1/√(σ²+1)``, ``c_skip = 1/(σ²+1)``, ``c_out = -σ/√(σ²+1)``,
``c_noise = ¼·ln σ``; UNet input = noisy sample ‖ conditioning frame along channels; 1-token
context; ``added_time_ids`` (B, 3). It serves the ``svd``/``sfv`` adapters (whose training data
are seeded Gaussian latent "clips" unless a ``data_fn`` is given) and the tiny random test UNet
of :func:`random_svd_unet`.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from vdmbench.diffusion.denoiser import DenoiserSpec, broadcast


def random_svd_unet(seed: int = 0) -> Any:
    """A tiny random SVD-architecture UNet (4 levels, layers_per_block 2; for tests/smoke)."""
    from diffusers import UNetSpatioTemporalConditionModel

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return UNetSpatioTemporalConditionModel(
            sample_size=8, in_channels=8, out_channels=4, block_out_channels=(32, 32, 32, 32),
            num_attention_heads=(2, 2, 2, 2), cross_attention_dim=16, layers_per_block=2,
            addition_time_embed_dim=8, projection_class_embeddings_input_dim=24,
            num_frames=4).eval()


class SVDDenoiser(DenoiserSpec):
    """SVD convention on a ``UNetSpatioTemporalConditionModel`` whose ``in_channels`` is twice
    its ``out_channels``. Data: seeded Gaussian "clips" with a smooth per-clip drift (for random
    test models) unless ``data_fn(n, seed) -> x0`` is given."""

    name = "svd"
    sigma_max = 700.0
    default_steps = 4

    def __init__(self, unet: nn.Module, device: str = "cpu", frames: int | None = None,
                 size: int | None = None, data_fn: Any = None,
                 added_time_ids: tuple[float, float, float] = (6.0, 127.0, 0.02),
                 weights: str | None = None, modules: dict[str, nn.Module] | None = None,
                 name: str | None = None, loader: Any = None) -> None:
        super().__init__(unet, device, weights=weights, modules=modules, name=name,
                         loader=loader)
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
        c_in = broadcast(1.0 / (sigma ** 2 + 1).sqrt(), x_noisy)
        cond = batch["cond"].unsqueeze(1).expand(-1, x_noisy.shape[1], -1, -1, -1)
        sample = torch.cat([x_noisy * c_in, cond.to(x_noisy)], dim=2)
        timestep = (0.25 * sigma.log()).to(x_noisy.dtype)
        return {"sample": sample, "timestep": timestep,
                "encoder_hidden_states": batch["context"].to(x_noisy),
                "added_time_ids": batch["added_time_ids"].to(x_noisy)}

    def precondition(self, x_noisy: torch.Tensor, sigma: torch.Tensor, raw: torch.Tensor
                     ) -> torch.Tensor:
        c_skip = broadcast(1.0 / (sigma ** 2 + 1), x_noisy)
        c_out = broadcast(-sigma / (sigma ** 2 + 1).sqrt(), x_noisy)
        return c_skip * x_noisy + c_out * raw
