"""GroupNorm with fp32 statistics, optionally fused with SiLU: ``group_norm_silu``.

Works on (N, C), (N, C, L), (N, C, H, W) and (N, C, T, H, W) tensors, contiguous, channels-last,
or strided views such as SVD's ``reshape(B, F, C, H, W).permute(0, 2, 1, 3, 4)``. The output has
the memory format PyTorch's GroupNorm would give (channels-last in, channels-last out; otherwise
contiguous), so the convolution that follows sees the layout it sees in eager mode.

Also the drop-in modules that :func:`compression.kernels.fast_kernels` swaps into models:
:class:`FusedGroupNorm` (an ``nn.GroupNorm`` with the same parameters and the SiLU folded in),
:class:`SiLULinear` (an ``nn.Linear`` that applies SiLU to its input first) and
:class:`FusedActivation` (the identity left where the SiLU used to be).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from compression.kernels._common import (
    KernelInputError,
    is_compiling,
    needs_autograd,
    next_pow2,
    triton_module,
    triton_usable,
)

ACTIVATIONS = ("silu", None)
MAX_CHANNELS_PER_GROUP = 4096
_DTYPES = (torch.float16, torch.bfloat16, torch.float32)
_TILE = 4096  # elements per (channels × positions) tile


def _collapse(sizes: list[int], strides: list[int]) -> tuple[int, int] | None:
    """(numel, stride) if these dims address memory like one strided dim, else None."""
    dims = [(s, st) for s, st in zip(sizes, strides) if s != 1]
    if not dims:
        return math.prod(sizes), 1
    for (_, st_outer), (s_inner, st_inner) in zip(dims[:-1], dims[1:]):
        if st_outer != s_inner * st_inner:
            return None
    return math.prod(sizes), dims[-1][1]


def ncts_view(x: torch.Tensor, split_first: bool | None = None
              ) -> tuple[tuple[int, int, int, int], tuple[int, int, int, int]] | None:
    """Sizes and strides of ``x`` seen as (N, C, T, S) without copying, or None if impossible.

    With ``split_first=None`` all dims after C collapse into S when they can (T = 1), otherwise
    the first spatial dim becomes T and the others collapse into S. ``True``/``False`` force one
    of the two decompositions (used to give the output the same (T, S) split as the input).
    """
    n, c, *sp = x.shape
    sn, sc, *ssp = x.stride()
    if split_first is not True:
        whole = _collapse(sp, ssp)
        if whole is not None:
            return (n, c, 1, whole[0]), (sn, sc, 0, whole[1])
    if split_first is not False and len(sp) >= 2:
        rest = _collapse(sp[1:], ssp[1:])
        if rest is not None:
            return (n, c, sp[0], rest[0]), (sn, sc, ssp[0], rest[1])
    return None


def output_memory_format(x: torch.Tensor) -> torch.memory_format:
    """The memory format PyTorch's GroupNorm output has for this input."""
    if x.is_contiguous():
        return torch.contiguous_format
    if x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last):
        return torch.channels_last
    if x.dim() == 5 and x.is_contiguous(memory_format=torch.channels_last_3d):
        return torch.channels_last_3d
    return torch.contiguous_format


def _check_args(x: torch.Tensor, num_groups: int, weight: torch.Tensor | None,
                bias: torch.Tensor | None, activation: str | None) -> None:
    if activation not in ACTIVATIONS:
        raise KernelInputError(
            f"group_norm_silu: activation must be 'silu' or None, got {activation!r}")
    if x.dim() < 2:
        raise KernelInputError(
            f"group_norm_silu: expected (N, C, ...) input, got shape {tuple(x.shape)}")
    c = x.shape[1]
    if num_groups <= 0 or c % num_groups:
        raise KernelInputError(
            f"group_norm_silu: {c} channels are not divisible into {num_groups} groups")
    for name, p in (("weight", weight), ("bias", bias)):
        if p is not None and tuple(p.shape) != (c,):
            raise KernelInputError(
                f"group_norm_silu: {name} must have shape ({c},), got {tuple(p.shape)}")


def in_domain(x: torch.Tensor, num_groups: int, weight: torch.Tensor | None,
              bias: torch.Tensor | None) -> bool:
    """True when the Triton kernels can compute this call."""
    if x.dtype not in _DTYPES or x.numel() == 0:
        return False
    if x.shape[1] // num_groups > MAX_CHANNELS_PER_GROUP:
        return False
    params = [p for p in (weight, bias) if p is not None]
    if any(p.device != x.device or p.dtype not in _DTYPES for p in params):
        return False
    if needs_autograd(x, *params):
        return False
    return triton_usable(x, *params)


def _pick_split(programs: int, positions: int, block_p: int, device: torch.device,
                interpreted: bool) -> int:
    """How many chunks each (sample, group) is cut into: enough programs to fill the GPU."""
    if interpreted or device.type != "cuda":
        return 1
    sms = torch.cuda.get_device_properties(device).multi_processor_count
    want = -(-4 * sms // programs)
    return max(1, min(want, -(-positions // block_p), 1024))


def launch(x: torch.Tensor, num_groups: int, weight: torch.Tensor | None,
           bias: torch.Tensor | None, eps: float, silu: bool, split: int | None = None,
           block_p: int | None = None, block_g: int | None = None,
           out: torch.Tensor | None = None) -> torch.Tensor:
    """Run the two Triton passes and return the result. The caller has checked :func:`in_domain`.

    ``out`` (x's shape and dtype, any strides) receives the result instead of a new tensor.

    ``split`` (chunks per group), ``block_p`` (positions per tile) and ``block_g`` (groups per
    program, a power of two) override the heuristics. Under the interpreter one program takes
    all groups of a sample (the interpreter's cost is per program).
    """
    mod = triton_module()
    if mod is None:
        raise RuntimeError("Triton is not importable; call in_domain() first")
    view = ncts_view(x)
    if view is None:
        x = x.contiguous()
        view = ncts_view(x)
        assert view is not None  # a contiguous tensor always collapses
    (n, c, t, s), sx = view
    if out is None:
        y = torch.empty(x.shape, dtype=x.dtype, device=x.device,
                        memory_format=output_memory_format(x))
    else:
        y = out
    vy = ncts_view(y, split_first=t != 1)
    if vy is None or vy[0] != view[0]:
        raise KernelInputError(f"group_norm_silu: out of shape {tuple(y.shape)} and strides "
                               f"{y.stride()} cannot be addressed like the input")
    sy = vy[1]
    g = num_groups
    cpg = c // g
    p_total = t * s
    block_c = next_pow2(cpg)
    if block_g is None:
        if mod.INTERPRETED:
            block_g = next_pow2(g)
        else:  # several small groups per program when one group is smaller than a tile
            block_g = max(1, min(next_pow2(g), _TILE // (block_c * next_pow2(p_total))))
    if block_p is None:
        block_p = max(1, min(next_pow2(p_total), _TILE // (block_c * block_g)))
    group_blocks = -(-g // block_g)
    if split is None:
        split = _pick_split(n * group_blocks, p_total, block_p, x.device, mod.INTERPRETED)
    per_chunk = -(-p_total // split)
    chunk = -(-per_chunk // block_p) * block_p
    split = -(-p_total // chunk)
    parts = torch.empty(n * g * split * 3, dtype=torch.float32, device=x.device)
    warps = 8 if block_g * block_c * block_p >= 4096 else 4
    grid = (n * group_blocks, split)
    mod._gn_stats_kernel[grid](
        x, parts, g, cpg, s, p_total, chunk, split, group_blocks, *sx,
        BLOCK_G=block_g, BLOCK_C=block_c, BLOCK_P=block_p, num_warps=warps,
    )
    dummy = parts  # never read when HAS_WEIGHT / HAS_BIAS is False
    mod._gn_apply_kernel[grid](
        x, y, weight if weight is not None else dummy, bias if bias is not None else dummy, parts,
        g, cpg, s, p_total, chunk, split, group_blocks, float(eps), *sx, *sy,
        HAS_WEIGHT=weight is not None, HAS_BIAS=bias is not None, SILU=silu,
        BLOCK_G=block_g, BLOCK_C=block_c, BLOCK_P=block_p, BLOCK_SPLIT=next_pow2(split),
        num_warps=warps,
    )
    return y


_op = None
if hasattr(torch, "library") and hasattr(torch.library, "custom_op"):

    @torch.library.custom_op("vdmbench_kernels::group_norm_silu", mutates_args=())
    def _group_norm_op(x: torch.Tensor, num_groups: int, weight: torch.Tensor | None,
                       bias: torch.Tensor | None, eps: float, silu: bool) -> torch.Tensor:
        return launch(x, num_groups, weight, bias, eps, silu)

    @_group_norm_op.register_fake
    def _(x: torch.Tensor, num_groups: int, weight: torch.Tensor | None,
          bias: torch.Tensor | None, eps: float, silu: bool) -> torch.Tensor:
        return torch.empty(x.shape, dtype=x.dtype, device=x.device,
                           memory_format=output_memory_format(x))

    _op = _group_norm_op


def reference(x: torch.Tensor, num_groups: int, weight: torch.Tensor | None = None,
              bias: torch.Tensor | None = None, eps: float = 1e-5,
              activation: str | None = "silu") -> torch.Tensor:
    """The PyTorch computation the kernels replace (also the fallback)."""
    y = F.group_norm(x, num_groups, weight, bias, eps)
    return F.silu(y) if activation == "silu" else y


def group_norm_silu(x: torch.Tensor, num_groups: int, weight: torch.Tensor | None = None,
                    bias: torch.Tensor | None = None, eps: float = 1e-5,
                    activation: str | None = "silu") -> torch.Tensor:
    """``silu(group_norm(x))`` (or plain GroupNorm with ``activation=None``) in two Triton passes.

    Args:
        x: (N, C, *spatial) tensor, fp16 / bf16 / fp32, contiguous, channels-last or strided.
        num_groups: groups G; C must be divisible by G.
        weight, bias: optional (C,) affine parameters (any float dtype; used in fp32).
        eps: added to the variance, as in ``nn.GroupNorm``.
        activation: ``"silu"`` or ``None``.

    Returns:
        Tensor of ``x``'s shape and dtype in PyTorch GroupNorm's output memory format.
        Mean and variance of each (sample, group) are computed in fp32 (chunk-wise Welford
        merged with Chan's formula); normalisation, affine and SiLU are fp32, rounded once.

    Falls back to ``F.group_norm`` (+ ``F.silu``) without Triton, on CPU without the interpreter,
    for bf16 under the interpreter, when autograd records, or with > 4096 channels per group.

    Raises:
        KernelInputError: bad activation name, C not divisible by G, wrong parameter shape.
    """
    _check_args(x, num_groups, weight, bias, activation)
    if not in_domain(x, num_groups, weight, bias):
        return reference(x, num_groups, weight, bias, eps, activation)
    silu = activation == "silu"
    if _op is not None and is_compiling():
        return _op(x, num_groups, weight, bias, float(eps), silu)
    return launch(x, num_groups, weight, bias, eps, silu)


class FusedGroupNorm(nn.GroupNorm):
    """``nn.GroupNorm`` computed by :func:`group_norm_silu`, with SiLU folded in when
    ``activation == "silu"``. Same parameters and state-dict keys as the module it replaces."""

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5, affine: bool = True,
                 activation: str | None = "silu", device=None, dtype=None) -> None:
        if activation not in ACTIVATIONS:
            raise KernelInputError(
                f"FusedGroupNorm: activation must be 'silu' or None, got {activation!r}")
        super().__init__(num_groups, num_channels, eps, affine, device=device, dtype=dtype)
        self.activation = activation

    @classmethod
    def from_group_norm(cls, norm: nn.GroupNorm, activation: str | None) -> FusedGroupNorm:
        """A FusedGroupNorm sharing ``norm``'s parameter objects (no copy, no allocation)."""
        new = cls(norm.num_groups, norm.num_channels, norm.eps, affine=False, activation=activation)
        new.affine = norm.affine
        new.weight = norm.weight
        new.bias = norm.bias
        new.train(norm.training)
        return new

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return group_norm_silu(x, self.num_groups, self.weight, self.bias, self.eps,
                               self.activation)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, activation={self.activation}"


class SiLULinear(nn.Linear):
    """``linear(silu(x))``: the time-embedding projection of a resnet block whose shared SiLU
    was folded into its GroupNorms. Same parameters and state-dict keys as the Linear."""

    @classmethod
    def from_linear(cls, linear: nn.Linear) -> SiLULinear:
        """A SiLULinear sharing ``linear``'s parameter objects."""
        new = cls.__new__(cls)
        nn.Module.__init__(new)
        new.in_features, new.out_features = linear.in_features, linear.out_features
        new.weight = linear.weight
        new.bias = linear.bias
        new.train(linear.training)
        return new

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(F.silu(x), self.weight, self.bias)


class FusedActivation(nn.Identity):
    """Stands where a SiLU was once its work moved into the preceding :class:`FusedGroupNorm`."""
