"""The VideoCrafter2 UNet (lvdm ``openaimodel3d.UNetModel``) written the diffusers way.

VideoCrafter2 and T2V-Turbo-v2 use the lvdm 3D UNet, which diffusers does not have. This is a
from-scratch implementation with diffusers building blocks (``ModelMixin``/``ConfigMixin``,
``Attention`` modules with swappable processors, ``FeedForward``, ``TimestepEmbedding``) and
diffusers-style names, so that the compression helper's plans (units ``D.i.k``/``U.j.k``/``M`` over
``down_blocks.i.{resnets,attentions}.k``, per-level ``layers_per_block``, ``mid_block_type=None``)
and the kernels helper's attention processors apply to it as to SVD's UNet.

Layout (``F`` frames, ``B`` videos; 2D layers see ``(B·F, C, H, W)``):

- ``conv_in`` → ``transformer_in`` (the extra initial temporal attention, 8 heads × 64) →
  ``down_blocks[i]``: ``layers_per_block[i]`` pairs (``resnets.k`` = ResBlock with a temporal conv
  block; ``attentions.k`` = spatial transformer (self + text cross-attention) followed by a
  temporal transformer (two temporal self-attentions)), then ``downsamplers.0`` (stride-2 conv)
  except at the last level;
- ``mid_block``: ResBlock, spatial + temporal transformer, ResBlock (``mid_block_type=None``: none);
- ``up_blocks[j]`` (``j = 0`` coarsest): ``layers_per_block[n-1-j] + 1`` pairs reading the skips
  last-in first-out, then ``upsamplers.0`` (nearest ×2 + conv) except at the finest level;
- ``conv_norm_out`` → SiLU → ``conv_out``.

``encode`` is the encoder half of ``forward`` (``forward`` calls it): the embeddings and the
down blocks' outputs, read by the compression helper's MCA discriminator.

The temporal transformers reshape ``(B, C, F, H, W) → (B·H·W, F, C)``; their GroupNorm statistics
span all frames (as lvdm's). The timestep and fps are embedded with cos-first sinusoids of
``block_out_channels[0]`` dimensions; ``fps`` is added to the time embedding (``fps_cond``).
Attention layers are diffusers ``Attention`` modules (default processor: SDPA); temporal ones live
under ``…temporal…temporal_transformer_blocks.N.attn{1,2}``.

Deviation from lvdm: the ResBlock/output GroupNorms run in the input dtype (lvdm upcasts them to
float32); identical in float32.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.attention import AttentionMixin, FeedForward
from diffusers.models.attention_processor import Attention
from diffusers.models.embeddings import TimestepEmbedding, Timesteps
from diffusers.models.modeling_utils import ModelMixin
from diffusers.utils import BaseOutput
from torch import nn

DOWN_ATTN, DOWN_PLAIN = "CrossAttnDownBlockVC2", "DownBlockVC2"
UP_ATTN, UP_PLAIN = "CrossAttnUpBlockVC2", "UpBlockVC2"
MID = "UNetMidBlockVC2"


@dataclass
class VideoCrafter2UNetOutput(BaseOutput):
    """``sample``: ``(B, out_channels, F, H, W)``."""

    sample: torch.Tensor


@dataclass
class VC2Encoding:
    """What :meth:`VideoCrafter2UNet.encode` computes, in the 2D layout (``B·F`` first, frames
    of a video contiguous). Level ``i`` has ``C_i = block_out_channels[i]`` channels.

    - ``down_outputs``: the output of each down block (after its downsampler, if any),
      ``(B·F, C_i, h_i, w_i)``; the last one is the mid block's input;
    - ``skips``: ``conv_in``/``transformer_in``'s output then every skip the down blocks push, in
      push order (the up blocks pop them);
    - ``emb``: the time (+ fps, + guidance) embedding of each frame, ``(B·F, 4·C_0)``;
    - ``context``: the text embedding of each frame, ``(B·F, L, cross_attention_dim)``;
    - ``num_frames``: ``F``.
    """

    down_outputs: list[torch.Tensor]
    skips: list[torch.Tensor]
    emb: torch.Tensor
    context: torch.Tensor
    num_frames: int


def _to_5d(x: torch.Tensor, num_frames: int) -> torch.Tensor:
    """``(B·F, C, H, W)`` → ``(B, C, F, H, W)``."""
    bf, c, h, w = x.shape
    return x.reshape(bf // num_frames, num_frames, c, h, w).permute(0, 2, 1, 3, 4)


def _from_5d(x: torch.Tensor) -> torch.Tensor:
    """``(B, C, F, H, W)`` → ``(B·F, C, H, W)``."""
    b, c, f, h, w = x.shape
    return x.permute(0, 2, 1, 3, 4).reshape(b * f, c, h, w)


class TemporalConvBlock(nn.Module):
    """Four (GroupNorm, SiLU, [Dropout], Conv3d (3,1,1)) stages with a residual, on
    ``(B, C, F, H, W)``; the last conv starts at zero (lvdm/ModelScope's temporal conv)."""

    def __init__(self, channels: int, groups: int = 32, dropout: float = 0.1) -> None:
        super().__init__()
        k, p = (3, 1, 1), (1, 0, 0)
        self.conv1 = nn.Sequential(nn.GroupNorm(groups, channels), nn.SiLU(),
                                   nn.Conv3d(channels, channels, k, padding=p))
        self.conv2 = nn.Sequential(nn.GroupNorm(groups, channels), nn.SiLU(), nn.Dropout(dropout),
                                   nn.Conv3d(channels, channels, k, padding=p))
        self.conv3 = nn.Sequential(nn.GroupNorm(groups, channels), nn.SiLU(), nn.Dropout(dropout),
                                   nn.Conv3d(channels, channels, k, padding=p))
        self.conv4 = nn.Sequential(nn.GroupNorm(groups, channels), nn.SiLU(), nn.Dropout(dropout),
                                   nn.Conv3d(channels, channels, k, padding=p))
        nn.init.zeros_(self.conv4[-1].weight)
        nn.init.zeros_(self.conv4[-1].bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv4(self.conv3(self.conv2(self.conv1(x))))


class VC2ResBlock(nn.Module):
    """ResBlock (GroupNorm-SiLU-conv, + time embedding, GroupNorm-SiLU-dropout-conv, skip) then
    an optional temporal conv block. ``(B·F, C_in, H, W)`` → ``(B·F, C_out, H, W)``."""

    def __init__(self, in_channels: int, out_channels: int, temb_channels: int, groups: int,
                 temporal_conv: bool, dropout: float = 0.0,
                 temporal_dropout: float = 0.1) -> None:
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.norm1 = nn.GroupNorm(groups, in_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.time_emb_proj = nn.Linear(temb_channels, out_channels)
        self.norm2 = nn.GroupNorm(groups, out_channels)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.conv_shortcut = (nn.Conv2d(in_channels, out_channels, 1)
                              if in_channels != out_channels else None)
        self.temporal_conv = (TemporalConvBlock(out_channels, groups, temporal_dropout)
                              if temporal_conv else None)

    def forward(self, hidden_states: torch.Tensor, temb: torch.Tensor, num_frames: int
                ) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(hidden_states)))
        h = h + self.time_emb_proj(F.silu(temb))[:, :, None, None].to(h.dtype)
        h = self.conv2(self.dropout(F.silu(self.norm2(h))))
        skip = hidden_states if self.conv_shortcut is None else self.conv_shortcut(hidden_states)
        h = skip + h
        if self.temporal_conv is not None:
            h = _from_5d(self.temporal_conv(_to_5d(h, num_frames)))
        return h


class VC2TransformerBlock(nn.Module):
    """Pre-LayerNorm block: ``attn1`` (self), ``attn2`` (cross-attention to ``context`` if
    ``cross_attention_dim`` is set, else a second self-attention), GEGLU feed-forward."""

    def __init__(self, dim: int, heads: int, head_dim: int,
                 cross_attention_dim: int | None) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn1 = Attention(dim, heads=heads, dim_head=head_dim, bias=False, out_bias=True)
        self.norm2 = nn.LayerNorm(dim)
        self.attn2 = Attention(dim, cross_attention_dim=cross_attention_dim, heads=heads,
                               dim_head=head_dim, bias=False, out_bias=True)
        self.norm3 = nn.LayerNorm(dim)
        self.ff = FeedForward(dim, activation_fn="geglu")
        self.cross = cross_attention_dim is not None

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        x = self.attn1(self.norm1(x)) + x
        x = self.attn2(self.norm2(x), encoder_hidden_states=context if self.cross else None) + x
        return self.ff(self.norm3(x)) + x


class VC2SpatialTransformer(nn.Module):
    """Per-frame transformer over the ``H·W`` tokens with text cross-attention.
    ``(B·F, C, H, W)``, context ``(B·F, L, D)`` → ``(B·F, C, H, W)``."""

    def __init__(self, channels: int, heads: int, head_dim: int, depth: int,
                 cross_attention_dim: int, groups: int) -> None:
        super().__init__()
        inner = heads * head_dim
        self.norm = nn.GroupNorm(groups, channels, eps=1e-6)
        self.proj_in = nn.Linear(channels, inner)
        self.transformer_blocks = nn.ModuleList(
            VC2TransformerBlock(inner, heads, head_dim, cross_attention_dim)
            for _ in range(depth))
        self.proj_out = nn.Linear(inner, channels)

    def forward(self, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        bf, c, h, w = x.shape
        t = self.norm(x).permute(0, 2, 3, 1).reshape(bf, h * w, c)
        t = self.proj_in(t)
        for block in self.transformer_blocks:
            t = block(t, context)
        t = self.proj_out(t)
        return t.reshape(bf, h, w, c).permute(0, 3, 1, 2) + x


class VC2TemporalTransformer(nn.Module):
    """Transformer over the ``F`` frames of every pixel (two self-attentions per block).
    ``(B·F, C, H, W)`` → ``(B·F, C, H, W)``; internally ``(B·H·W, F, inner)``."""

    def __init__(self, channels: int, heads: int, head_dim: int, depth: int, groups: int) -> None:
        super().__init__()
        inner = heads * head_dim
        self.norm = nn.GroupNorm(groups, channels, eps=1e-6)
        self.proj_in = nn.Linear(channels, inner)
        self.temporal_transformer_blocks = nn.ModuleList(
            VC2TransformerBlock(inner, heads, head_dim, None) for _ in range(depth))
        self.proj_out = nn.Linear(inner, channels)

    def forward(self, x: torch.Tensor, num_frames: int) -> torch.Tensor:
        x5 = _to_5d(x, num_frames)
        b, c, f, h, w = x5.shape
        t = self.norm(x5).permute(0, 3, 4, 2, 1).reshape(b * h * w, f, c)
        t = self.proj_in(t)
        for block in self.temporal_transformer_blocks:
            t = block(t)
        t = self.proj_out(t)
        t = t.reshape(b, h, w, f, c).permute(0, 4, 3, 1, 2)
        return _from_5d(t + x5)


class VC2SpatioTemporalTransformer(nn.Module):
    """One attention unit: ``spatial`` then ``temporal`` transformer. ``forward`` returns a
    1-tuple (diffusers' ``return_dict=False`` convention, as the pruning stand-ins do)."""

    def __init__(self, channels: int, head_dim: int, depth: int, temporal_depth: int,
                 cross_attention_dim: int, groups: int) -> None:
        super().__init__()
        heads = channels // head_dim
        self.spatial = VC2SpatialTransformer(channels, heads, head_dim, depth,
                                             cross_attention_dim, groups)
        self.temporal = VC2TemporalTransformer(channels, heads, head_dim, temporal_depth, groups)

    def forward(self, hidden_states: torch.Tensor, encoder_hidden_states: torch.Tensor,
                num_frames: int, return_dict: bool = False) -> tuple[torch.Tensor]:
        h = self.spatial(hidden_states, encoder_hidden_states)
        return (self.temporal(h, num_frames),)


class VC2Downsample(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class VC2Upsample(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class VC2DownBlock(nn.Module):
    """``resnets``/``attentions`` pairs then an optional downsampler; returns the output and the
    skips it pushes (one per pair, one after the downsampler)."""

    def __init__(self, in_ch: int, out_ch: int, n: int, attn: bool, add_down: bool,
                 temb: int, cfg: dict) -> None:
        super().__init__()
        self.resnets = nn.ModuleList(
            VC2ResBlock(in_ch if k == 0 else out_ch, out_ch, temb, cfg["norm_num_groups"],
                        cfg["temporal_conv"], temporal_dropout=cfg["temporal_conv_dropout"])
            for k in range(n))
        self.attentions = nn.ModuleList(
            VC2SpatioTemporalTransformer(out_ch, cfg["attention_head_dim"],
                                         cfg["transformer_layers_per_block"],
                                         cfg["temporal_transformer_layers"],
                                         cfg["cross_attention_dim"], cfg["norm_num_groups"])
            for _ in range(n)) if attn else None
        self.downsamplers = nn.ModuleList([VC2Downsample(out_ch)]) if add_down else None

    def forward(self, h: torch.Tensor, temb: torch.Tensor, context: torch.Tensor,
                num_frames: int) -> tuple[torch.Tensor, list[torch.Tensor]]:
        skips = []
        for k, resnet in enumerate(self.resnets):
            h = resnet(h, temb, num_frames)
            if self.attentions is not None:
                h = self.attentions[k](h, context, num_frames)[0]
            skips.append(h)
        if self.downsamplers is not None:
            h = self.downsamplers[0](h)
            skips.append(h)
        return h, skips


class VC2UpBlock(nn.Module):
    """Pairs that each concatenate one skip (last-in first-out), then an optional upsampler."""

    def __init__(self, in_chs: list[int], out_ch: int, attn: bool, add_up: bool, temb: int,
                 cfg: dict) -> None:
        super().__init__()
        self.resnets = nn.ModuleList(
            VC2ResBlock(c, out_ch, temb, cfg["norm_num_groups"], cfg["temporal_conv"],
                        temporal_dropout=cfg["temporal_conv_dropout"])
            for c in in_chs)
        self.attentions = nn.ModuleList(
            VC2SpatioTemporalTransformer(out_ch, cfg["attention_head_dim"],
                                         cfg["transformer_layers_per_block"],
                                         cfg["temporal_transformer_layers"],
                                         cfg["cross_attention_dim"], cfg["norm_num_groups"])
            for _ in in_chs) if attn else None
        self.upsamplers = nn.ModuleList([VC2Upsample(out_ch)]) if add_up else None

    def forward(self, h: torch.Tensor, skips: list[torch.Tensor], temb: torch.Tensor,
                context: torch.Tensor, num_frames: int) -> torch.Tensor:
        for k, resnet in enumerate(self.resnets):
            h = resnet(torch.cat([h, skips.pop()], dim=1), temb, num_frames)
            if self.attentions is not None:
                h = self.attentions[k](h, context, num_frames)[0]
        if self.upsamplers is not None:
            h = self.upsamplers[0](h)
        return h


class VC2MidBlock(nn.Module):
    """ResBlock, spatial + temporal transformer, ResBlock."""

    def __init__(self, ch: int, temb: int, cfg: dict) -> None:
        super().__init__()
        self.resnets = nn.ModuleList(
            VC2ResBlock(ch, ch, temb, cfg["norm_num_groups"], cfg["temporal_conv"],
                        temporal_dropout=cfg["temporal_conv_dropout"])
            for _ in range(2))
        self.attentions = nn.ModuleList([VC2SpatioTemporalTransformer(
            ch, cfg["attention_head_dim"], cfg["transformer_layers_per_block"],
            cfg["temporal_transformer_layers"], cfg["cross_attention_dim"],
            cfg["norm_num_groups"])])

    def forward(self, h: torch.Tensor, temb: torch.Tensor, context: torch.Tensor,
                num_frames: int) -> torch.Tensor:
        h = self.resnets[0](h, temb, num_frames)
        h = self.attentions[0](h, context, num_frames)[0]
        return self.resnets[1](h, temb, num_frames)


class _IdentityMid(nn.Module):
    """No mid block (a pruned student): identity, no parameters."""

    def forward(self, h: torch.Tensor, temb: torch.Tensor | None = None,
                context: torch.Tensor | None = None, num_frames: int | None = None
                ) -> torch.Tensor:
        return h


def skip_channels(block_out_channels: list[int], layers: list[int]) -> list[int]:
    """Channels of every skip the encoder pushes, in push order (``conv_in`` first)."""
    out = [block_out_channels[0]]
    for i, (ch, n) in enumerate(zip(block_out_channels, layers)):
        out += [ch] * n
        if i < len(block_out_channels) - 1:
            out.append(ch)
    return out


class VideoCrafter2UNet(ModelMixin, AttentionMixin, ConfigMixin):
    """VideoCrafter2's 3D UNet. ``forward(sample (B, C, F, H, W), timestep (B,) or scalar,
    encoder_hidden_states (B, L, cross_attention_dim), fps (B,) or number)`` →
    ``(B, out_channels, F, H, W)``. Defaults are VideoCrafter2's 512 configuration
    (1.4 B parameters); ``H`` and ``W`` must be divisible by ``2**(levels-1)``."""

    _supports_gradient_checkpointing = False

    @register_to_config
    def __init__(
        self,
        in_channels: int = 4,
        out_channels: int = 4,
        block_out_channels: tuple[int, ...] = (320, 640, 1280, 1280),
        layers_per_block: int | tuple[int, ...] = 2,
        down_block_types: tuple[str, ...] = (DOWN_ATTN, DOWN_ATTN, DOWN_ATTN, DOWN_PLAIN),
        up_block_types: tuple[str, ...] = (UP_PLAIN, UP_ATTN, UP_ATTN, UP_ATTN),
        mid_block_type: str | None = MID,
        attention_head_dim: int = 64,
        cross_attention_dim: int = 1024,
        transformer_layers_per_block: int = 1,
        temporal_transformer_layers: int = 1,
        temporal_conv: bool = True,
        addition_attention: bool = True,
        transformer_in_heads: int = 8,
        fps_cond: bool = True,
        norm_num_groups: int = 32,
        num_frames: int = 16,
        time_cond_proj_dim: int | None = None,
        motion_cond_proj_dim: int | None = None,
        temporal_conv_dropout: float = 0.1,
    ) -> None:
        super().__init__()
        boc = list(block_out_channels)
        n = len(boc)
        layers = [layers_per_block] * n if isinstance(layers_per_block, int) else list(
            layers_per_block)
        if len(layers) != n or len(down_block_types) != n or len(up_block_types) != n:
            raise ValueError("block_out_channels, layers_per_block, down_block_types and "
                             "up_block_types must have one entry per level")
        for t in down_block_types:
            if t not in (DOWN_ATTN, DOWN_PLAIN):
                raise ValueError(f"unknown down block type {t!r}")
        for t in up_block_types:
            if t not in (UP_ATTN, UP_PLAIN):
                raise ValueError(f"unknown up block type {t!r}")
        cfg = {"norm_num_groups": norm_num_groups, "temporal_conv": temporal_conv,
               "temporal_conv_dropout": temporal_conv_dropout,
               "attention_head_dim": attention_head_dim,
               "transformer_layers_per_block": transformer_layers_per_block,
               "temporal_transformer_layers": temporal_transformer_layers,
               "cross_attention_dim": cross_attention_dim}
        mc = boc[0]
        temb = mc * 4
        self.time_proj = Timesteps(mc, flip_sin_to_cos=True, downscale_freq_shift=0)
        self.time_embedding = TimestepEmbedding(mc, temb)
        self.fps_embedding = TimestepEmbedding(mc, temb) if fps_cond else None
        # T2V-Turbo: guidance-scale (and motion-guidance) embeddings added to the timestep's
        self.time_cond_proj = (nn.Linear(time_cond_proj_dim, mc, bias=False)
                               if time_cond_proj_dim else None)
        self.motion_cond_proj = (nn.Linear(motion_cond_proj_dim, mc, bias=False)
                                 if motion_cond_proj_dim else None)
        self.combine_proj = (nn.Linear(2 * mc, mc, bias=False) if motion_cond_proj_dim else None)
        self.conv_in = nn.Conv2d(in_channels, mc, 3, padding=1)
        self.transformer_in = (VC2TemporalTransformer(mc, transformer_in_heads,
                                                      attention_head_dim, 1, norm_num_groups)
                               if addition_attention else None)
        self.down_blocks = nn.ModuleList()
        ch = mc
        for i in range(n):
            self.down_blocks.append(VC2DownBlock(ch, boc[i], layers[i],
                                                 down_block_types[i] == DOWN_ATTN, i < n - 1,
                                                 temb, cfg))
            ch = boc[i]
        if mid_block_type == MID:
            self.mid_block: nn.Module = VC2MidBlock(ch, temb, cfg)
        elif mid_block_type is None:
            self.mid_block = _IdentityMid()
        else:
            raise ValueError(f"unknown mid_block_type {mid_block_type!r}")
        skips = skip_channels(boc, layers)
        self.up_blocks = nn.ModuleList()
        for j in range(n):
            level = n - 1 - j
            in_chs = []
            for _ in range(layers[level] + 1):
                in_chs.append(ch + skips.pop())
                ch = boc[level]
            self.up_blocks.append(VC2UpBlock(in_chs, boc[level], up_block_types[j] == UP_ATTN,
                                             j < n - 1, temb, cfg))
        self.conv_norm_out = nn.GroupNorm(norm_num_groups, mc)
        self.conv_act = nn.SiLU()
        self.conv_out = nn.Conv2d(mc, out_channels, 3, padding=1)

    def _sinusoid(self, values: torch.Tensor | float, batch: int, device: torch.device,
                  dtype: torch.dtype) -> torch.Tensor:
        v = values if torch.is_tensor(values) else torch.tensor([float(values)])
        v = v.to(device).reshape(-1)
        if v.numel() == 1:
            v = v.expand(batch)
        return self.time_proj(v).to(dtype)

    def encode(self, sample: torch.Tensor, timestep: torch.Tensor | float,
               encoder_hidden_states: torch.Tensor, fps: torch.Tensor | float = 16,
               timestep_cond: torch.Tensor | None = None,
               motion_cond: torch.Tensor | None = None) -> VC2Encoding:
        """The encoder half of :meth:`forward` (which calls it): embeddings, ``conv_in``,
        ``transformer_in`` and the down blocks. Arguments as :meth:`forward`'s;
        ``sample`` (B, C, F, H, W). See :class:`VC2Encoding` for what it returns."""
        b, _, f = sample.shape[:3]
        dtype = self.conv_in.weight.dtype
        t_emb = self._sinusoid(timestep, b, sample.device, dtype)
        if timestep_cond is not None:
            if self.time_cond_proj is None:
                raise ValueError("timestep_cond given but the config has no time_cond_proj_dim")
            cond = self.time_cond_proj(timestep_cond.to(dtype))
            if motion_cond is not None:
                if self.motion_cond_proj is None or self.combine_proj is None:
                    raise ValueError("motion_cond given but the config has no "
                                     "motion_cond_proj_dim")
                cond = self.combine_proj(torch.cat(
                    [cond, self.motion_cond_proj(motion_cond.to(dtype))], dim=1))
            t_emb = t_emb + cond
        emb = self.time_embedding(t_emb)
        if self.fps_embedding is not None:
            emb = emb + self.fps_embedding(self._sinusoid(fps, b, sample.device, dtype))
        emb = emb.repeat_interleave(f, dim=0)
        context = encoder_hidden_states.to(dtype).repeat_interleave(f, dim=0)
        x = _from_5d(sample.to(dtype))
        x = self.conv_in(x)
        if self.transformer_in is not None:
            x = self.transformer_in(x, f)
        skips = [x]
        down_outputs = []
        for block in self.down_blocks:
            x, pushed = block(x, emb, context, f)
            skips += pushed
            down_outputs.append(x)
        return VC2Encoding(down_outputs, skips, emb, context, f)

    def forward(self, sample: torch.Tensor, timestep: torch.Tensor | float,
                encoder_hidden_states: torch.Tensor, fps: torch.Tensor | float = 16,
                timestep_cond: torch.Tensor | None = None,
                motion_cond: torch.Tensor | None = None,
                return_dict: bool = True) -> VideoCrafter2UNetOutput | tuple[torch.Tensor]:
        """``timestep_cond``/``motion_cond``: ``(B, time_cond_proj_dim)`` guidance embeddings
        (T2V-Turbo), added to the timestep's sinusoid before ``time_embedding``. The encoder half
        is :meth:`encode`; then the mid block, the up blocks and the output convolution."""
        enc = self.encode(sample, timestep, encoder_hidden_states, fps, timestep_cond,
                          motion_cond)
        f, emb, context, skips = enc.num_frames, enc.emb, enc.context, enc.skips
        x = self.mid_block(enc.down_outputs[-1], emb, context, f)
        for block in self.up_blocks:
            x = block(x, skips, emb, context, f)
        x = self.conv_out(self.conv_act(self.conv_norm_out(x)))
        out = _to_5d(x, f).to(sample.dtype)
        if not return_dict:
            return (out,)
        return VideoCrafter2UNetOutput(sample=out)
