"""Inception-I3D (Carreira & Zisserman 2017) with the pytorch-i3d / VideoGPT state-dict layout.

The module tree reproduces the key names and shapes of ``i3d_pretrained_400.pt`` (VideoGPT, TATS,
cd-fvd) and pytorch-i3d checkpoints: ``Conv3d_1a_7x7.conv3d.weight`` (64, 3, 7, 7, 7),
``Mixed_3b.b1b.conv3d.weight``, ``<unit>.bn.{weight,bias,running_mean,running_var}``,
``logits.conv3d.{weight,bias}`` (400, 1024, 1, 1, 1) — 287 tensors without
``num_batches_tracked`` (344 with), 12,697,264 learnable parameters.

Behaviour that matters for matching numbers:

- every convolution and max-pool pads "same" at run time, TensorFlow style: along an axis of size
  ``s`` with kernel ``k`` and stride ``t`` the total padding is ``max(k − t, 0)`` if ``s % t == 0``
  else ``max(k − s % t, 0)``, the smaller half in front; max-pools pad with zeros (their inputs are
  ReLU outputs, so this equals −inf padding);
- BatchNorm eps belongs to the checkpoint family (1e-3 pytorch-i3d, 1e-5 VideoGPT/cd-fvd) and must
  be chosen explicitly;
- the head is AvgPool3d kernel (2, 7, 7) stride 1 without padding, dropout (identity in eval), a
  1×1×1 convolution with bias, then the logits are averaged over the remaining time steps.

Input: float ``(B, 3, T, H, W)`` in [−1, 1]; ``H, W ≥ 193`` and ``T ≥ 9`` (224 × 224 × 16 is the
protocol size). Output: ``(B, num_classes)`` logits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from vdmbench.errors import ConfigError, DataError, InvalidVideoError

Family = Literal["pytorch_i3d", "videogpt"]
BN_EPS: dict[str, float] = {"pytorch_i3d": 1e-3, "videogpt": 1e-5}
#: (in_channels, [b0, b1a, b1b, b2a, b2b, b3b]) of each Inception block, in network order
INCEPTION_CONFIG: dict[str, tuple[int, tuple[int, int, int, int, int, int]]] = {
    "Mixed_3b": (192, (64, 96, 128, 16, 32, 32)),
    "Mixed_3c": (256, (128, 128, 192, 32, 96, 64)),
    "Mixed_4b": (480, (192, 96, 208, 16, 48, 64)),
    "Mixed_4c": (512, (160, 112, 224, 24, 64, 64)),
    "Mixed_4d": (512, (128, 128, 256, 24, 64, 64)),
    "Mixed_4e": (512, (112, 144, 288, 32, 64, 64)),
    "Mixed_4f": (528, (256, 160, 320, 32, 128, 128)),
    "Mixed_5b": (832, (256, 160, 320, 32, 128, 128)),
    "Mixed_5c": (832, (384, 192, 384, 48, 128, 128)),
}
NUM_TENSORS = 287
NUM_PARAMS = 12_697_264


def _same_padding(sizes: Sequence[int], kernel: Sequence[int], stride: Sequence[int]
                  ) -> tuple[int, ...]:
    """F.pad tuple (w_front, w_back, h_front, h_back, t_front, t_back) for TF "same"."""
    pads: list[int] = []
    for s, k, st in zip(sizes, kernel, stride):
        total = max(k - st, 0) if s % st == 0 else max(k - s % st, 0)
        pads.append(total)
    out: list[int] = []
    for total in reversed(pads):
        out += [total // 2, total - total // 2]
    return tuple(out)


class SamePadMaxPool3d(nn.Module):
    """Max-pool with TF "same" zero padding computed from the input size."""

    def __init__(self, kernel: tuple[int, int, int], stride: tuple[int, int, int]) -> None:
        super().__init__()
        self.kernel, self.stride = kernel, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pad(x, _same_padding(x.shape[2:], self.kernel, self.stride))
        return F.max_pool3d(x, self.kernel, self.stride)


class Unit3D(nn.Module):
    """Conv3d (no bias) + BatchNorm3d + ReLU with "same" padding; or, for the logits, a conv with
    bias and nothing after it. Submodule names ``conv3d`` and ``bn`` are the checkpoint's."""

    def __init__(self, cin: int, cout: int, kernel: tuple[int, int, int] = (1, 1, 1),
                 stride: tuple[int, int, int] = (1, 1, 1), bn_eps: float | None = 1e-3,
                 relu: bool = True, bias: bool = False) -> None:
        super().__init__()
        self.kernel, self.stride, self.relu = kernel, stride, relu
        self.conv3d = nn.Conv3d(cin, cout, kernel, stride=stride, padding=0, bias=bias)
        self.bn = nn.BatchNorm3d(cout, eps=bn_eps) if bn_eps is not None else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv3d(F.pad(x, _same_padding(x.shape[2:], self.kernel, self.stride)))
        if self.bn is not None:
            x = self.bn(x)
        return F.relu(x) if self.relu else x


class InceptionBlock(nn.Module):
    """Four branches concatenated on channels: 1×1; 1×1→3×3; 1×1→3×3; 3×3 max-pool→1×1."""

    def __init__(self, cin: int, ch: Sequence[int], bn_eps: float) -> None:
        super().__init__()
        k1, k3 = (1, 1, 1), (3, 3, 3)
        self.b0 = Unit3D(cin, ch[0], k1, bn_eps=bn_eps)
        self.b1a = Unit3D(cin, ch[1], k1, bn_eps=bn_eps)
        self.b1b = Unit3D(ch[1], ch[2], k3, bn_eps=bn_eps)
        self.b2a = Unit3D(cin, ch[3], k1, bn_eps=bn_eps)
        self.b2b = Unit3D(ch[3], ch[4], k3, bn_eps=bn_eps)
        self.b3a = SamePadMaxPool3d(k3, (1, 1, 1))
        self.b3b = Unit3D(cin, ch[5], k1, bn_eps=bn_eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.b0(x), self.b1b(self.b1a(x)), self.b2b(self.b2a(x)),
                          self.b3b(self.b3a(x))], dim=1)


class InceptionI3d(nn.Module):
    """Inception-I3D returning ``(B, num_classes)`` logits averaged over time.

    Give ``family`` ("pytorch_i3d" → BatchNorm eps 1e-3, "videogpt" → 1e-5) or an explicit
    ``bn_eps``; one of them is required so a checkpoint is never paired with the wrong eps.
    """

    MIN_SIZE = 193  # smallest H, W for which the (2, 7, 7) head pool has an output
    MIN_FRAMES = 9

    def __init__(self, num_classes: int = 400, *, family: Family | None = None,
                 bn_eps: float | None = None) -> None:
        super().__init__()
        if bn_eps is None:
            if family is None:
                raise ConfigError("InceptionI3d: choose the checkpoint family "
                                  "(family='pytorch_i3d' or 'videogpt') or pass bn_eps")
            if family not in BN_EPS:
                raise ConfigError(f"InceptionI3d: unknown family {family!r}; "
                                  f"known: {sorted(BN_EPS)}")
            bn_eps = BN_EPS[family]
        self.family, self.bn_eps, self.num_classes = family, bn_eps, num_classes
        self.Conv3d_1a_7x7 = Unit3D(3, 64, (7, 7, 7), (2, 2, 2), bn_eps=bn_eps)
        self.MaxPool3d_2a_3x3 = SamePadMaxPool3d((1, 3, 3), (1, 2, 2))
        self.Conv3d_2b_1x1 = Unit3D(64, 64, bn_eps=bn_eps)
        self.Conv3d_2c_3x3 = Unit3D(64, 192, (3, 3, 3), bn_eps=bn_eps)
        self.MaxPool3d_3a_3x3 = SamePadMaxPool3d((1, 3, 3), (1, 2, 2))
        for name in ("Mixed_3b", "Mixed_3c"):
            cin, ch = INCEPTION_CONFIG[name]
            self.add_module(name, InceptionBlock(cin, ch, bn_eps))
        self.MaxPool3d_4a_3x3 = SamePadMaxPool3d((3, 3, 3), (2, 2, 2))
        for name in ("Mixed_4b", "Mixed_4c", "Mixed_4d", "Mixed_4e", "Mixed_4f"):
            cin, ch = INCEPTION_CONFIG[name]
            self.add_module(name, InceptionBlock(cin, ch, bn_eps))
        self.MaxPool3d_5a_2x2 = SamePadMaxPool3d((2, 2, 2), (2, 2, 2))
        for name in ("Mixed_5b", "Mixed_5c"):
            cin, ch = INCEPTION_CONFIG[name]
            self.add_module(name, InceptionBlock(cin, ch, bn_eps))
        self.logits = Unit3D(1024, num_classes, bn_eps=None, relu=False, bias=True)
        self._trunk = ["Conv3d_1a_7x7", "MaxPool3d_2a_3x3", "Conv3d_2b_1x1", "Conv3d_2c_3x3",
                       "MaxPool3d_3a_3x3", "Mixed_3b", "Mixed_3c", "MaxPool3d_4a_3x3",
                       "Mixed_4b", "Mixed_4c", "Mixed_4d", "Mixed_4e", "Mixed_4f",
                       "MaxPool3d_5a_2x2", "Mixed_5b", "Mixed_5c"]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, 3, T, H, W)`` in [−1, 1] → ``(B, num_classes)`` time-averaged logits."""
        if x.ndim != 5 or x.shape[1] != 3:
            raise InvalidVideoError(f"I3D input must be (B, 3, T, H, W), got {tuple(x.shape)}")
        t, h, w = x.shape[2:]
        if t < self.MIN_FRAMES or min(h, w) < self.MIN_SIZE:
            raise InvalidVideoError(
                f"I3D input {t}×{h}×{w} (T×H×W) is too small: needs T ≥ {self.MIN_FRAMES} and "
                f"H, W ≥ {self.MIN_SIZE} (the protocols resize to 224×224)")
        for name in self._trunk:
            x = self._modules[name](x)  # type: ignore[misc]
        x = F.avg_pool3d(x, kernel_size=(2, 7, 7), stride=1)
        x = self.logits(x)  # dropout is the identity at evaluation
        return x.mean(dim=(3, 4)).mean(dim=2)


def _param_keys(model: nn.Module) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in model.state_dict().items()
            if not k.endswith("num_batches_tracked")}


def load_i3d_state_dict(model: InceptionI3d, state_dict: Mapping[str, torch.Tensor],
                        source: str = "state dict") -> None:
    """Load a pytorch-i3d/VideoGPT state dict strictly (``num_batches_tracked`` optional).

    A ``module.`` prefix (DataParallel) is stripped. Missing keys, unexpected keys and shape
    mismatches raise :class:`DataError` naming the first few keys and ``source``.
    """
    sd = {(k[7:] if k.startswith("module.") else k): v for k, v in state_dict.items()}
    expected = _param_keys(model)
    given = {k: v for k, v in sd.items() if not k.endswith("num_batches_tracked")}
    missing = [k for k in expected if k not in given]
    unexpected = [k for k in given if k not in expected]
    nbt_unexpected = [k for k in sd if k.endswith("num_batches_tracked")
                      and k not in model.state_dict()]
    unexpected += nbt_unexpected
    problems = []
    if missing:
        problems.append(f"missing {len(missing)} key(s): {', '.join(missing[:5])}"
                        + (" …" if len(missing) > 5 else ""))
    if unexpected:
        problems.append(f"unexpected {len(unexpected)} key(s): {', '.join(unexpected[:5])}"
                        + (" …" if len(unexpected) > 5 else ""))
    bad_shapes = [f"{k} is {tuple(v.shape)}, expected {expected[k]}"
                  for k, v in given.items() if k in expected and tuple(v.shape) != expected[k]]
    if bad_shapes:
        problems.append("shape mismatch: " + "; ".join(bad_shapes[:5]))
    if problems:
        raise DataError(f"{source}: not an Inception-I3D ({model.num_classes} classes) state "
                        f"dict with the pytorch-i3d layout: " + " | ".join(problems))
    full = dict(model.state_dict())
    for k, v in given.items():
        full[k] = v
    for k, v in sd.items():
        if k.endswith("num_batches_tracked"):
            full[k] = v
    model.load_state_dict(full, strict=True)
