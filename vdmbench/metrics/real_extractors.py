"""The real feature extractors: I3D (TorchScript or state dict) and the C3D TorchScript port.

Nothing is downloaded: every network is loaded from a user-supplied path (``${ENV}`` allowed),
TorchScript with ``torch.jit.load(path, map_location=device)`` and state dicts with
``torch.load(path, map_location="cpu", weights_only=True)`` or safetensors. The sha256 of the file
is recorded (``weights_sha256``). A missing file is a :class:`WeightsNotFoundError` naming the
file, the metric option (``weights:``) and the environment variable that can point at it.

Each extractor is bound to a protocol preset (:mod:`vdmbench.metrics.protocols`) that fixes the
network input and the detector call.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any, ClassVar

import torch

from vdmbench.errors import DataError, MetricError
from vdmbench.metrics.extractor import VideoFeatureExtractor
from vdmbench.metrics.feature_metrics_config import resolve_weights
from vdmbench.metrics.i3d import InceptionI3d, load_i3d_state_dict
from vdmbench.metrics.protocols import network_input
from vdmbench.paths import sha256_file

ENV_I3D_TORCHSCRIPT = "VDMBENCH_I3D_TORCHSCRIPT"
ENV_I3D_STATE_DICT = "VDMBENCH_I3D_STATE_DICT"
ENV_C3D_TORCHSCRIPT = "VDMBENCH_C3D_TORCHSCRIPT"


def load_torchscript(path: Path, device: str) -> torch.jit.ScriptModule:
    """``torch.jit.load`` (no pickle) in eval mode; an unreadable file is a DataError."""
    try:
        with warnings.catch_warnings():  # recent torch flags TorchScript as deprecated
            for category in (DeprecationWarning, FutureWarning):
                warnings.filterwarnings("ignore", message=r".*torch\.jit\.load", category=category)
            module = torch.jit.load(str(path), map_location=device)
    except (RuntimeError, ValueError) as e:
        raise DataError(f"{path}: not a TorchScript archive ({str(e).splitlines()[0]})") from e
    return module.eval()


def load_state_dict_file(path: Path) -> dict[str, torch.Tensor]:
    """A tensor state dict from ``.safetensors`` or a ``torch.save`` file (weights_only)."""
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path), device="cpu")
        sd: Any = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as e:  # unpickling refused / corrupt archive
        raise DataError(f"{path}: cannot read a state dict ({str(e).splitlines()[0]})") from e
    if isinstance(sd, dict) and "state_dict" in sd and isinstance(sd["state_dict"], dict):
        sd = sd["state_dict"]
    if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise DataError(f"{path}: expected a dict of tensors (a state dict), got "
                        f"{type(sd).__name__}")
    return sd


def _as_features(out: Any, batch: int, source: str, dim: int | None = None) -> torch.Tensor:
    if isinstance(out, (tuple, list)):
        out = out[0]
    if not isinstance(out, torch.Tensor) or out.ndim != 2 or out.shape[0] != batch:
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise MetricError(f"{source}: expected ({batch}, d) outputs, got {shape}")
    if dim is not None and out.shape[1] != dim:
        raise MetricError(f"{source}: expected {dim}-d outputs, got {out.shape[1]}")
    out = out.detach().to("cpu", torch.float64)
    if not torch.isfinite(out).all():
        raise MetricError(f"{source}: non-finite outputs")
    return out


class _TorchScriptExtractor(VideoFeatureExtractor):
    """A StyleGAN-V TorchScript network called as ``module(x, **kwargs)`` on the input its
    ``preset`` prescribes (:func:`~vdmbench.metrics.protocols.network_input`). Subclasses set
    ``what`` (the file, for messages), ``env`` (its environment variable), ``default_preset``
    and ``width`` (the output width, None = any)."""

    what: ClassVar[str]
    env: ClassVar[str]
    default_preset: ClassVar[str]
    width: ClassVar[int | None] = None

    def __init__(self, module: torch.jit.ScriptModule, weights_sha256: str, device: str = "cpu",
                 preset: str | None = None) -> None:
        super().__init__(weights_sha256, device)
        self.module, self.preset = module, preset or self.default_preset

    @classmethod
    def from_path(cls, path: str | os.PathLike[str] | None, device: str = "cpu",
                  preset: str | None = None) -> Any:
        preset = preset or cls.default_preset
        p = resolve_weights(path, cls.what, cls.env, f"metric '{preset}'")
        return cls(load_torchscript(p, device), sha256_file(p), device, preset)

    def _outputs(self, batch: torch.Tensor) -> torch.Tensor:
        """float64 ``(B, width)`` outputs of the network on ``batch``, checked."""
        x, kwargs = network_input(self.preset, batch, self.device)
        with torch.no_grad():
            out = self.module(x, **kwargs)
        return _as_features(out, batch.shape[0], self.name, self.width)

    def describe(self) -> dict[str, str]:
        return {**super().describe(), "preset": self.preset}


class I3DTorchScriptExtractor(_TorchScriptExtractor):
    """StyleGAN-V's ``i3d_torchscript.pt``: ``forward(x, rescale, resize, return_features)``.

    The preset decides the input and the call: ``fvd_styleganv_2048_16f`` passes uint8 0..255
    videos with ``rescale=True, resize=True`` (the detector's own resize, as StyleGAN-V does);
    the ``fvd_cdfvd_*`` presets pass our 224×224 [−1, 1] input with ``rescale=False,
    resize=False``. ``features`` → float64 ``(B, 400)``.
    """

    name: ClassVar[str] = "i3d_torchscript"
    what: ClassVar[str] = "I3D TorchScript detector (i3d_torchscript.pt)"
    env: ClassVar[str] = ENV_I3D_TORCHSCRIPT
    default_preset: ClassVar[str] = "fvd_styleganv_2048_16f"
    width: ClassVar[int | None] = 400

    def features(self, batch: torch.Tensor) -> torch.Tensor:
        return self._outputs(batch)


class I3DStateDictExtractor(VideoFeatureExtractor):
    """``i3d_pretrained_400.pt`` (VideoGPT/TATS/cd-fvd) or a pytorch-i3d checkpoint loaded into
    :class:`~vdmbench.metrics.i3d.InceptionI3d` with its family's BatchNorm eps.
    ``features`` → float64 ``(B, 400)`` time-averaged logits."""

    name: ClassVar[str] = "i3d_state_dict"

    def __init__(self, model: InceptionI3d, weights_sha256: str, device: str = "cpu",
                 preset: str = "fvd_cdfvd_256") -> None:
        super().__init__(weights_sha256, device)
        self.model, self.preset = model.to(device).eval(), preset

    @classmethod
    def from_path(cls, path: str | os.PathLike[str] | None, family: str = "videogpt",
                  device: str = "cpu", preset: str = "fvd_cdfvd_256") -> I3DStateDictExtractor:
        p = resolve_weights(path, "I3D state dict (i3d_pretrained_400.pt)", ENV_I3D_STATE_DICT,
                            f"metric '{preset}'")
        sd = load_state_dict_file(p)
        num_classes = int(sd["logits.conv3d.weight"].shape[0]) if "logits.conv3d.weight" in sd \
            else 400
        model = InceptionI3d(num_classes, family=family)  # type: ignore[arg-type]
        load_i3d_state_dict(model, sd, source=str(p))
        return cls(model, sha256_file(p), device, preset)

    def features(self, batch: torch.Tensor) -> torch.Tensor:
        x, _ = network_input(self.preset, batch, self.device)
        with torch.no_grad():
            out = self.model(x)
        return _as_features(out, batch.shape[0], self.name)

    def describe(self) -> dict[str, str]:
        return {**super().describe(), "preset": self.preset, "family": str(self.model.family),
                "bn_eps": repr(self.model.bn_eps)}


class C3DTorchScriptExtractor(_TorchScriptExtractor):
    """StyleGAN-V's ``c3d_ucf101.pt`` (TGAN's UCF101-finetuned C3D): called as ``model(x)`` on
    uint8 ``(B, 3, 16, H, W)``; returns 101 class probabilities. ``probs`` → float64 ``(B, 101)``;
    ``features`` returns the same rows (the IS protocol has no other feature)."""

    name: ClassVar[str] = "c3d_torchscript"
    what: ClassVar[str] = "C3D TorchScript classifier (c3d_ucf101.pt)"
    env: ClassVar[str] = ENV_C3D_TORCHSCRIPT
    default_preset: ClassVar[str] = "is_styleganv_ucf101"

    def probs(self, batch: torch.Tensor) -> torch.Tensor:
        p = self._outputs(batch)
        sums = p.sum(dim=1)
        if (p < 0).any() or (sums - 1).abs().max() > 1e-3:
            raise MetricError(f"{self.name}: the detector's outputs are not probabilities "
                              f"(row sums {sums.min():.4g}..{sums.max():.4g}); expected the "
                              f"StyleGAN-V c3d_ucf101.pt port, which ends in a softmax")
        return p

    def features(self, batch: torch.Tensor) -> torch.Tensor:
        return self.probs(batch)
