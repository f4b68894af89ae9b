"""diffusers attention processors: Triton temporal self-attention, exact 1-token cross-attention.

Both wrap the processor they replace (``original``) and hand every call outside their domain to it
unchanged, so installing them never changes what an unsupported call computes. They are meant to
replace diffusers' ``AttnProcessor2_0`` / ``AttnProcessor`` (plain softmax attention).
"""

from __future__ import annotations

from typing import Any

import torch

from compression.kernels.attention import MAX_LEN, temporal_attention


def _plain_attention_layer(attn: Any) -> bool:
    """True when the layer has none of the optional pieces the fast paths do not implement."""
    return (
        getattr(attn, "spatial_norm", None) is None
        and getattr(attn, "group_norm", None) is None
        and getattr(attn, "norm_q", None) is None
        and getattr(attn, "norm_k", None) is None
    )


def _active_dropout(attn: Any) -> bool:
    """True when the output dropout would drop elements (training with p > 0)."""
    drop = attn.to_out[1]
    return bool(drop.training and getattr(drop, "p", 0.0) > 0.0)


def _finish(attn: Any, out: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
    """Output projection, dropout, residual and rescale, as diffusers' processors do them."""
    out = attn.to_out[0](out)
    out = attn.to_out[1](out)
    if attn.residual_connection:
        out = out + residual
    if attn.rescale_output_factor != 1.0:  # x / 1.0 == x exactly: skip the extra pass
        out = out / attn.rescale_output_factor
    return out


class TritonTemporalAttnProcessor:
    """Self-attention over ≤ 64 frames with :func:`compression.kernels.temporal_attention`.

    Handles ``hidden_states`` of shape (N, F, C) (N = batch·height·width, F = frames) with no
    encoder states and no mask; Q, K, V stay in the strided (N, heads, F, D) views diffusers makes
    and the kernel writes the (N, F, heads·D) layout ``to_out`` reads. Anything else goes to
    ``original``.
    """

    def __init__(self, original: Any) -> None:
        self.original = original

    def __call__(self, attn: Any, hidden_states: torch.Tensor,
                 encoder_hidden_states: torch.Tensor | None = None,
                 attention_mask: torch.Tensor | None = None, temb: torch.Tensor | None = None,
                 *args: Any, **kwargs: Any) -> torch.Tensor:
        if (encoder_hidden_states is not None or attention_mask is not None or args
                or kwargs.get("scale") is not None or hidden_states.dim() != 3
                or hidden_states.shape[1] > MAX_LEN or not _plain_attention_layer(attn)):
            return self.original(attn, hidden_states, encoder_hidden_states, attention_mask, temb,
                                 *args, **kwargs)
        residual = hidden_states
        n, length, _ = hidden_states.shape
        query = attn.to_q(hidden_states)
        key = attn.to_k(hidden_states)
        value = attn.to_v(hidden_states)
        head_dim = key.shape[-1] // attn.heads
        q = query.view(n, length, attn.heads, head_dim).transpose(1, 2)
        k = key.view(n, length, attn.heads, head_dim).transpose(1, 2)
        v = value.view(n, length, attn.heads, head_dim).transpose(1, 2)
        # AttnProcessor2_0 leaves the scale to SDPA's default 1/sqrt(D); so do we.
        out = temporal_attention(q, k, v)
        out = out.transpose(1, 2).reshape(n, length, attn.heads * head_dim).to(query.dtype)
        return _finish(attn, out, residual)


class OneTokenCrossAttnProcessor:
    """Cross-attention to a single context token, computed without Q, K or the softmax.

    With one key, softmax over one finite score is exactly 1.0 and ``1.0 · v`` is exactly ``v``,
    so every query's attention output is exactly that token's value vector ``to_v(context)``.

    Args:
        original: the processor to call outside the domain (mask, several context tokens,
            self-attention, spatial/group norm, active dropout).
        project_once: ``False`` (default, bit-identical on every device): the value row is
            broadcast to the (B, S, C) layout the original hands ``to_out``, and ``to_out`` runs
            on it, so the output projection sees the very same GEMM. ``True``: ``to_out`` runs
            once per batch element on (B, 1, C) and the result is broadcast (``expand``, no copy);
            equal up to the GEMM's summation order for M = 1 versus M = S (measured bit-identical
            on an H100 at SVD's shapes, not on CPU).
    """

    def __init__(self, original: Any, project_once: bool = False) -> None:
        self.original = original
        self.project_once = project_once

    def __call__(self, attn: Any, hidden_states: torch.Tensor,
                 encoder_hidden_states: torch.Tensor | None = None,
                 attention_mask: torch.Tensor | None = None, temb: torch.Tensor | None = None,
                 *args: Any, **kwargs: Any) -> torch.Tensor:
        if (encoder_hidden_states is None or attention_mask is not None or args
                or kwargs.get("scale") is not None or encoder_hidden_states.dim() != 3
                or encoder_hidden_states.shape[1] != 1 or hidden_states.dim() != 3
                or encoder_hidden_states.shape[0] != hidden_states.shape[0]
                or getattr(attn, "spatial_norm", None) is not None
                or getattr(attn, "group_norm", None) is not None or _active_dropout(attn)):
            return self.original(attn, hidden_states, encoder_hidden_states, attention_mask, temb,
                                 *args, **kwargs)
        residual = hidden_states
        batch, length, _ = hidden_states.shape
        context = encoder_hidden_states
        if attn.norm_cross:
            context = attn.norm_encoder_hidden_states(context)
        value = attn.to_v(context)  # (B, 1, heads·D): the attention output of every query
        if self.project_once:
            out = attn.to_out[1](attn.to_out[0](value))
            out = out.expand(batch, length, out.shape[-1])
        else:
            out = value.expand(batch, length, value.shape[-1]).contiguous()
            out = attn.to_out[1](attn.to_out[0](out))
        if attn.residual_connection:
            out = out + residual
        if attn.rescale_output_factor != 1.0:  # x / 1.0 == x exactly: skip the extra pass
            out = out / attn.rescale_output_factor
        return out
