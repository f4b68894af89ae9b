"""temporal_attention against a float64 reference (Triton interpreter on CPU)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from compression.kernels import temporal_attention
from compression.kernels.attention import AttentionConfig, empty_output, in_domain, launch

# Relative error bound (max abs error / max abs reference) per dtype.
TOL = {torch.float32: 2e-6, torch.float16: 2e-3}
# (N, heads, head dim) cycled over the frame counts: N·heads is never a multiple of 16.
SHAPES = [(7, 3, 40), (5, 5, 64), (3, 2, 80), (9, 1, 64), (4, 3, 40), (6, 2, 80), (5, 3, 64)]
FRAMES = [1, 2, 7, 14, 16, 25, 33]


def diffusers_qkv(n: int, heads: int, frames: int, d: int, dtype: torch.dtype, seed: int = 0,
                  frames_k: int | None = None):
    """q, k, v as diffusers makes them: Linear outputs viewed (N, F, heads, D).transpose(1, 2)."""
    g = torch.Generator().manual_seed(seed)
    frames_k = frames if frames_k is None else frames_k
    q = torch.randn(n, frames, heads * d, generator=g).to(dtype)
    kv = torch.randn(n, frames_k, 2 * heads * d, generator=g).to(dtype)
    k, v = kv.chunk(2, dim=-1)  # strided, non-contiguous projections
    return tuple(t.reshape(n, t.shape[1], heads, d).transpose(1, 2) for t in (q, k, v))


def reference(q, k, v, scale=None):
    q, k, v = (t.double() for t in (q, k, v))
    scale = 1 / math.sqrt(q.shape[-1]) if scale is None else scale
    return torch.softmax(q @ k.transpose(-1, -2) * scale, dim=-1) @ v


def rel_err(out, ref):
    return ((out.double() - ref).abs().max() / ref.abs().max()).item()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
@pytest.mark.parametrize("frames", FRAMES)
def test_kernel_matches_float64(interpreter, frames, dtype):
    n, heads, d = SHAPES[FRAMES.index(frames)]
    q, k, v = diffusers_qkv(n, heads, frames, d, dtype, seed=frames)
    assert 1 in (frames, heads) or not (q.is_contiguous() or k.is_contiguous())
    assert in_domain(q, k, v)
    out = empty_output(q).fill_(float("nan"))  # unwritten elements would stay NaN
    launch(q, k, v, out, 1 / math.sqrt(d))
    assert torch.isfinite(out).all()
    assert out.dtype == dtype
    assert rel_err(out, reference(q, k, v)) < TOL[dtype]


@pytest.mark.parametrize("variant,block_n", [("fma", 4), ("dot", 2), ("fma", 16)])
def test_variants_and_block_sizes(interpreter, variant, block_n):
    q, k, v = diffusers_qkv(11, 3, 14, 64, torch.float32, seed=3)
    out = empty_output(q).fill_(float("nan"))
    launch(q, k, v, out, 0.125, AttentionConfig(block_n=block_n, num_warps=4, variant=variant))
    assert rel_err(out, reference(q, k, v, 0.125)) < TOL[torch.float32]


def test_public_function_layout_scale_and_cross_lengths(interpreter):
    q, k, v = diffusers_qkv(6, 2, 5, 40, torch.float32, seed=4, frames_k=9)
    out = temporal_attention(q, k, v, scale=0.3)
    assert out.shape == (6, 2, 5, 40)
    assert out.transpose(1, 2).is_contiguous()  # (N, F, heads, D) buffer: free reshape after
    assert rel_err(out, reference(q, k, v, 0.3)) < TOL[torch.float32]
    sdpa = F.scaled_dot_product_attention(q, k, v, scale=0.3)
    torch.testing.assert_close(out, sdpa, rtol=1e-5, atol=1e-5)


def test_out_of_domain_falls_back_to_sdpa(interpreter):
    q, k, v = diffusers_qkv(2, 2, 65, 16, torch.float32, seed=5)  # 65 frames > 64
    assert not in_domain(q, k, v)
    out = temporal_attention(q, k, v)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v))
    q, k, v = diffusers_qkv(2, 2, 14, 16, torch.bfloat16, seed=6)  # no bf16 in the interpreter
    assert not in_domain(q, k, v)
    assert torch.equal(temporal_attention(q, k, v), F.scaled_dot_product_attention(q, k, v))


def test_autograd_falls_back_and_differentiates(interpreter):
    q, k, v = diffusers_qkv(3, 2, 7, 16, torch.float32, seed=7)
    q = q.detach().requires_grad_()
    assert not in_domain(q, k, v)
    temporal_attention(q, k, v).sum().backward()
    assert q.grad is not None and torch.isfinite(q.grad).all()
    with torch.no_grad():
        assert in_domain(q, k, v)


def test_torch_compile_sees_custom_ops(interpreter):
    """Under torch.compile the kernels are opaque custom ops: one graph, same numbers."""
    from compression.kernels import group_norm_silu

    def f(q, k, v, x):
        return temporal_attention(q, k, v), group_norm_silu(x, 4)

    q, k, v = diffusers_qkv(4, 2, 7, 16, torch.float32, seed=8)
    x = torch.randn(2, 8, 3, 3)
    torch._dynamo.reset()
    compiled = torch.compile(f, backend="aot_eager", fullgraph=True)
    for got, want in zip(compiled(q, k, v, x), f(q, k, v, x)):
        torch.testing.assert_close(got, want, rtol=0, atol=0)
    torch._dynamo.reset()
