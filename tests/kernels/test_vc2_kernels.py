"""fast_kernels on a tiny VideoCrafter2UNet: temporal self-attentions, GroupNorm+SiLU, restore."""

from __future__ import annotations

from unittest import mock

import pytest
import torch
from diffusers.models.attention_processor import AttnProcessor2_0
from torch import nn

from compression.kernels import (
    FusedActivation,
    FusedGroupNorm,
    OneTokenCrossAttnProcessor,
    TritonTemporalAttnProcessor,
    fast_kernels,
)
from compression.kernels import attention as attention_mod
from compression.kernels import group_norm as group_norm_mod
from vdmbench.models.videocrafter2_unet import VideoCrafter2UNet

FRAMES = 3
TINY = {
    "block_out_channels": [16, 32], "layers_per_block": 1, "attention_head_dim": 8,
    "down_block_types": ["CrossAttnDownBlockVC2", "DownBlockVC2"],
    "up_block_types": ["UpBlockVC2", "CrossAttnUpBlockVC2"],
    "cross_attention_dim": 24, "transformer_in_heads": 2, "norm_num_groups": 8,
}


def tiny_vc2() -> VideoCrafter2UNet:
    torch.manual_seed(0)
    m = VideoCrafter2UNet.from_config(TINY).eval()
    with torch.no_grad():  # the zero-initialized last temporal convs would hide those blocks
        for mod in m.modules():
            if isinstance(mod, nn.Conv3d):
                nn.init.normal_(mod.weight, std=0.05)
    return m


def inputs() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return (torch.randn(1, 4, FRAMES, 8, 8, generator=g), torch.tensor([500.0]),
            torch.randn(1, 77, 24, generator=g))  # 77 text tokens, as OpenCLIP gives


def snapshot(model: nn.Module) -> dict[str, object]:
    mods = {f"m:{k}": v for k, v in model.named_modules()}
    return {**mods, **{f"p:{k}": v for k, v in model.attn_processors.items()}}


@pytest.fixture(scope="module")
def runs() -> dict[str, object]:
    torch.set_num_threads(1)
    unet = tiny_vc2()
    before = snapshot(unet)
    keys = list(unet.state_dict())
    with torch.no_grad():
        eager = unet(*inputs(), fps=8).sample
        with fast_kernels(unet) as handle, \
                mock.patch.object(attention_mod, "launch", wraps=attention_mod.launch) as attn, \
                mock.patch.object(group_norm_mod, "launch", wraps=group_norm_mod.launch) as gn:
            inside = snapshot(unet)
            procs = dict(unet.attn_processors)
            keys_inside = list(unet.state_dict())
            fast = unet(*inputs(), fps=8).sample
        after = unet(*inputs(), fps=8).sample
    return dict(before=before, inside=inside, procs=procs, keys=keys, keys_inside=keys_inside,
                eager=eager, fast=fast, after=after, after_snapshot=snapshot(unet),
                handle=handle, attn_launches=attn.call_count, gn_launches=gn.call_count)


def test_vc2_same_output_with_kernels(interpreter, runs) -> None:
    eager, fast = runs["eager"], runs["fast"]
    assert torch.isfinite(fast).all()
    torch.testing.assert_close(fast, eager, rtol=1e-4, atol=1e-4 * eager.abs().max().item())
    # the Triton kernels (interpreted) computed it: one launch per temporal self-attention and
    # per GroupNorm, no fallback
    assert runs["attn_launches"] == 10
    assert runs["gn_launches"] == 33 + 25


def test_vc2_temporal_self_attentions_swapped_cross_attentions_kept(interpreter, runs) -> None:
    summary = runs["handle"].summary
    # transformer_in + (D.0: 1, U.1: 2, mid: 1) attention units, 2 temporal self-attentions each
    assert summary.temporal_attention == 2 * (1 + 1 + 2 + 1) == 10
    assert summary.one_token_cross_attention == 0
    assert summary.models == ["VideoCrafter2UNet"]
    procs = runs["procs"]
    triton = sorted(n for n, p in procs.items() if isinstance(p, TritonTemporalAttnProcessor))
    assert len(triton) == 10
    assert all("temporal_transformer_blocks" in n for n in triton)
    assert {n.split(".")[-2] for n in triton} == {"attn1", "attn2"}
    assert "transformer_in.temporal_transformer_blocks.0.attn2.processor" in triton
    spatial = [n for n in procs if ".spatial." in n]
    assert spatial and all(type(procs[n]) is AttnProcessor2_0 for n in spatial)  # text cross-attn
    assert not any(isinstance(p, OneTokenCrossAttnProcessor) for p in procs.values())


def test_vc2_group_norms_fused(interpreter, runs) -> None:
    summary = runs["handle"].summary
    # 4 temporal-conv stages per ResBlock (2 down + 2 mid + 4 up ResBlocks) + conv_norm_out
    assert summary.group_norm_silu == 4 * 8 + 1
    # plain: ResBlock norm1/norm2 (SiLU is functional there), transformer_in's and each
    # attention unit's spatial + temporal transformer norm
    assert summary.group_norm == 2 * 8 + 1 + 2 * 4
    kinds = {type(v) for v in runs["inside"].values()}
    assert {TritonTemporalAttnProcessor, FusedGroupNorm, FusedActivation} <= kinds
    assert nn.GroupNorm not in kinds
    mods = {k[2:]: v for k, v in runs["inside"].items() if k.startswith("m:")}
    assert type(mods["conv_act"]) is FusedActivation
    stages = [k for k in mods if k.split(".")[-1] in ("conv1", "conv2", "conv3", "conv4")
              and ".temporal_conv." in k]
    assert len(stages) == 4 * 8
    assert all(type(mods[f"{k}.0"]) is FusedGroupNorm and mods[f"{k}.0"].activation == "silu"
               and type(mods[f"{k}.1"]) is FusedActivation for k in stages)
    assert type(mods["time_embedding.act"]) is nn.SiLU  # SiLUs outside GroupNorm pairs stay
    assert runs["keys_inside"] == runs["keys"]


def test_vc2_restored_exactly(interpreter, runs) -> None:
    assert runs["after_snapshot"] == runs["before"]
    assert torch.equal(runs["after"], runs["eager"])
    assert not runs["handle"].installed


def test_vc2_only_temporal_attention() -> None:
    """Processor swap alone (no interpreter needed: outside it the processor falls back)."""
    unet = tiny_vc2()
    with fast_kernels(unet, group_norm=False) as handle:
        assert handle.summary.temporal_attention == 10 and handle.summary.group_norm == 0
        assert type(unet.conv_norm_out) is nn.GroupNorm
    with fast_kernels(unet, temporal_attention=False, group_norm=False) as handle:
        assert handle.summary.temporal_attention == 0
        assert all(type(p) is AttnProcessor2_0 for p in unet.attn_processors.values())
