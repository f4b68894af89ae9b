"""group_norm_silu against a float64 reference (Triton interpreter on CPU)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from compression.kernels import FusedGroupNorm, KernelInputError, group_norm_silu
from compression.kernels.group_norm import in_domain, launch, output_memory_format

# |y - ref| <= TOL * (1 + |ref|) elementwise: fp16 output rounding is 2**-11 relative.
TOL = {torch.float32: 1e-5, torch.float16: 1e-3}


def max_err(y, ref):
    return ((y.double() - ref).abs() / (1 + ref.abs())).max().item()


def reference(x, groups, w, b, eps, activation):
    y = F.group_norm(x.double(), groups, None if w is None else w.double(),
                     None if b is None else b.double(), eps)
    return F.silu(y) if activation == "silu" else y


def make(shape, layout, dtype, seed):
    g = torch.Generator().manual_seed(seed)
    x = (torch.randn(shape, generator=g) * 3 + 1.5).to(dtype)  # offset mean: tests the stats
    if layout == "channels_last":
        fmt = torch.channels_last if x.dim() == 4 else torch.channels_last_3d
        x = x.contiguous(memory_format=fmt)
    elif layout == "svd_permuted":  # (B·F, C, H, W) -> (B, C, F, H, W) as SpatioTemporalResBlock
        b, c, t, h, w = shape
        x = x.permute(0, 2, 1, 3, 4).contiguous().permute(0, 2, 1, 3, 4)
    w = torch.randn(shape[1], generator=g)
    b = torch.randn(shape[1], generator=g)
    return x, w, b


CASES = [
    ((2, 64, 5, 7), "contiguous"),
    ((2, 64, 5, 7), "channels_last"),
    ((1, 64, 3, 4, 5), "contiguous"),
    ((1, 64, 3, 4, 5), "channels_last"),
    ((2, 64, 3, 4, 5), "svd_permuted"),
]


@pytest.mark.parametrize("activation", ["silu", None])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
@pytest.mark.parametrize("shape,layout", CASES)
def test_matches_float64(interpreter, shape, layout, dtype, activation):
    x, w, b = make(shape, layout, dtype, seed=len(shape) + len(layout))
    assert in_domain(x, 16, w, b)
    out = torch.empty(x.shape, dtype=dtype, memory_format=output_memory_format(x))
    out.fill_(float("nan"))  # unwritten elements would stay NaN
    y = launch(x, 16, w, b, 1e-6, activation == "silu", out=out)
    assert y is out and torch.isfinite(y).all()
    err = max_err(y, reference(x, 16, w, b, 1e-6, activation))
    assert err < TOL[dtype]


@pytest.mark.parametrize("split,block_p,block_g", [(3, 4, 1), (2, 16, 4), (4, 2, 2)])
def test_chunked_statistics(interpreter, split, block_p, block_g):
    """Several chunks per group, several tiles per chunk, partial group blocks (G=6 by 1/2/4)."""
    x, w, b = make((1, 12, 2, 3, 5), "svd_permuted", torch.float32, seed=11)
    y = launch(x, 6, w, b, 1e-5, True, split=split, block_p=block_p, block_g=block_g)
    err = max_err(y, reference(x, 6, w, b, 1e-5, "silu"))
    assert err < TOL[torch.float32]


def test_public_function_formats_and_no_affine(interpreter):
    x, _, _ = make((2, 32, 4, 6), "channels_last", torch.float32, seed=12)
    y = group_norm_silu(x, 8, eps=1e-5)
    assert y.is_contiguous(memory_format=torch.channels_last)
    ref = F.silu(F.group_norm(x, 8, eps=1e-5))
    torch.testing.assert_close(y, ref, rtol=1e-5, atol=1e-5)
    x3 = torch.randn(2, 16, 9).transpose(1, 2).contiguous().transpose(1, 2)  # attention's (B, C, L)
    y3 = group_norm_silu(x3, 4, activation=None)
    torch.testing.assert_close(y3, F.group_norm(x3, 4), rtol=1e-5, atol=1e-5)


def test_fused_module_shares_parameters(interpreter):
    norm = nn.GroupNorm(8, 32, eps=1e-6)
    nn.init.normal_(norm.weight)
    nn.init.normal_(norm.bias)
    fused = FusedGroupNorm.from_group_norm(norm, "silu")
    assert fused.weight is norm.weight and fused.bias is norm.bias
    assert list(fused.state_dict()) == list(norm.state_dict())
    x = torch.randn(3, 32, 4, 4)
    torch.testing.assert_close(fused(x), F.silu(norm(x)), rtol=1e-5, atol=1e-5)


def test_fallbacks(interpreter):
    x = torch.randn(2, 32, 4, 4, dtype=torch.bfloat16)
    assert not in_domain(x, 8, None, None)
    assert torch.equal(group_norm_silu(x, 8), F.silu(F.group_norm(x, 8)))
    x = torch.randn(2, 32, 4, 4, requires_grad=True)
    group_norm_silu(x, 8).sum().backward()  # autograd: PyTorch path
    assert x.grad is not None


def test_bad_arguments_raise():
    x = torch.randn(2, 30, 4, 4)
    with pytest.raises(KernelInputError, match="30 channels"):
        group_norm_silu(x, 8)
    with pytest.raises(KernelInputError, match="activation"):
        group_norm_silu(x, 6, activation="gelu")
    with pytest.raises(KernelInputError, match="weight"):
        group_norm_silu(x, 6, weight=torch.ones(29))
