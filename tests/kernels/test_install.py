"""fast_kernels on tiny SVD-architecture models: same output, exact restore, exact 1-token path."""

from __future__ import annotations

import pytest
import torch
from diffusers import AutoencoderKLTemporalDecoder, UNetSpatioTemporalConditionModel
from diffusers.models.attention_processor import AttnProcessor2_0
from torch import nn

from compression.kernels import (
    FusedActivation,
    FusedGroupNorm,
    OneTokenCrossAttnProcessor,
    SiLULinear,
    TritonTemporalAttnProcessor,
    fast_kernels,
)

FRAMES = 3


def tiny_unet() -> UNetSpatioTemporalConditionModel:
    torch.manual_seed(0)
    return UNetSpatioTemporalConditionModel(
        sample_size=8, in_channels=8, out_channels=4,
        down_block_types=("CrossAttnDownBlockSpatioTemporal", "DownBlockSpatioTemporal"),
        up_block_types=("UpBlockSpatioTemporal", "CrossAttnUpBlockSpatioTemporal"),
        block_out_channels=(32, 64), addition_time_embed_dim=4,
        projection_class_embeddings_input_dim=12, layers_per_block=1, cross_attention_dim=32,
        num_attention_heads=(2, 4),
    ).eval()


def unet_inputs():
    g = torch.Generator().manual_seed(1)
    return (torch.randn(1, FRAMES, 8, 8, 8, generator=g), torch.tensor([10.0]),
            torch.randn(1, 1, 32, generator=g), torch.randn(1, 3, generator=g))


def tiny_vae() -> AutoencoderKLTemporalDecoder:
    torch.manual_seed(0)
    return AutoencoderKLTemporalDecoder(
        block_out_channels=(32, 32), down_block_types=("DownEncoderBlock2D",) * 2,
        layers_per_block=1, latent_channels=4,
    ).eval()


def snapshot(model: nn.Module) -> dict[str, object]:
    """Identity of every submodule and attention processor."""
    mods = {name: m for name, m in model.named_modules()}
    procs = getattr(model, "attn_processors", {})
    return {**{f"m:{k}": v for k, v in mods.items()}, **{f"p:{k}": v for k, v in procs.items()}}


@pytest.fixture(scope="module")
def unet_runs():
    """Outputs of the tiny UNet: eager, with fast_kernels, and after the context exits."""
    unet = tiny_unet()
    before = snapshot(unet)
    keys = list(unet.state_dict())
    with torch.no_grad():
        eager = unet(*unet_inputs()).sample
        with fast_kernels(unet) as handle:
            inside = snapshot(unet)
            keys_inside = list(unet.state_dict())
            fast = unet(*unet_inputs()).sample
        after = unet(*unet_inputs()).sample
    return dict(unet=unet, before=before, inside=inside, after_snapshot=snapshot(unet), keys=keys,
                keys_inside=keys_inside, eager=eager, fast=fast, after=after, handle=handle)


def test_unet_same_output_with_kernels(interpreter, unet_runs):
    eager, fast = unet_runs["eager"], unet_runs["fast"]
    assert torch.isfinite(fast).all()
    torch.testing.assert_close(fast, eager, rtol=1e-4, atol=1e-4 * eager.abs().max().item())


def test_unet_kernels_were_installed(interpreter, unet_runs):
    summary = unet_runs["handle"].summary
    # tiny UNet: 4 transformer models (down 1, mid 1, up 2), each a spatial + a temporal block
    assert summary.temporal_attention == 4
    assert summary.one_token_cross_attention == 8
    assert summary.group_norm_silu > 0 and summary.group_norm > 0
    kinds = {type(v) for v in unet_runs["inside"].values()}
    assert {TritonTemporalAttnProcessor, OneTokenCrossAttnProcessor, FusedGroupNorm,
            FusedActivation, SiLULinear} <= kinds
    assert nn.GroupNorm not in kinds and nn.SiLU in kinds  # SiLUs outside GroupNorm pairs stay
    assert unet_runs["keys_inside"] == unet_runs["keys"]


def test_unet_restored_exactly(interpreter, unet_runs):
    assert unet_runs["after_snapshot"] == unet_runs["before"]
    assert torch.equal(unet_runs["after"], unet_runs["eager"])
    assert not unet_runs["handle"].installed


def test_one_token_cross_attention_is_bit_identical():
    unet = tiny_unet()
    with torch.no_grad():
        eager = unet(*unet_inputs()).sample
        with fast_kernels(unet, temporal_attention=False, group_norm=False) as handle:
            fast = unet(*unet_inputs()).sample
    assert handle.summary.one_token_cross_attention == 8
    assert handle.summary.temporal_attention == 0 and handle.summary.group_norm == 0
    assert torch.equal(fast, eager)


def test_one_token_project_once_is_close():
    unet = tiny_unet()
    with torch.no_grad():
        eager = unet(*unet_inputs()).sample
        with fast_kernels(unet, temporal_attention=False, group_norm=False, project_once=True):
            fast = unet(*unet_inputs()).sample
    torch.testing.assert_close(fast, eager, rtol=1e-5, atol=1e-5 * eager.abs().max().item())


def test_one_token_processor_delegates_outside_its_domain():
    unet = tiny_unet()
    attn = unet.down_blocks[0].attentions[0].transformer_blocks[0].attn2
    proc = OneTokenCrossAttnProcessor(AttnProcessor2_0())
    x = torch.randn(2, 16, 32)
    ctx = torch.randn(2, 3, 32)  # three tokens: the real attention
    with torch.no_grad():
        assert torch.equal(proc(attn, x, ctx), AttnProcessor2_0()(attn, x, ctx))
        one = ctx[:, :1]
        assert torch.equal(proc(attn, x, one), AttnProcessor2_0()(attn, x, one))


def test_vae_decode_same_output_and_restored(interpreter):
    vae = tiny_vae()
    before = snapshot(vae)
    z = torch.randn(FRAMES, 4, 4, 4, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        eager = vae.decode(z, num_frames=FRAMES).sample
        with fast_kernels(vae) as handle:
            fast = vae.decode(z, num_frames=FRAMES).sample
        after = vae.decode(z, num_frames=FRAMES).sample
    assert handle.summary.group_norm_silu > 0
    torch.testing.assert_close(fast, eager, rtol=1e-4, atol=1e-4 * eager.abs().max().item())
    assert torch.equal(after, eager)
    assert snapshot(vae) == before


def test_container_module_permanent_install_and_unknown_modules():
    class Pipe(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.unet = tiny_unet()
            self.head = nn.Sequential(nn.GroupNorm(2, 4), nn.SiLU())

    pipe = Pipe()
    handle = fast_kernels(pipe).install()
    assert handle.install() is handle  # idempotent
    assert handle.summary.models == ["UNetSpatioTemporalConditionModel"]
    assert type(pipe.head[0]) is nn.GroupNorm  # outside the SVD models: untouched
    assert type(pipe.unet.conv_norm_out) is FusedGroupNorm
    handle.restore()
    assert type(pipe.unet.conv_norm_out) is nn.GroupNorm
    other = nn.Sequential(nn.Linear(3, 3), nn.GroupNorm(1, 3))
    with fast_kernels(other) as h:
        assert h.summary.as_dict()["models"] == [] and type(other[1]) is nn.GroupNorm
    with pytest.raises(TypeError):
        fast_kernels("unet")  # type: ignore[arg-type]
