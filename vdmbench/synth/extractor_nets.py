"""Trained feature extractors of the synthetic world (SynthMotion).

- :class:`MotionNet`: a small I3D-like 3D CNN (Conv3d+BN+ReLU blocks and one inception block)
  that classifies the motion class of a clip. Its 64-d embedding (before the classifier) gives
  the synthetic FVD, its softmax the synthetic IS. Time is pooled globally, so any clip of ≥ 2
  frames works (trained on 8- and 16-frame clips).
- :class:`ContentNet`: a frame-level 2D CNN with four heads (shape, colour, size, background);
  its 64-d embedding per frame gives the content Fréchet distance.

Both nets see frames resized (bilinear squash) to their training size (32×32) and scaled to
[-1, 1]. The architecture config travels inside the safetensors metadata (key ``config``), so a
weight file is self-contained. Shipped weights live in ``vdmbench/assets/synth_extractors/``
(``python -m vdmbench.synth.train_extractors`` makes them).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from vdmbench.data.synthmotion import BACKGROUNDS, COLORS, MOTION_CLASSES, SHAPES, SIZES
from vdmbench.errors import WeightsNotFoundError
from vdmbench.metrics.extractor import VideoFeatureExtractor
from vdmbench.paths import require_file, sha256_file
from vdmbench.video import check_batch, resize_frames, to_unit_float

#: folder of the shipped weights
ASSET_DIR = Path(__file__).resolve().parent.parent / "assets" / "synth_extractors"
MOTION_WEIGHTS = "motion_net.safetensors"
CONTENT_WEIGHTS = "content_net.safetensors"
#: content heads, in order, with their number of classes
CONTENT_HEADS: dict[str, int] = {"shape": len(SHAPES), "color": len(COLORS), "size": len(SIZES),
                                 "background": len(BACKGROUNDS)}


def _cbr3(cin: int, cout: int, k: tuple[int, int, int], s: tuple[int, int, int]) -> nn.Sequential:
    pad = tuple(x // 2 for x in k)
    return nn.Sequential(nn.Conv3d(cin, cout, k, s, pad, bias=False), nn.BatchNorm3d(cout),
                         nn.ReLU(inplace=True))


def _cbr2(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout),
                         nn.ReLU(inplace=True))


class Inception3d(nn.Module):
    """Three branches (1×1×1; 1×1×1→3×3×3; 3×3×3 max-pool→1×1×1) concatenated on channels."""

    def __init__(self, cin: int, c1: int, c3r: int, c3: int, cp: int) -> None:
        super().__init__()
        self.b1 = _cbr3(cin, c1, (1, 1, 1), (1, 1, 1))
        self.b2 = nn.Sequential(_cbr3(cin, c3r, (1, 1, 1), (1, 1, 1)),
                                _cbr3(c3r, c3, (3, 3, 3), (1, 1, 1)))
        self.b3 = nn.Sequential(nn.MaxPool3d(3, 1, 1), _cbr3(cin, cp, (1, 1, 1), (1, 1, 1)))
        self.out_channels = c1 + c3 + cp

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.b1(x), self.b2(x), self.b3(x)], dim=1)


class MotionNet(nn.Module):
    """(B, 3, T, 32, 32) in [-1, 1] → (embedding (B, dim), logits (B, num_classes))."""

    def __init__(self, width: int = 16, dim: int = 64, num_classes: int = len(MOTION_CLASSES)
                 ) -> None:
        super().__init__()
        w = width
        self.stem = _cbr3(3, w, (3, 5, 5), (1, 2, 2))             # T, 16×16
        self.conv2 = _cbr3(w, 2 * w, (3, 3, 3), (2, 2, 2))        # T/2, 8×8
        self.mixed = Inception3d(2 * w, w, w, 2 * w, w)           # 4w channels
        self.conv3 = _cbr3(self.mixed.out_channels, 4 * w, (3, 3, 3), (2, 2, 2))  # T/4, 4×4
        self.embed = nn.Linear(8 * w, dim)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.conv3(self.mixed(self.conv2(self.stem(x))))
        pooled = torch.cat([h.mean(dim=(2, 3, 4)), h.amax(dim=(2, 3, 4))], dim=1)
        emb = self.embed(pooled)
        return emb, self.head(F.relu(emb))


class ContentNet(nn.Module):
    """(N, 3, 32, 32) frames in [-1, 1] → (embedding (N, dim), {head: logits (N, K)})."""

    def __init__(self, width: int = 32, dim: int = 64) -> None:
        super().__init__()
        w = width
        self.trunk = nn.Sequential(
            _cbr2(3, w), _cbr2(w, w), nn.MaxPool2d(2),            # 16×16
            _cbr2(w, 2 * w), nn.MaxPool2d(2),                      # 8×8
            _cbr2(2 * w, 2 * w),
        )
        self.embed = nn.Linear(4 * w, dim)
        self.heads = nn.ModuleDict({k: nn.Linear(dim, n) for k, n in CONTENT_HEADS.items()})

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        h = self.trunk(x)
        emb = self.embed(torch.cat([h.mean(dim=(2, 3)), h.amax(dim=(2, 3))], dim=1))
        a = F.relu(emb)
        return emb, {k: head(a) for k, head in self.heads.items()}


_NETS: dict[str, type[nn.Module]] = {"motion": MotionNet, "content": ContentNet}


def build_net(kind: str, config: dict[str, Any]) -> nn.Module:
    """A freshly initialised net of ``kind`` ("motion" | "content") from its ``config``."""
    arch = {k: v for k, v in config.items() if k in ("width", "dim")}
    return _NETS[kind](**arch)


def save_net(net: nn.Module, kind: str, config: dict[str, Any], path: str | Path) -> str:
    """Save ``net`` as safetensors with ``config`` (JSON) in the metadata; returns the sha256."""
    path = Path(path)
    state = {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    tmp = path.with_suffix(path.suffix + ".tmp")
    save_file(state, str(tmp), metadata={"kind": kind, "config": json.dumps(config)})
    tmp.replace(path)
    return sha256_file(path)


def load_net(path: str | Path, kind: str) -> tuple[nn.Module, dict[str, Any], str]:
    """Load a net saved by :func:`save_net`: (net in eval mode, config, sha256 of the file)."""
    p = require_file(path, f"synthetic {kind} net weights",
                     hint="Ship vdmbench/assets/synth_extractors/ or retrain with "
                          "`python -m vdmbench.synth.train_extractors --out DIR`.")
    with safe_open(str(p), framework="pt") as f:
        meta = f.metadata() or {}
    if meta.get("kind") != kind or "config" not in meta:
        raise WeightsNotFoundError(
            f"{p}: not a synthetic {kind} net (metadata kind={meta.get('kind')!r}); "
            "expected a file written by vdmbench.synth.train_extractors")
    config = json.loads(meta["config"])
    net = build_net(kind, config)
    state = load_file(str(p))
    missing, unexpected = net.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise WeightsNotFoundError(
            f"{p}: weights do not match the {kind} net (missing {missing[:3]}, "
            f"unexpected {unexpected[:3]})")
    return net.eval(), config, sha256_file(p)


def _weights_path(weights: str | Path | None, default: str) -> Path:
    if weights is None:
        return ASSET_DIR / default
    p = Path(weights)
    return p / default if p.is_dir() else p


def _prepare(batch: torch.Tensor, size: tuple[int, int], device: str) -> torch.Tensor:
    """uint8 (B, T, H, W, 3) → float (B, 3, T, h, w) in [-1, 1], resized to ``size``."""
    b, t, h, w, _ = batch.shape
    x = to_unit_float(batch.to(device)).permute(0, 1, 4, 2, 3).reshape(b * t, 3, h, w)
    x = resize_frames(x, size, "squash_bilinear")
    return x.reshape(b, t, 3, *size).permute(0, 2, 1, 3, 4)


class _SynthExtractor(VideoFeatureExtractor):
    kind: ClassVar[str]
    default_file: ClassVar[str]

    def __init__(self, weights: str | Path | None = None, device: str = "cpu",
                 chunk: int = 64) -> None:
        net, config, sha = load_net(_weights_path(weights, self.default_file), self.kind)
        super().__init__(sha, device)
        self.net = net.to(device)
        self.config = config
        self.size = tuple(config.get("input_size", (32, 32)))
        self.chunk = chunk

    def describe(self) -> dict[str, str]:
        return {**super().describe(), "input": f"squash_bilinear {self.size[0]}x{self.size[1]}"}


class SynthMotionExtractor(_SynthExtractor):
    """Clip features (B, 64) and motion-class probabilities (B, 11) from :class:`MotionNet`."""

    name = "synth_motion_net"
    kind = "motion"
    default_file = MOTION_WEIGHTS

    @torch.no_grad()
    def _run(self, batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        check_batch(batch, "synth motion net input")
        embs, logits = [], []
        for k in range(0, batch.shape[0], self.chunk):
            e, lg = self.net(_prepare(batch[k:k + self.chunk], self.size, self.device))
            embs.append(e.double().cpu())
            logits.append(lg.double().cpu())
        return torch.cat(embs), torch.cat(logits)

    def features(self, batch: torch.Tensor) -> torch.Tensor:
        return self._run(batch)[0]

    def probs(self, batch: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self._run(batch)[1], dim=1)


class SynthContentExtractor(_SynthExtractor):
    """Per-frame features (B·T, 64) and per-frame attribute logits from :class:`ContentNet`."""

    name = "synth_content_net"
    per_frame = True
    kind = "content"
    default_file = CONTENT_WEIGHTS

    @torch.no_grad()
    def _run(self, batch: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        check_batch(batch, "synth content net input")
        frames = _prepare(batch, self.size, self.device).permute(0, 2, 1, 3, 4)
        frames = frames.reshape(-1, 3, *self.size)
        embs: list[torch.Tensor] = []
        heads: dict[str, list[torch.Tensor]] = {k: [] for k in CONTENT_HEADS}
        for k in range(0, frames.shape[0], self.chunk * 8):
            e, out = self.net(frames[k:k + self.chunk * 8])
            embs.append(e.double().cpu())
            for name, v in out.items():
                heads[name].append(v.double().cpu())
        return torch.cat(embs), {k: torch.cat(v) for k, v in heads.items()}

    def features(self, batch: torch.Tensor) -> torch.Tensor:
        return self._run(batch)[0]

    def predict(self, batch: torch.Tensor) -> dict[str, torch.Tensor]:
        """Per-frame class predictions ``{head: int64 (B·T,)}``, heads as in CONTENT_HEADS."""
        return {k: v.argmax(dim=1) for k, v in self._run(batch)[1].items()}
