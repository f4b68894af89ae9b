"""An lvdm ``openaimodel3d.UNetModel`` state dict (names and shapes) built independently of
vdmbench's converter, following the lvdm constructor's loops; random values, tiny channels."""

from __future__ import annotations

import torch


def _lin(sd: dict, name: str, out: int, inp: int, bias: bool = True) -> None:
    sd[f"{name}.weight"] = (out, inp)
    if bias:
        sd[f"{name}.bias"] = (out,)


def _norm(sd: dict, name: str, ch: int) -> None:
    sd[f"{name}.weight"] = (ch,)
    sd[f"{name}.bias"] = (ch,)


def _conv(sd: dict, name: str, out: int, inp: int, k: tuple[int, ...]) -> None:
    sd[f"{name}.weight"] = (out, inp, *k)
    sd[f"{name}.bias"] = (out,)


def _block(sd: dict, p: str, dim: int, ctx: int | None) -> None:
    for a in ("attn1", "attn2"):
        kv = ctx if (a == "attn2" and ctx is not None) else dim
        _lin(sd, f"{p}.{a}.to_q", dim, dim, bias=False)
        _lin(sd, f"{p}.{a}.to_k", dim, kv, bias=False)
        _lin(sd, f"{p}.{a}.to_v", dim, kv, bias=False)
        _lin(sd, f"{p}.{a}.to_out.0", dim, dim)
    _lin(sd, f"{p}.ff.net.0.proj", dim * 8, dim)
    _lin(sd, f"{p}.ff.net.2", dim, dim * 4)
    for n in ("norm1", "norm2", "norm3"):
        _norm(sd, f"{p}.{n}", dim)


def _res(sd: dict, p: str, cin: int, cout: int, temb: int) -> None:
    _norm(sd, f"{p}.in_layers.0", cin)
    _conv(sd, f"{p}.in_layers.2", cout, cin, (3, 3))
    _lin(sd, f"{p}.emb_layers.1", cout, temb)
    _norm(sd, f"{p}.out_layers.0", cout)
    _conv(sd, f"{p}.out_layers.3", cout, cout, (3, 3))
    if cin != cout:
        _conv(sd, f"{p}.skip_connection", cout, cin, (1, 1))
    for i in (1, 2, 3, 4):
        idx = 0
        _norm(sd, f"{p}.temopral_conv.conv{i}.{idx}", cout)
        _conv(sd, f"{p}.temopral_conv.conv{i}.{2 if i == 1 else 3}", cout, cout, (3, 1, 1))


def _st(sd: dict, p: str, ch: int, ctx: int) -> None:
    _norm(sd, f"{p}.norm", ch)
    _lin(sd, f"{p}.proj_in", ch, ch)
    _block(sd, f"{p}.transformer_blocks.0", ch, ctx)
    _lin(sd, f"{p}.proj_out", ch, ch)


def _tt(sd: dict, p: str, ch: int, inner: int, conv1d: bool) -> None:
    _norm(sd, f"{p}.norm", ch)
    if conv1d:
        _conv(sd, f"{p}.proj_in", inner, ch, (1,))
    else:
        _lin(sd, f"{p}.proj_in", inner, ch)
    _block(sd, f"{p}.transformer_blocks.0", inner, None)
    if conv1d:
        _conv(sd, f"{p}.proj_out", ch, inner, (1,))
    else:
        _lin(sd, f"{p}.proj_out", ch, inner)


def lvdm_shapes(mc: int = 32, mult: tuple[int, ...] = (1, 2), L: int = 2,
                attention_resolutions: tuple[int, ...] = (1,), head_ch: int = 16,
                ctx: int = 24, init_heads: int = 2, in_ch: int = 4) -> dict[str, tuple]:
    """``{key: shape}`` with ``model.diffusion_model.`` prefixes."""
    sd: dict[str, tuple] = {}
    temb = mc * 4
    _lin(sd, "time_embed.0", temb, mc)
    _lin(sd, "time_embed.2", temb, temb)
    _lin(sd, "fps_embedding.0", temb, mc)
    _lin(sd, "fps_embedding.2", temb, temb)
    _conv(sd, "input_blocks.0.0", mc, in_ch, (3, 3))
    _tt(sd, "init_attn.0", mc, init_heads * head_ch, conv1d=True)
    chans, ch, ds, b = [mc], mc, 1, 1
    for level, m in enumerate(mult):
        for _ in range(L):
            _res(sd, f"input_blocks.{b}.0", ch, m * mc, temb)
            ch = m * mc
            if ds in attention_resolutions:
                _st(sd, f"input_blocks.{b}.1", ch, ctx)
                _tt(sd, f"input_blocks.{b}.2", ch, ch, conv1d=False)
            chans.append(ch)
            b += 1
        if level != len(mult) - 1:
            sd[f"input_blocks.{b}.0.op.weight"] = (ch, ch, 3, 3)
            sd[f"input_blocks.{b}.0.op.bias"] = (ch,)
            chans.append(ch)
            b += 1
            ds *= 2
    _res(sd, "middle_block.0", ch, ch, temb)
    _st(sd, "middle_block.1", ch, ctx)
    _tt(sd, "middle_block.2", ch, ch, conv1d=False)
    _res(sd, "middle_block.3", ch, ch, temb)
    b = 0
    for level, m in list(enumerate(mult))[::-1]:
        for i in range(L + 1):
            ich = chans.pop()
            _res(sd, f"output_blocks.{b}.0", ch + ich, m * mc, temb)
            ch = m * mc
            n = 1
            if ds in attention_resolutions:
                _st(sd, f"output_blocks.{b}.1", ch, ctx)
                _tt(sd, f"output_blocks.{b}.2", ch, ch, conv1d=False)
                n = 3
            if level and i == L:
                _conv(sd, f"output_blocks.{b}.{n}.conv", ch, ch, (3, 3))
                ds //= 2
            b += 1
    _norm(sd, "out.0", mc)
    _conv(sd, "out.2", 4, mc, (3, 3))
    return {f"model.diffusion_model.{k}": v for k, v in sd.items()}


def lvdm_state_dict(seed: int = 0, **kw: object) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {k: torch.randn(s, generator=g) * 0.05 for k, s in lvdm_shapes(**kw).items()}


TINY_CONFIG = {
    "block_out_channels": [32, 64], "layers_per_block": 2,
    "down_block_types": ["CrossAttnDownBlockVC2", "DownBlockVC2"],
    "up_block_types": ["UpBlockVC2", "CrossAttnUpBlockVC2"],
    "attention_head_dim": 16, "cross_attention_dim": 24, "transformer_in_heads": 2,
    "norm_num_groups": 8,
}
