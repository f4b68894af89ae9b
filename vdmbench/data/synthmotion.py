"""SynthMotion: a procedural video dataset whose content and motion vary independently.

Every video shows one object (two for ``cross``) of a given shape, colour and size on a textured
background, moving according to one of :data:`MOTION_CLASSES`. Everything is a pure function of
``(index, split, seed)``: the parameters come from sha256 counter-mode draws (no global or library
RNG whose stream could change between versions), trajectories use IEEE-exact arithmetic only
(sine/cosine/exp by fixed series), and pixels by signed-distance anti-aliasing with ``+ - * /``,
``sqrt``, ``abs``, ``min`` and ``max`` — so the same arguments give bit-identical uint8 pixels on
any machine. Train, val and test splits draw from different hash streams.

Videos are uint8 ``(T, H, W, 3)``; the trajectory is defined over normalized time ``u ∈ [0, 1]``,
so a clip of 8 frames shows the same motion as one of 16, sampled more coarsely.
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from pydantic import BaseModel

from vdmbench.data.base import VideoDataset
from vdmbench.data.clips import ClipRef, ClipSource, TrainClip
from vdmbench.data.synthmotion_config import SynthMotionConfig, SynthMotionOptions
from vdmbench.errors import ConfigError, DataError
from vdmbench.generation import GenerationRequest
from vdmbench.video import Video

#: bump whenever the pixels rendered for some (index, split, seed) can change
GENERATOR_VERSION = "synthmotion-1"

MOTION_CLASSES: tuple[str, ...] = (
    "left", "right", "up", "down", "rotate", "zoom_in", "zoom_out",
    "bounce", "oscillate", "cross", "static",
)
SHAPES: tuple[str, ...] = ("square", "triangle", "star", "plus", "ellipse")
COLORS: tuple[str, ...] = (
    "red", "green", "blue", "yellow", "cyan", "magenta", "orange", "white",
)
SIZES: tuple[str, ...] = ("small", "large")
BACKGROUNDS: tuple[str, ...] = ("plain", "striped", "checkered", "gradient")
SPLITS: tuple[str, ...] = ("train", "val", "test")

_RGB = np.array([
    (225, 35, 35), (40, 200, 60), (50, 90, 255), (240, 225, 40),
    (40, 220, 230), (220, 50, 220), (255, 140, 20), (245, 245, 245),
], dtype=np.float64)
#: object radius as a fraction of min(H, W), per size
_SIZE_FRACTION = (0.14, 0.24)
#: zoom spans scale factors within [1/_ZOOM_MAX ... _ZOOM_MAX]-ish: exp(±k/2), k ≤ _ZOOM_K
_ZOOM_K = 0.397  # ln(1.22 / 0.82)
_SPEED_RANGE = (0.75, 1.25)

_VERBS = {
    "left": "moving left", "right": "moving right", "up": "moving up", "down": "moving down",
    "rotate": "rotating in place", "zoom_in": "zooming in", "zoom_out": "zooming out",
    "bounce": "bouncing", "oscillate": "oscillating from side to side",
    "static": "standing still",
}
_BG_WORDS = {"plain": "plain", "striped": "striped", "checkered": "checkered",
             "gradient": "gradient"}


@dataclass(frozen=True)
class SynthMeta:
    """Everything about one video except its pixels.

    ``motion``/``shape``/``color``/``size``/``background`` index :data:`MOTION_CLASSES`,
    :data:`SHAPES`, :data:`COLORS`, :data:`SIZES`, :data:`BACKGROUNDS`. ``speed`` is a multiplier
    in [0.75, 1.25] of the class's nominal displacement/rotation/zoom rate; ``phase`` in [0, 1)
    shifts the start of periodic motions and the start angle of rotations. ``angle`` (radians),
    ``center`` (fractions of the free range in x and y) and ``texture`` (four uniforms: levels,
    period, orientation, offset) fix the layout.
    """

    index: int
    split: str
    motion: int
    shape: int
    color: int
    size: int
    background: int
    speed: float
    phase: float
    caption: str
    angle: float = 0.0
    center: tuple[float, float] = (0.5, 0.5)
    texture: tuple[float, float, float, float] = (0.5, 0.5, 0.5, 0.5)

    @property
    def motion_name(self) -> str:
        return MOTION_CLASSES[self.motion]

    def content(self) -> dict[str, str]:
        """The content attributes by name: shape, color, size, background."""
        return {"shape": SHAPES[self.shape], "color": COLORS[self.color],
                "size": SIZES[self.size], "background": BACKGROUNDS[self.background]}


# ----------------------------------------------------------------------------- exact arithmetic

_PI = 3.141592653589793


def _sin(x: float) -> float:
    """sin by range reduction and a fixed Taylor series (IEEE-exact, platform independent)."""
    two_pi = 2.0 * _PI
    x = x - two_pi * float(int(x / two_pi))
    if x > _PI:
        x -= two_pi
    elif x < -_PI:
        x += two_pi
    term, total, x2 = x, x, x * x
    for n in range(1, 14):
        term = -term * x2 / ((2 * n) * (2 * n + 1))
        total += term
    return total


def _cos(x: float) -> float:
    return _sin(x + 0.5 * _PI)


def _exp(x: float) -> float:
    """exp for |x| ≲ 1 by a fixed Taylor series."""
    term, total = 1.0, 1.0
    for n in range(1, 20):
        term = term * x / n
        total += term
    return total


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ConfigError(f"synthmotion: unknown split {split!r} (known: {', '.join(SPLITS)})")


def _uniforms(seed: int, split: str, index: int, count: int) -> list[float]:
    """``count`` uniforms in [0, 1) from sha256 in counter mode keyed by (seed, split, index)."""
    out: list[float] = []
    block = 0
    while len(out) < count:
        key = f"{GENERATOR_VERSION}/{int(seed)}/{split}/{int(index)}/{block}".encode()
        for (word,) in struct.iter_unpack("<Q", hashlib.sha256(key).digest()):
            out.append((word >> 11) * 2.0 ** -53)
        block += 1
    return out[:count]


def _caption(motion: int, shape: int, color: int, size: int, background: int) -> str:
    m, s, c = MOTION_CLASSES[motion], SHAPES[shape], COLORS[color]
    z, b = SIZES[size], _BG_WORDS[BACKGROUNDS[background]]
    if m == "cross":
        return f"two {z} {c} {s}s crossing paths on a {b} background"
    return f"a {z} {c} {s} {_VERBS[m]} on a {b} background"


def sample_meta(index: int, split: str = "train", seed: int = 0) -> SynthMeta:
    """The parameters of video ``index`` of ``split`` (deterministic from the three arguments)."""
    _check_split(split)
    if int(index) < 0:
        raise ConfigError(f"synthmotion: index must be ≥ 0, got {index}")
    u = _uniforms(seed, split, index, 14)
    motion = int(u[0] * len(MOTION_CLASSES))
    shape = int(u[1] * len(SHAPES))
    color = int(u[2] * len(COLORS))
    size = int(u[3] * len(SIZES))
    background = int(u[4] * len(BACKGROUNDS))
    speed = _SPEED_RANGE[0] + (_SPEED_RANGE[1] - _SPEED_RANGE[0]) * u[5]
    return SynthMeta(
        index=int(index), split=split, motion=motion, shape=shape, color=color, size=size,
        background=background, speed=speed, phase=u[6],
        caption=_caption(motion, shape, color, size, background),
        angle=2.0 * _PI * u[7], center=(u[8], u[9]), texture=(u[10], u[11], u[12], u[13]),
    )


# ----------------------------------------------------------------------------- trajectories


@dataclass(frozen=True)
class _Pose:
    x: float  # centre, pixels
    y: float
    scale: float
    angle: float


def _trajectory(meta: SynthMeta, frames: int, height: int, width: int) -> list[list[_Pose]]:
    """Poses per object per frame (one object, or two for ``cross``)."""
    r = _SIZE_FRACTION[meta.size] * min(height, width)
    name = MOTION_CLASSES[meta.motion]
    ts = [t / (frames - 1) if frames > 1 else 0.5 for t in range(frames)]
    sp, ph = meta.speed, meta.phase
    zoom_k = _ZOOM_K * sp / _SPEED_RANGE[1]
    smax = _exp(0.5 * zoom_k) if name in ("zoom_in", "zoom_out") else 1.0
    m = 0.9 * r * smax + 1.0  # keep the body inside the frame

    def free(lo: float, hi: float, frac: float) -> float:
        return lo + (hi - lo) * frac if hi > lo else 0.5 * (lo + hi)

    cx = free(m, width - m, meta.center[0])
    cy = free(m, height - m, meta.center[1])
    a0 = meta.angle
    poses: list[_Pose] = []
    if name in ("left", "right"):
        d = min(0.55 * width * sp, width - 2 * m)
        cx = free(m + d / 2, width - m - d / 2, meta.center[0])
        sign = -1.0 if name == "left" else 1.0
        poses = [_Pose(cx + sign * d * (u - 0.5), cy, 1.0, a0) for u in ts]
    elif name in ("up", "down"):
        d = min(0.55 * height * sp, height - 2 * m)
        cy = free(m + d / 2, height - m - d / 2, meta.center[1])
        sign = -1.0 if name == "up" else 1.0
        poses = [_Pose(cx, cy + sign * d * (u - 0.5), 1.0, a0) for u in ts]
    elif name == "rotate":
        turn = 1.1 * _PI * sp  # about half a turn over the clip
        poses = [_Pose(cx, cy, 1.0, a0 + turn * u) for u in ts]
    elif name in ("zoom_in", "zoom_out"):
        sign = 1.0 if name == "zoom_in" else -1.0
        poses = [_Pose(cx, cy, _exp(sign * zoom_k * (u - 0.5)), a0) for u in ts]
    elif name == "bounce":
        floor = height - m
        hgt = min(0.55 * height, floor - m)
        cycles = 1.3 * sp
        poses = [_Pose(cx, floor - hgt * abs(_sin(_PI * (cycles * u + ph))), 1.0, a0)
                 for u in ts]
    elif name == "oscillate":
        amp = min(0.3 * width, width / 2 - m)
        cx = width / 2
        cycles = 1.2 * sp
        poses = [_Pose(cx + amp * _sin(2 * _PI * (cycles * u + ph)), cy, 1.0, a0) for u in ts]
    elif name == "cross":
        d = min(0.6 * width * sp, width - 2 * m)
        cx = width / 2
        off = 0.35 * r
        cy = free(m + off, height - m - off, meta.center[1])
        first = [_Pose(cx + d * (u - 0.5), cy - off, 1.0, a0) for u in ts]
        second = [_Pose(cx - d * (u - 0.5), cy + off, 1.0, a0 + 0.5 * _PI * ph) for u in ts]
        return [first, second]
    else:  # static
        poses = [_Pose(cx, cy, 1.0, a0) for _ in ts]
    return [poses]


# ----------------------------------------------------------------------------- rasterization


def _length(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.sqrt(x * x + y * y)


def _sdf(shape: str, px: np.ndarray, py: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Signed distance (pixels, negative inside) of ``shape`` of radius ``r`` at the local
    coordinates ``(px, py)`` (y up). Arrays broadcast as (T, H, W); ``r`` is (T, 1, 1)."""
    if shape == "square":
        h = 0.82 * r
        qx, qy = np.abs(px) - h, np.abs(py) - h
        outside = _length(np.maximum(qx, 0.0), np.maximum(qy, 0.0))
        return outside + np.minimum(np.maximum(qx, qy), 0.0)
    if shape == "plus":
        long, thin = 1.0 * r, 0.36 * r
        ax, ay = np.abs(px), np.abs(py)

        def box(bx: np.ndarray, by: np.ndarray) -> np.ndarray:
            qx, qy = ax - bx, ay - by
            return (_length(np.maximum(qx, 0.0), np.maximum(qy, 0.0))
                    + np.minimum(np.maximum(qx, qy), 0.0))

        return np.minimum(box(long, thin), box(thin, long))
    if shape == "triangle":
        k = 1.7320508075688772  # sqrt(3)
        hr = 0.95 * r  # half side
        x = np.abs(px) - hr
        y = py + hr / k
        fold = (x + k * y) > 0.0
        nx = np.where(fold, (x - k * y) * 0.5, x)
        ny = np.where(fold, (-k * x - y) * 0.5, y)
        nx = nx - np.clip(nx, -2.0 * hr, 0.0)
        return -_length(nx, ny) * np.sign(ny)
    if shape == "star":
        k1x, k1y = 0.809016994375, -0.587785252292
        k2x, k2y = -k1x, k1y
        rr, rf = 1.2 * r, 0.5
        x, y = np.abs(px), py
        d1 = 2.0 * np.maximum(k1x * x + k1y * y, 0.0)
        x, y = x - d1 * k1x, y - d1 * k1y
        d2 = 2.0 * np.maximum(k2x * x + k2y * y, 0.0)
        x, y = x - d2 * k2x, y - d2 * k2y
        x = np.abs(x)
        y = y - rr
        bax, bay = rf * (-k1y), rf * k1x - 1.0
        h = np.clip((x * bax + y * bay) / (bax * bax + bay * bay), 0.0, rr)
        return _length(x - bax * h, y - bay * h) * np.sign(y * bax - x * bay)
    if shape == "ellipse":
        a, b = 1.1 * r, 0.58 * r
        k0 = _length(px / a, py / b)
        k1 = _length(px / (a * a), py / (b * b)) + 1e-9
        return k0 * (k0 - 1.0) / k1
    raise DataError(f"synthmotion: unknown shape {shape!r}")


def _background(meta: SynthMeta, height: int, width: int) -> np.ndarray:
    """Grey texture, float64 (H, W) in [0, 255]."""
    lev, per, orient, off = meta.texture
    lo = 30.0 + 30.0 * lev
    hi = lo + 45.0
    ys = np.arange(height, dtype=np.int64)[:, None]
    xs = np.arange(width, dtype=np.int64)[None, :]
    kind = BACKGROUNDS[meta.background]
    if kind == "plain":
        return np.full((height, width), 0.5 * (lo + hi), dtype=np.float64)
    if kind == "striped":
        period = 6 + 2 * int(per * 3)  # 6, 8 or 10 px
        o = int(orient * 4)
        coord = (ys, xs, xs + ys, xs - ys)[o] + int(off * period)
        mask = (coord % period) < period // 2
        return np.where(mask, hi, lo).astype(np.float64) * np.ones((height, width))
    if kind == "checkered":
        cell = 4 + int(per * 3)  # 4, 5 or 6 px
        ox, oy = int(off * cell), int(orient * cell)
        mask = (((xs + ox) // cell + (ys + oy) // cell) % 2) == 0
        return np.where(mask, hi, lo).astype(np.float64)
    # gradient: linear ramp between lo and hi+20 along one of four directions
    o = int(orient * 4)
    fx = (xs.astype(np.float64) + 0.5) / width
    fy = (ys.astype(np.float64) + 0.5) / height
    f = (fx, 1.0 - fx, fy, 1.0 - fy)[o] * np.ones((height, width))
    return lo + (hi + 20.0 - lo) * f


def render_meta(meta: SynthMeta, frames: int = 16, height: int = 32, width: int = 32
                ) -> torch.Tensor:
    """Render ``meta`` as uint8 ``(frames, height, width, 3)``."""
    for what, v in (("frames", frames), ("height", height), ("width", width)):
        if int(v) < 1:
            raise ConfigError(f"synthmotion: {what} must be ≥ 1, got {v}")
    if min(height, width) < 8:
        raise ConfigError(f"synthmotion: frames must be at least 8×8 pixels, got {height}×{width}")
    bg = _background(meta, height, width)
    img = np.repeat(np.repeat(bg[None, :, :, None], 3, axis=3), frames, axis=0)
    gx = (np.arange(width, dtype=np.float64) + 0.5)[None, None, :]
    gy = (np.arange(height, dtype=np.float64) + 0.5)[None, :, None]
    r0 = _SIZE_FRACTION[meta.size] * min(height, width)
    color = _RGB[meta.color]
    shape = SHAPES[meta.shape]
    for poses in _trajectory(meta, frames, height, width):
        cx = np.array([p.x for p in poses])[:, None, None]
        cy = np.array([p.y for p in poses])[:, None, None]
        c = np.array([_cos(p.angle) for p in poses])[:, None, None]
        s = np.array([_sin(p.angle) for p in poses])[:, None, None]
        r = np.array([r0 * p.scale for p in poses])[:, None, None]
        dx, dy = gx - cx, cy - gy  # y up in local coordinates
        lx = c * dx + s * dy
        ly = c * dy - s * dx
        cov = np.clip(0.5 - _sdf(shape, lx, ly, r), 0.0, 1.0)[..., None]
        img = img * (1.0 - cov) + color * cov
    return torch.from_numpy(np.floor(img + 0.5).astype(np.uint8))


def render(index: int, split: str = "train", frames: int = 16, height: int = 32, width: int = 32,
           seed: int = 0) -> tuple[torch.Tensor, SynthMeta]:
    """Video ``index`` of ``split``: uint8 ``(frames, height, width, 3)`` and its metadata."""
    meta = sample_meta(index, split, seed)
    return render_meta(meta, frames, height, width), meta


def render_batch(indices: Sequence[int], split: str = "train", frames: int = 16, height: int = 32,
                 width: int = 32, seed: int = 0) -> tuple[torch.Tensor, list[SynthMeta]]:
    """Videos ``indices`` of ``split``: uint8 ``(B, frames, height, width, 3)`` and metadata."""
    if len(indices) == 0:
        raise ConfigError("synthmotion: render_batch needs at least one index")
    metas = [sample_meta(i, split, seed) for i in indices]
    return torch.stack([render_meta(m, frames, height, width) for m in metas]), metas


def request_seed(seed: int, split: str, index: int) -> int:
    """The generation seed of request ``index`` (a 31-bit integer from sha256)."""
    key = f"synthmotion-request/{int(seed)}/{split}/{int(index)}".encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:8], "little") % (2 ** 31)


# ----------------------------------------------------------------------------- datasets


class SynthMotionDataset(SynthMotionConfig, VideoDataset):
    """The registered ``synthmotion`` dataset: ``spec.num_videos`` videos of ``spec.split``
    starting at ``options.first_index``; requests carry the real first frame as ``image``, the
    caption as ``prompt``, and ``extra = {"motion_class": int, "content": {...}}``."""

    def __init__(self, spec: Any, options: BaseModel | None = None) -> None:
        super().__init__(spec, options)
        _check_split(spec.split)

    @property
    def indices(self) -> list[int]:
        start = self.options.first_index
        return list(range(start, start + self.spec.num_videos))

    def _render(self, index: int) -> tuple[torch.Tensor, SynthMeta]:
        s = self.spec
        return render(index, s.split, s.frames, s.height, s.width, s.seed)

    def requests(self) -> list[GenerationRequest]:
        s = self.spec
        out = []
        for i in self.indices:
            video, meta = self._render(i)
            out.append(GenerationRequest(
                id=f"synthmotion-{s.split}-{i:05d}", seed=request_seed(s.seed, s.split, i),
                frames=s.frames, height=s.height, width=s.width, fps=s.fps,
                prompt=meta.caption, image=video[0].clone(),
                extra={"motion_class": meta.motion, "content": meta.content()},
            ))
        return out

    def reference_videos(self, batch_size: int = 16) -> Iterator[list[Video]]:
        if batch_size < 1:
            raise ConfigError(f"synthmotion: batch_size must be ≥ 1, got {batch_size}")
        idx = self.indices
        for k in range(0, len(idx), batch_size):
            yield [Video(self._render(i)[0], self.spec.fps) for i in idx[k:k + batch_size]]

    @classmethod
    def training_source(cls, spec: Any, limit: int | None = None) -> ClipSource:
        """Training clips (:mod:`vdmbench.data.clips`): videos ``first_index …`` of
        ``spec.split`` (``limit`` of them, default :data:`TRAIN_POOL`), rendered at the spec's
        frames × height × width, with their captions (fps: ``spec.fps``)."""
        _check_split(spec.split)
        o = SynthMotionOptions.model_validate(spec.options)
        n = limit or TRAIN_POOL
        refs = [ClipRef(k, f"synthmotion-{spec.split}-{o.first_index + k:05d}", None,
                        sample_meta(o.first_index + k, spec.split, spec.seed).caption)
                for k in range(n)]
        return _SynthClipSource(spec, refs, o.first_index)

    def manifest_hash(self) -> str:
        s = self.spec
        blob = json.dumps({
            "dataset": "synthmotion", "generator_version": GENERATOR_VERSION, "split": s.split,
            "indices": [self.options.first_index, s.num_videos], "seed": s.seed,
            "frames": s.frames, "height": s.height, "width": s.width,
        }, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()


#: videos a training source offers when its spec sets no ``num_videos``
TRAIN_POOL = 4096


class _SynthClipSource(ClipSource):
    """SynthMotion clips for the latent cache: rendered, not decoded (never a bad file)."""

    def __init__(self, spec: Any, refs: list[ClipRef], first_index: int) -> None:
        super().__init__("synthmotion", refs, None, has_captions=True,
                         options={"first_index": first_index},
                         identity={"generator_version": GENERATOR_VERSION, "split": spec.split,
                                   "frames": spec.frames, "height": spec.height,
                                   "width": spec.width, "fps": spec.fps, "seed": spec.seed})
        self.spec, self.first_index = spec, first_index

    def load(self, ref: ClipRef) -> TrainClip:
        s = self.spec
        video, _ = render(self.first_index + ref.index, s.split, s.frames, s.height, s.width,
                          s.seed)
        return TrainClip(ref, video, float(s.fps), 0, 1, s.frames)


class SynthMotionTorchDataset(torch.utils.data.Dataset):
    """Map-style dataset for training: item ``i`` = video ``first_index + i`` of ``split`` as
    ``{"video": uint8 (T, H, W, 3), "motion", "shape", "color", "size", "background": int}``."""

    def __init__(self, split: str = "train", length: int = 10000, frames: int = 16,
                 height: int = 32, width: int = 32, seed: int = 0, first_index: int = 0) -> None:
        _check_split(split)
        if length < 1:
            raise ConfigError(f"synthmotion: length must be ≥ 1, got {length}")
        self.split, self.length, self.frames = split, int(length), int(frames)
        self.height, self.width, self.seed = int(height), int(width), int(seed)
        self.first_index = int(first_index)

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, i: int) -> dict[str, Any]:
        if not 0 <= i < self.length:
            raise IndexError(i)
        video, meta = render(self.first_index + i, self.split, self.frames, self.height,
                             self.width, self.seed)
        return {"video": video, "motion": meta.motion, "shape": meta.shape, "color": meta.color,
                "size": meta.size, "background": meta.background}
