"""Shared helpers: is Triton usable for these tensors, the kernels' error type."""

from __future__ import annotations

from types import ModuleType

import torch

from vdmbench.errors import VdmbenchError


class KernelInputError(VdmbenchError, ValueError):
    """Arguments to a kernel entry point are inconsistent (shapes, groups, activation name)."""


_UNSET = object()
_module: object = _UNSET


def triton_module() -> ModuleType | None:
    """The module holding the Triton kernels, or None when Triton cannot be imported."""
    global _module
    if _module is _UNSET:
        try:
            import compression.kernels._triton as _triton
        except Exception:  # noqa: BLE001 - any import failure (no triton, no driver): absent
            _module = None
        else:
            _module = _triton
    return _module  # type: ignore[return-value]


def triton_usable(*tensors: torch.Tensor) -> bool:
    """True when the Triton kernels can run on these tensors.

    CUDA tensors need compiled Triton; CPU tensors need the interpreter
    (``TRITON_INTERPRET=1`` set before :mod:`compression.kernels` first imported Triton).
    bfloat16 never runs under the interpreter (numpy has no bfloat16).
    """
    mod = triton_module()
    if mod is None:
        return False
    for t in tensors:
        if t.device.type == "cuda":
            continue
        if t.device.type == "cpu" and mod.INTERPRETED and t.dtype != torch.bfloat16:
            continue
        return False
    return True


def needs_autograd(*tensors: torch.Tensor) -> bool:
    """True when autograd would record an op on these tensors (the kernels have no backward)."""
    return torch.is_grad_enabled() and any(t.requires_grad for t in tensors)


def next_pow2(x: int) -> int:
    """Smallest power of two ≥ ``x`` (1 for x ≤ 1)."""
    return 1 if x <= 1 else 1 << (x - 1).bit_length()


def is_compiling() -> bool:
    """True while torch.compile (dynamo) traces the caller."""
    compiler = getattr(torch, "compiler", None)
    return bool(compiler is not None and compiler.is_compiling())
