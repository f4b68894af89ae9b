"""Short-sequence (temporal) attention: ``temporal_attention(q, k, v)``.

Same result as ``F.scaled_dot_product_attention(q, k, v, scale=scale)`` (no mask, no dropout,
not causal) for ``q`` of shape (N, heads, Lq, D) and ``k``, ``v`` of shape (N, heads, Lk, D) with
Lq, Lk ≤ 64 — the temporal self-attention of video UNets, where N = batch·height·width and
L = frames. Any strides are read in place (diffusers passes
``view(N, L, heads, D).transpose(1, 2)``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from compression.kernels._common import (
    is_compiling,
    needs_autograd,
    next_pow2,
    triton_module,
    triton_usable,
)

MAX_LEN = 64
"""Longest query/key sequence the kernel handles; longer ones go to SDPA."""
MAX_HEAD_DIM = 256
"""Largest head dimension the kernel handles."""
_DTYPES = (torch.float16, torch.bfloat16, torch.float32)
VARIANTS = ("dot", "fma")


@dataclass(frozen=True)
class AttentionConfig:
    """Launch parameters: sequences per program, warps, kernel variant ("dot" or "fma")."""

    block_n: int
    num_warps: int
    variant: str


def default_config(lq: int, lk: int, head_dim: int, dtype: torch.dtype,
                   interpreted: bool) -> AttentionConfig:
    """Heuristic launch parameters for one shape (tile of ≈8K elements per operand on GPU)."""
    block_q, block_d = max(16, next_pow2(lq)), max(16, next_pow2(head_dim))
    if interpreted:
        # The interpreter costs per program, not per element: few large programs.
        return AttentionConfig(block_n=16, num_warps=4, variant="dot")
    target = 8192 if dtype != torch.float32 else 4096
    block_n = max(1, min(64, target // (block_q * block_d)))
    return AttentionConfig(block_n=next_pow2(block_n), num_warps=4, variant="dot")


def in_domain(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> bool:
    """True when the Triton kernel can compute this call (shapes, dtypes, devices, autograd)."""
    if not (q.dim() == k.dim() == v.dim() == 4):
        return False
    n, h, lq, d = q.shape
    if k.shape != v.shape or k.shape[0] != n or k.shape[1] != h or k.shape[3] != d:
        return False
    lk = k.shape[2]
    if not (1 <= lq <= MAX_LEN and 1 <= lk <= MAX_LEN and 1 <= d <= MAX_HEAD_DIM):
        return False
    if n * h == 0:
        return False
    if q.dtype not in _DTYPES or k.dtype != q.dtype or v.dtype != q.dtype:
        return False
    if not (q.device == k.device == v.device):
        return False
    if needs_autograd(q, k, v):
        return False
    return triton_usable(q, k, v)


def launch(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, out: torch.Tensor, scale: float,
           config: AttentionConfig | None = None) -> torch.Tensor:
    """Run the kernel, writing ``out`` (N, heads, Lq, D), any strides; returns ``out``.

    The caller has checked :func:`in_domain`. ``config`` overrides :func:`default_config`.
    """
    mod = triton_module()
    if mod is None:
        raise RuntimeError("Triton is not importable; call in_domain() first")
    n, h, lq, d = q.shape
    lk = k.shape[2]
    if config is None:
        config = default_config(lq, lk, d, q.dtype, mod.INTERPRETED)
    if config.variant not in VARIANTS:
        raise ValueError(f"unknown attention kernel variant {config.variant!r}; use {VARIANTS}")
    total = n * h
    block_n = min(config.block_n, next_pow2(total))
    if config.variant == "dot":
        kernel = mod._attn_dot_kernel
        block_q, block_k = max(16, next_pow2(lq)), max(16, next_pow2(lk))
    else:
        kernel, block_q, block_k = mod._attn_fma_kernel, next_pow2(lq), next_pow2(lk)
    block_d = max(16, next_pow2(d))
    precision = "ieee" if q.dtype == torch.float32 else "tf32"
    grid = (triton_cdiv(total, block_n),)
    kernel[grid](
        q, k, v, out,
        total, h, lq, lk, d,
        *q.stride(), *k.stride(), *v.stride(), *out.stride(),
        scale * math.log2(math.e),
        BLOCK_N=block_n, BLOCK_Q=block_q, BLOCK_K=block_k, BLOCK_D=block_d,
        PRECISION=precision, num_warps=config.num_warps,
    )
    return out


def triton_cdiv(a: int, b: int) -> int:
    """Ceiling division."""
    return -(-a // b)


def empty_output(q: torch.Tensor) -> torch.Tensor:
    """Output (N, heads, Lq, D) stored as (N, Lq, heads, D), the layout diffusers reads next."""
    n, h, lq, d = q.shape
    return torch.empty((n, lq, h, d), dtype=q.dtype, device=q.device).transpose(1, 2)


def _run(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scale: float) -> torch.Tensor:
    return launch(q, k, v, empty_output(q), scale)


_op = None
if hasattr(torch, "library") and hasattr(torch.library, "custom_op"):

    @torch.library.custom_op("vdmbench_kernels::temporal_attention", mutates_args=())
    def _temporal_attention_op(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                               scale: float) -> torch.Tensor:
        return _run(q, k, v, scale)

    @_temporal_attention_op.register_fake
    def _(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scale: float) -> torch.Tensor:
        return empty_output(q)

    _op = _temporal_attention_op


def temporal_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                       scale: float | None = None) -> torch.Tensor:
    """Softmax attention over short sequences; equals ``F.scaled_dot_product_attention``.

    Args:
        q: (N, heads, Lq, D) queries, fp16 / bf16 / fp32, any strides.
        k, v: (N, heads, Lk, D) keys and values, same dtype and device.
        scale: score multiplier; ``None`` means ``1 / sqrt(D)`` as in SDPA.

    Returns:
        (N, heads, Lq, D) tensor of ``q.dtype``. From the kernel it is a transposed view of a
        contiguous (N, Lq, heads, D) buffer, so ``out.transpose(1, 2).reshape(N, Lq, heads * D)``
        costs nothing.

    The Triton kernel runs when Lq, Lk ≤ 64, D ≤ 256, no autograd is recorded and the tensors are
    on CUDA (or on CPU under ``TRITON_INTERPRET=1``, not bf16); everything else goes to SDPA.
    Scores, softmax and the accumulation are fp32; probabilities are rounded to the input dtype
    before the P·V product (as flash attention does).
    """
    if scale is None:
        scale = 1.0 / math.sqrt(q.shape[-1])
    if not in_domain(q, k, v):
        return F.scaled_dot_product_attention(q, k, v, scale=scale)
    if _op is not None and is_compiling():
        return _op(q, k, v, float(scale))
    return _run(q, k, v, float(scale))
