"""Triton kernels for video diffusion models, with PyTorch fallbacks.

* :func:`temporal_attention` — softmax attention over ≤ 64 frames, many sequences per program.
* :func:`group_norm_silu` — GroupNorm with fp32 statistics, optionally fused with SiLU.
* :func:`fast_kernels` — installs both, plus the exact 1-token cross-attention, into SVD's UNet
  and temporal VAE (context manager or permanent ``install()``).

See docs/kernels.md. Triton is optional: without it (or on CPU without ``TRITON_INTERPRET=1``)
every entry point computes the same thing with PyTorch.
"""

from compression.kernels._common import KernelInputError, triton_usable
from compression.kernels.attention import temporal_attention
from compression.kernels.group_norm import (
    FusedActivation,
    FusedGroupNorm,
    SiLULinear,
    group_norm_silu,
)
from compression.kernels.install import FastKernels, InstallSummary, fast_kernels
from compression.kernels.processors import OneTokenCrossAttnProcessor, TritonTemporalAttnProcessor

__all__ = [
    "FastKernels",
    "FusedActivation",
    "FusedGroupNorm",
    "InstallSummary",
    "KernelInputError",
    "OneTokenCrossAttnProcessor",
    "SiLULinear",
    "TritonTemporalAttnProcessor",
    "fast_kernels",
    "group_norm_silu",
    "temporal_attention",
    "triton_usable",
]
