"""Tiny random diffusers video transformers and a DiT denoiser over one (helpers of the DiT
pruning tests; CPU, seconds)."""

from __future__ import annotations

from typing import Any

import torch
from diffusers import (
    CogVideoXTransformer3DModel,
    HunyuanVideoTransformer3DModel,
    LTXVideoTransformer3DModel,
    WanTransformer3DModel,
)
from torch import nn

from vdmbench.diffusion.denoiser import DenoiserSpec
from vdmbench.diffusion.edm import edm_scalings

FRAMES, CHANNELS, SIZE, TOKENS, TEXT_DIM = 4, 4, 8, 6, 16


def tiny_wan(num_layers: int = 5, seed: int = 0) -> WanTransformer3DModel:
    torch.manual_seed(seed)
    return WanTransformer3DModel(
        patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=8,
        in_channels=CHANNELS, out_channels=CHANNELS, text_dim=TEXT_DIM, freq_dim=16, ffn_dim=32,
        num_layers=num_layers, rope_max_seq_len=32).eval()


def tiny_cogvideox(num_layers: int = 4, seed: int = 0) -> CogVideoXTransformer3DModel:
    torch.manual_seed(seed)
    return CogVideoXTransformer3DModel(
        num_attention_heads=2, attention_head_dim=8, in_channels=CHANNELS,
        out_channels=CHANNELS, time_embed_dim=16, text_embed_dim=TEXT_DIM,
        num_layers=num_layers, sample_width=SIZE, sample_height=SIZE, sample_frames=FRAMES,
        patch_size=2, temporal_compression_ratio=1, max_text_seq_length=TOKENS).eval()


def tiny_ltx(num_layers: int = 4, seed: int = 0) -> LTXVideoTransformer3DModel:
    torch.manual_seed(seed)
    return LTXVideoTransformer3DModel(
        in_channels=CHANNELS, out_channels=CHANNELS, patch_size=1, patch_size_t=1,
        num_attention_heads=2, attention_head_dim=8, cross_attention_dim=16,
        num_layers=num_layers, caption_channels=TEXT_DIM).eval()


def tiny_hunyuan(seed: int = 0) -> HunyuanVideoTransformer3DModel:
    """Two block lists: 2 dual-stream ``transformer_blocks``, 3 ``single_transformer_blocks``."""
    torch.manual_seed(seed)
    return HunyuanVideoTransformer3DModel(
        in_channels=CHANNELS, out_channels=CHANNELS, num_attention_heads=2, attention_head_dim=8,
        num_layers=2, num_single_layers=3, num_refiner_layers=1, mlp_ratio=2.0, patch_size=2,
        patch_size_t=1, text_embed_dim=TEXT_DIM, pooled_projection_dim=8,
        rope_axes_dim=(2, 2, 4), guidance_embeds=False).eval()


def forward_inputs(model: nn.Module, seed: int = 0, batch: int = 2) -> dict[str, Any]:
    """Seeded keyword arguments of ``model``'s forward (Wan, CogVideoX, LTX-Video,
    HunyuanVideo)."""
    g = torch.Generator().manual_seed(seed)
    ctx = torch.randn(batch, TOKENS, TEXT_DIM, generator=g)
    t = torch.tensor([500.0, 200.0])[:batch]
    name = type(model).__name__
    if name.startswith("Wan"):
        x = torch.randn(batch, CHANNELS, FRAMES, SIZE, SIZE, generator=g)
        return {"hidden_states": x, "timestep": t, "encoder_hidden_states": ctx}
    if name.startswith("HunyuanVideo"):
        x = torch.randn(batch, CHANNELS, FRAMES, SIZE, SIZE, generator=g)
        return {"hidden_states": x, "timestep": t.long(), "encoder_hidden_states": ctx,
                "encoder_attention_mask": torch.ones(batch, TOKENS),
                "pooled_projections": torch.randn(batch, 8, generator=g)}
    if name.startswith("CogVideoX"):
        x = torch.randn(batch, FRAMES, CHANNELS, SIZE, SIZE, generator=g)
        return {"hidden_states": x, "timestep": t.long(), "encoder_hidden_states": ctx}
    x = torch.randn(batch, FRAMES * SIZE * SIZE, CHANNELS, generator=g)
    return {"hidden_states": x, "timestep": t.long(), "encoder_hidden_states": ctx,
            "encoder_attention_mask": torch.ones(batch, TOKENS), "num_frames": FRAMES,
            "height": SIZE, "width": SIZE}


@torch.no_grad()
def run(model: nn.Module, inputs: dict[str, Any]) -> torch.Tensor:
    return model(**inputs, return_dict=False)[0]


def moving_blobs(n: int, seed: int) -> torch.Tensor:
    """(n, F, C, H, W) in about [-1, 1]: a Gaussian blob per clip moving at a seeded velocity
    (so removing a block can damage motion and content differently)."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(SIZE).float(), torch.arange(SIZE).float(),
                            indexing="ij")
    start = torch.rand(n, 2, generator=g) * (SIZE - 1)
    vel = (torch.rand(n, 2, generator=g) - 0.5) * 3
    colour = torch.rand(n, CHANNELS, generator=g) * 2 - 1
    frames = []
    for f in range(FRAMES):
        c = start + f * vel
        blob = torch.exp(-((yy - c[:, :1, None]) ** 2 + (xx - c[:, 1:, None]) ** 2) / 4.0)
        frames.append(colour[:, :, None, None] * blob[:, None])
    return torch.stack(frames, dim=1)


class ToyWanDenoiser(DenoiserSpec):
    """EDM denoiser over a ``WanTransformer3DModel`` (its ``unet`` is the transformer): clips
    (B, F, C, H, W) of moving blobs, a seeded random text context, ``timestep`` = 1000·σ/(1+σ),
    Euler sampling in 2 steps. ``noise_by_default`` so ``compress`` trains on its own clips."""

    name = "toy-dit"
    noise_by_default = True
    sigma_data = 0.5
    sigma_max = 20.0
    default_steps = 2

    def batch(self, n: int, seed: int, split: str = "train") -> dict[str, torch.Tensor]:
        g = torch.Generator().manual_seed(seed + 7)
        return {"x0": moving_blobs(n, seed).to(self.device),
                "context": torch.randn(n, TOKENS, TEXT_DIM, generator=g).to(self.device)}

    def encode_inputs(self, x_noisy: torch.Tensor, sigma: torch.Tensor,
                      batch: dict[str, torch.Tensor]) -> dict[str, Any]:
        b = x_noisy.shape[0]
        sigma = sigma.to(x_noisy.device, torch.float32).reshape(-1).expand(b)
        _, _, c_in, _ = edm_scalings(sigma, self.sigma_data)
        x = (c_in.view(-1, 1, 1, 1, 1) * x_noisy).permute(0, 2, 1, 3, 4)
        return {"hidden_states": x, "timestep": 1000 * sigma / (1 + sigma),
                "encoder_hidden_states": batch["context"]}

    def precondition(self, x_noisy: torch.Tensor, sigma: torch.Tensor, raw: torch.Tensor
                     ) -> torch.Tensor:
        b = x_noisy.shape[0]
        sigma = sigma.to(x_noisy.device, torch.float32).reshape(-1).expand(b)
        c_skip, c_out, _, _ = edm_scalings(sigma, self.sigma_data)
        bc = (-1, 1, 1, 1, 1)
        return c_skip.view(bc) * x_noisy + c_out.view(bc) * raw.permute(0, 2, 1, 3, 4)


def harmless(model: WanTransformer3DModel, index: int) -> WanTransformer3DModel:
    """Zero the output projections of block ``index`` (self-attention, cross-attention, FFN):
    the block then returns its input exactly, so removing it changes nothing."""
    block = model.blocks[index]
    with torch.no_grad():
        for lin in (block.attn1.to_out[0], block.attn2.to_out[0], block.ffn.net[-1]):
            lin.weight.zero_()
            lin.bias.zero_()
    return model
