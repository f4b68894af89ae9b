"""VideoCrafter2UNet: forward on CPU, strict lvdm conversion, save/load round trip."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from lvdm_layout import TINY_CONFIG, lvdm_shapes, lvdm_state_dict

from vdmbench.errors import WeightsNotFoundError
from vdmbench.models.lvdm_convert import (
    convert_state_dict,
    default_config,
    load_lvdm_unet,
    module_map,
)
from vdmbench.models.videocrafter2_unet import VideoCrafter2UNet

torch.set_num_threads(1)


def _inputs(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(2, 4, 3, 8, 8, generator=g), torch.tensor([10.0, 700.0]),
            torch.randn(2, 5, 24, generator=g))


def test_tiny_forward_shapes_and_conditioning() -> None:
    torch.manual_seed(0)
    m = VideoCrafter2UNet.from_config(TINY_CONFIG).eval()
    x, t, ctx = _inputs()
    for mod in m.modules():  # the zero-initialized convs would hide every input
        if isinstance(mod, torch.nn.Conv3d):
            torch.nn.init.normal_(mod.weight, std=0.05)
    torch.nn.init.normal_(m.conv_out.weight, std=0.05)
    with torch.no_grad():
        y = m(x, t, ctx, fps=8).sample
        assert y.shape == (2, 4, 3, 8, 8) and torch.isfinite(y).all()
        assert not torch.allclose(y, m(x, t, ctx * 2, fps=8).sample)  # text matters
        assert not torch.allclose(y, m(x, t, ctx, fps=24).sample)  # fps matters
        assert not torch.allclose(y, m(x, t + 100, ctx, fps=8).sample)  # timestep matters
        # frames interact only through temporal layers: changing frame 2 changes frame 0
        x2 = x.clone()
        x2[:, :, 2] += 1
        assert not torch.allclose(y[:, :, 0], m(x2, t, ctx, fps=8).sample[:, :, 0])
        # batch independence: sample 0 alone gives the same output
        y0 = m(x[:1], t[:1], ctx[:1], fps=8).sample
        torch.testing.assert_close(y0, y[:1], atol=1e-5, rtol=1e-4)
    names = list(m.attn_processors)
    temporal = [n for n in names if "temporal" in n]
    assert temporal and all(n.split(".")[-2] in ("attn1", "attn2") for n in temporal)
    # 1 init + (2 down + 3 up + 1 mid) attention units × 2 temporal attentions
    assert len(temporal) == 2 * (1 + 2 + 3 + 1)


def test_lvdm_checkpoint_converts_strictly(tmp_path: Path) -> None:
    sd = lvdm_state_dict()
    sd["first_stage_model.decoder.conv_in.weight"] = torch.zeros(1)  # ignored: not UNet
    ckpt = tmp_path / "model.ckpt"
    torch.save({"state_dict": sd, "global_step": 3}, ckpt)
    m = load_lvdm_unet(ckpt, TINY_CONFIG)
    ours = m.state_dict()
    assert len(ours) == len(lvdm_shapes())
    p = "model.diffusion_model."
    torch.testing.assert_close(ours["down_blocks.0.resnets.1.temporal_conv.conv2.3.weight"],
                               sd[p + "input_blocks.2.0.temopral_conv.conv2.3.weight"])
    torch.testing.assert_close(ours["transformer_in.proj_in.weight"],
                               sd[p + "init_attn.0.proj_in.weight"][..., 0])
    torch.testing.assert_close(
        ours["up_blocks.1.attentions.2.temporal.temporal_transformer_blocks.0.attn2.to_k.weight"],
        sd[p + "output_blocks.5.2.transformer_blocks.0.attn2.to_k.weight"])
    torch.testing.assert_close(ours["up_blocks.0.upsamplers.0.conv.weight"],
                               sd[p + "output_blocks.2.1.conv.weight"])
    torch.testing.assert_close(ours["time_embedding.linear_2.bias"], sd[p + "time_embed.2.bias"])
    with torch.no_grad():
        assert torch.isfinite(m(*_inputs(), fps=8).sample).all()


def test_extra_missing_and_misshapen_keys_are_named() -> None:
    sd = lvdm_state_dict()
    p = "model.diffusion_model."
    extra = dict(sd, **{p + "input_blocks.1.3.bogus.weight": torch.zeros(2)})
    with pytest.raises(WeightsNotFoundError, match=r"unexpected.*input_blocks\.1\.3\.bogus"):
        convert_state_dict(extra, TINY_CONFIG)
    missing = dict(sd)
    del missing[p + "middle_block.2.transformer_blocks.0.attn1.to_v.weight"]
    with pytest.raises(WeightsNotFoundError,
                       match=r"missing.*mid_block\.attentions\.0\.temporal\."
                             r"temporal_transformer_blocks\.0\.attn1\.to_v\.weight"):
        convert_state_dict(missing, TINY_CONFIG)
    bad = dict(sd, **{p + "out.2.weight": torch.zeros(4, 32, 1, 3)})
    with pytest.raises(WeightsNotFoundError, match=r"shape.*out\.2\.weight"):
        convert_state_dict(bad, TINY_CONFIG)


def test_save_load_round_trip(tmp_path: Path) -> None:
    torch.manual_seed(1)
    m = VideoCrafter2UNet.from_config(TINY_CONFIG).eval()
    m.save_pretrained(tmp_path / "unet")
    assert (tmp_path / "unet" / "diffusion_pytorch_model.safetensors").is_file()
    m2 = VideoCrafter2UNet.from_pretrained(tmp_path / "unet").eval()
    def public(c: object) -> dict:
        return {k: v for k, v in dict(c).items() if not k.startswith("_")}

    assert public(m2.config) == public(m.config)
    with torch.no_grad():
        torch.testing.assert_close(m2(*_inputs(3), fps=8).sample, m(*_inputs(3), fps=8).sample,
                                   atol=0, rtol=0)


def test_full_config_layout_matches_lvdm_layout() -> None:
    """VideoCrafter2's real configuration: every lvdm key name and shape maps (meta tensors)."""
    shapes = lvdm_shapes(mc=320, mult=(1, 2, 4, 4), L=2, attention_resolutions=(4, 2, 1),
                         head_ch=64, ctx=1024, init_heads=8)
    sd = {k: torch.empty(s, device="meta") for k, s in shapes.items()}
    out = convert_state_dict(sd, default_config())
    assert len(out) == len(shapes)
    assert sum(t.numel() for t in out.values()) == sum(
        torch.Size(s).numel() for s in shapes.values())


def test_pruned_config_is_refused_for_lvdm_and_runs() -> None:
    cfg = dict(TINY_CONFIG, layers_per_block=[1, 2], mid_block_type=None)
    with pytest.raises(WeightsNotFoundError, match="same number of pairs"):
        module_map(cfg)
    m = VideoCrafter2UNet.from_config(cfg).eval()
    with torch.no_grad():
        assert m(*_inputs(), fps=8).sample.shape == (2, 4, 3, 8, 8)


def test_temporal_transformer_matches_reference_math() -> None:
    """(B·F, C, H, W) → per-pixel attention over frames, checked against explicit loops."""
    from vdmbench.models.videocrafter2_unet import VC2TemporalTransformer

    torch.manual_seed(0)
    b, f, c, h, w = 2, 3, 16, 2, 2
    tt = VC2TemporalTransformer(c, heads=2, head_dim=8, depth=1, groups=4).eval()
    torch.nn.init.normal_(tt.proj_out.weight, std=0.2)
    x = torch.randn(b * f, c, h, w)
    blk = tt.temporal_transformer_blocks[0]

    def attn(a: torch.nn.Module, z: torch.Tensor) -> torch.Tensor:  # z (F, D)
        q, k, v = a.to_q(z), a.to_k(z), a.to_v(z)
        outs = []
        for hd in range(2):
            sl = slice(hd * 8, (hd + 1) * 8)
            p = torch.softmax(q[:, sl] @ k[:, sl].T / 8 ** 0.5, dim=-1)
            outs.append(p @ v[:, sl])
        return a.to_out[0](torch.cat(outs, dim=1))

    x5 = x.reshape(b, f, c, h, w).permute(0, 2, 1, 3, 4)  # (B, C, F, H, W)
    gn = torch.nn.functional.group_norm(x5, 4, tt.norm.weight, tt.norm.bias, eps=1e-6)
    ref = torch.empty_like(x5)
    for bi in range(b):
        for yi in range(h):
            for xi in range(w):
                z = tt.proj_in(gn[bi, :, :, yi, xi].T)  # (F, C)
                z = attn(blk.attn1, blk.norm1(z)) + z
                z = attn(blk.attn2, blk.norm2(z)) + z
                z = blk.ff(blk.norm3(z)) + z
                ref[bi, :, :, yi, xi] = tt.proj_out(z).T + x5[bi, :, :, yi, xi]
    with torch.no_grad():
        out = tt(x, f)
    torch.testing.assert_close(out, ref.permute(0, 2, 1, 3, 4).reshape(b * f, c, h, w),
                               atol=1e-5, rtol=1e-4)
