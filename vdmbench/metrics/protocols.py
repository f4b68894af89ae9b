"""Named, versioned protocol presets and their preprocessing — in one place.

A preset fixes everything that changes the numbers: which clips are measured, how many, how
frames are prepared and resized (and whether vdmbench or the detector does it), the value range
and dtype fed to the network, how the detector is called, and how scores are aggregated. Its
``id`` and ``version`` are recorded with every result (``Metric.protocol()``, which also records
:meth:`ProtocolPreset.describe`); the leaderboard refuses to put values of different presets or
versions side by side. Bump ``version`` whenever any of this changes. docs/metrics.md has one
table per preset with the peer's commit and the measured agreement.

FVD presets (400-d I3D logits, biased covariance ÷N, ``scipy.linalg.sqrtm``):

- ``fvd_styleganv_2048_16f`` (v2) — StyleGAN-V's ``fvd2048_16f``. Real videos are prepared as
  StyleGAN-V's ``src/scripts/convert_videos_to_frames.py`` prepares a dataset of videos (short
  side to 256 with Pillow's LANCZOS, centre crop 256×256, stored as JPEG through Pillow, whose
  ``q=95`` argument Pillow ignores, so libjpeg's default quality 75 applies — see
  :func:`styleganv_prepare_real`); the first 2048 videos in sorted order, one 16-frame window
  each at a seeded random offset (shorter videos discarded). Generated videos: first 16 frames.
  The detector gets uint8 ``(B, 3, T, H, W)`` (what StyleGAN-V's loaders give it) and
  ``rescale=True, resize=True``.
- ``fvd_cdfvd_128`` / ``fvd_cdfvd_256`` (v2) — cd-fvd 0.1.1's folder pipeline (what its
  published numbers use): every real video (``n_real='full'``), one 16-frame window each (a
  too-short video is replaced by the next usable one), the windows cd-fvd's loader draws with
  ``num_workers=0`` (:func:`cdfvd_windows`; option ``window_draw: seeded`` draws vdmbench's
  own instead, v1's draw); real and generated clips alike: short side to 128/256 (bilinear,
  antialias, long side rounded up), centre crop, ×255 and truncation to uint8 (``.byte()``),
  then squash to 224×224 (bilinear, no antialias) and 2x/255 − 1. ``num_gen`` (2048)
  generated videos exactly.
- ``fvd_cdfvd_array`` (v1) — cd-fvd's numpy-array API (``compute_fvd`` on arrays): first 2048
  sorted real videos, a seeded random window each; generated: first 16 frames; every frame
  squashed to 224×224 (bilinear, no crop, no antialias), 2x/255 − 1. Not the published pipeline.

UCF101 Inception Score presets (StyleGAN-V's TorchScript port of TGANv2's C3D, uint8 input):

- ``is_styleganv_ucf101`` (v2) — StyleGAN-V ``isv2048_ucf``: 2048 float32 probability rows
  shuffled with ``numpy.random.RandomState(42)``, then 10 consecutive splits, no epsilon in the
  logarithm, every step in float32, mean ± std over splits. (v1 did not shuffle and computed in
  float64.)
- ``is_tgan2_ucf101`` (v1) — TGANv2 ``scripts/compute_inception_score.py``: 10 draws of 2048
  videos (20,480 generated, cut in request order), each scored with ``splits=1`` and ``1e-20``
  added to every probability; mean ± std over the draws.

``psnr`` / ``ssim`` — fidelity of a student to the teacher for the same request and seed.
"""

from __future__ import annotations

import glob
import io
import math
import os
import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F

from vdmbench.errors import UnknownNameError
from vdmbench.video import ResizeMode, check_batch, to_bcthw


@dataclass(frozen=True)
class ProtocolPreset:
    """What a preset fixes; :meth:`describe` is what results record."""

    id: str
    version: str
    kind: Literal["fvd", "is", "fidelity"]
    summary: str
    num_frames: int | None = None
    num_real: int | None = None
    num_gen: int | None = None
    real_clips: str = ""
    real_preparation: str = ""
    generated_clips: str = ""
    resize_mode: ResizeMode = "none"
    size: tuple[int, int] | None = None
    resized_by: Literal["vdmbench", "detector", "none"] = "none"
    network_input: str = ""
    detector_call: dict[str, Any] = field(default_factory=dict)
    covariance: str = ""
    splits: int | None = None
    draws: int | None = None
    shuffle_seed: int | None = None
    log_eps: float | None = None
    value_range: str = ""
    source: str = ""

    def describe(self) -> dict[str, Any]:
        d = asdict(self)
        d["size"] = list(self.size) if self.size is not None else None
        return d


_STYLEGANV = "universome/stylegan-v @ 1f630af59d8f34a4a70417abc412c1c7c3b0d97c"
_CDFVD = "cd-fvd 0.1.1 (PyPI; songweige/content-debiased-fvd)"
_TGAN2 = "pfnet-research/tgan2 @ d83018c96bc607f2150bdff583487dd4f7908e87"
_BIASED = "biased (divide by N), float64; sqrtm(Σ_gen Σ_real) by scipy.linalg.sqrtm, real part"


def _cdfvd_folder(resolution: int) -> ProtocolPreset:
    return ProtocolPreset(
        id=f"fvd_cdfvd_{resolution}", version="2", kind="fvd",
        summary=f"cd-fvd folder pipeline at resolution {resolution} (what its published numbers "
                f"use): VideoGPT I3D (i3d_pretrained_400.pt), 400-d logits",
        num_frames=16, num_real=None, num_gen=2048,
        real_clips="every video of the dataset's split (n_real='full'; num_real: cd-fvd's "
                   "n_real); one num_frames window each, a video shorter than num_frames "
                   "replaced by the next usable one (whose clips then count more than once). "
                   "window_draw 'cdfvd' (default): the windows cd-fvd's loader draws with "
                   "num_workers=0 — videos in cd-fvd's listing order (glob of the videos "
                   "folder), visited in the order of a shuffling torch DataLoader after torch's "
                   "generator is seeded with seed (42), each taking window "
                   "random.randint(0, T − num_frames) from Python's random seeded with seed; "
                   "'seeded': an offset from default_rng([seed, 1000·index + k]) per video in "
                   "sorted order (k counts the replacements)",
        real_preparation=f"uint8 → float /255; short side to {resolution} (bilinear, "
                         f"antialias, align_corners=False, long side ceil(long·{resolution}/"
                         f"short)); centre crop {resolution}×{resolution} (offset (size − "
                         f"{resolution}) // 2); ×255 then truncation to uint8 (.byte())",
        generated_clips="the same preparation as real clips; exactly num_gen videos; a video "
                        "longer than num_frames: one window — 'cdfvd': cd-fvd's draw over the "
                        "num_gen videos in request order (as a folder listed in that order), "
                        "every video of one length; 'seeded': an offset from "
                        "default_rng([seed, 1_000_003 + index])",
        resize_mode="squash_bilinear", size=(224, 224), resized_by="vdmbench",
        network_input="float32 (B, 3, T, 224, 224): frames squashed to 224×224 (bilinear, "
                      "align_corners=False, no antialias), then 2·x/255 − 1",
        detector_call={"rescale": False, "resize": False, "return_features": True},
        covariance=_BIASED, value_range="[0, inf), lower is better",
        source=f"{_CDFVD}: cdfvd/utils/data_utils.py (VideoDataset, "
               f"get_random_clip_from_video, VideoData._dataloader, preprocess), cdfvd/fvd.py "
               f"(compute_real_stats, compute_fake_stats: seed_everything), "
               f"cdfvd/third_party/i3d/utils.py (preprocess_i3d)")


PRESETS: dict[str, ProtocolPreset] = {p.id: p for p in [
    ProtocolPreset(
        id="fvd_styleganv_2048_16f", version="2", kind="fvd",
        summary="StyleGAN-V fvd2048_16f: TF-Hub I3D (TorchScript port), 400-d logits",
        num_frames=16, num_real=2048, num_gen=2048,
        real_clips="first num_real videos in sorted order (videos shorter than num_frames "
                   "discarded); one num_frames window each at a random offset drawn from "
                   "numpy default_rng([seed, index])",
        real_preparation="as src/scripts/convert_videos_to_frames.py: per frame, short side to "
                         "256 with Pillow LANCZOS (long side int(256·long/short)), centre crop "
                         "256×256 (offset round((size − 256)/2)), JPEG through Pillow with "
                         "its default quality (the script's q=95 is not a Pillow option), "
                         "decoded back to uint8 RGB",
        generated_clips="first num_frames frames, uint8 as generated",
        resize_mode="squash_bilinear", size=(224, 224), resized_by="detector",
        network_input="uint8 (B, 3, T, H, W) with values 0..255; the detector rescales to "
                      "[-1, 1] and resizes to 224×224 itself",
        detector_call={"rescale": True, "resize": True, "return_features": True},
        covariance=_BIASED, value_range="[0, inf), lower is better",
        source=f"{_STYLEGANV}: src/metrics/frechet_video_distance.py, src/metrics/"
               f"metric_utils.py, src/scripts/convert_videos_to_frames.py"),
    _cdfvd_folder(128),
    _cdfvd_folder(256),
    ProtocolPreset(
        id="fvd_cdfvd_array", version="1", kind="fvd",
        summary="cd-fvd's numpy-array API (compute_fvd on arrays), VideoGPT I3D "
                "(i3d_pretrained_400.pt), 400-d logits; not cd-fvd's published pipeline",
        num_frames=16, num_real=2048, num_gen=2048,
        real_clips="first num_real videos in dataset order (shorter ones skipped); one "
                   "num_frames window each at a random offset from default_rng([seed, index])",
        real_preparation="none (the dataset's frames as they are)",
        generated_clips="first num_frames frames",
        resize_mode="squash_bilinear", size=(224, 224), resized_by="vdmbench",
        network_input="float32 (B, 3, T, 224, 224): frames squashed to 224×224 (bilinear, "
                      "align_corners=False, no antialias, no crop), then 2·x/255 − 1",
        detector_call={"rescale": False, "resize": False, "return_features": True},
        covariance=_BIASED, value_range="[0, inf), lower is better",
        source=f"{_CDFVD}: cdfvd/fvd.py (compute_fvd), cdfvd/third_party/i3d/utils.py"),
    ProtocolPreset(
        id="is_styleganv_ucf101", version="2", kind="is",
        summary="UCF101 Inception Score, StyleGAN-V isv2048_ucf protocol, with its C3D "
                "(TGANv2's UCF101-finetuned C3D) TorchScript port",
        num_frames=16, num_gen=2048,
        generated_clips="first num_frames frames; their probability rows shuffled as "
                        "numpy.random.RandomState(42).shuffle shuffles rows",
        resize_mode="squash_bilinear", size=(112, 112), resized_by="detector",
        network_input="uint8 (B, 3, 16, H, W); the port resizes to 112x112, converts RGB to "
                      "BGR x128 and subtracts the C3D mean",
        splits=10, shuffle_seed=42, log_eps=0.0,
        value_range="[1, 101], higher is better; float32 probabilities, every step in "
                    "float32; mean ± std (population) over 10 consecutive splits of the "
                    "shuffled 2048 rows, log without epsilon (an exact zero probability is an "
                    "error, where StyleGAN-V would give NaN)",
        source=f"{_STYLEGANV}: src/metrics/metric_main.py (isv2048_ucf), "
               f"src/metrics/video_inception_score.py (compute_isv), src/metrics/"
               f"metric_utils.py (FeatureStats: float32)"),
    ProtocolPreset(
        id="is_tgan2_ucf101", version="1", kind="is",
        summary="UCF101 Inception Score, TGANv2 protocol: 10 draws of 2048 videos, each scored "
                "with splits=1; C3D TorchScript port",
        num_frames=16, num_gen=20480,
        generated_clips="first num_frames frames; the generated videos in request order are "
                        "cut into draws consecutive groups of samples_per_draw",
        resize_mode="squash_bilinear", size=(112, 112), resized_by="detector",
        network_input="uint8 (B, 3, 16, H, W); the port resizes to 112x112, converts RGB to "
                      "BGR x128 and subtracts the C3D mean",
        splits=1, draws=10, shuffle_seed=None, log_eps=1e-20,
        value_range="[1, 101], higher is better; mean ± std (population) over 10 draws; each "
                    "draw: p ← p + 1e-20, IS = exp(mean KL(p ‖ mean p))",
        source=f"{_TGAN2}: scripts/compute_inception_score.py, "
               f"tgan2/evaluations/inception_score.py"),
    ProtocolPreset(
        id="psnr", version="1", kind="fidelity",
        summary="PSNR (dB) of each student video against the teacher's for the same request "
                "and seed; MSE over all frames and channels, data range 255; per-video values "
                "capped at max_db (identical videos count as max_db), then averaged",
        value_range="[0, max_db] dB, higher is better"),
    ProtocolPreset(
        id="ssim", version="1", kind="fidelity",
        summary="SSIM (Gaussian window 11, sigma 1.5, K1 0.01, K2 0.03, L 255, 'valid' "
                "window positions) per frame on BT.601 luma (or per RGB channel), averaged "
                "over frames, then over videos",
        value_range="[-1, 1], higher is better (1 = identical)"),
]}


def renamed_hint(name: str) -> str | None:
    """For a renamed metric or preset id, a sentence naming its replacements; else None."""
    from vdmbench.catalog import RENAMED_METRICS

    if name in RENAMED_METRICS:
        return f"'{name}' was renamed: use {RENAMED_METRICS[name]}"
    return None


def get_preset(preset_id: str) -> ProtocolPreset:
    """The preset named ``preset_id``; an unknown id lists the known ones (a renamed one names
    its replacements)."""
    if preset_id not in PRESETS:
        hint = renamed_hint(preset_id)
        if hint:
            raise UnknownNameError(f"unknown protocol preset '{preset_id}': {hint}")
        raise UnknownNameError(f"unknown protocol preset '{preset_id}'. Known presets: "
                               f"{', '.join(sorted(PRESETS))}")
    return PRESETS[preset_id]


# ------------------------------------------------------------------------------------------------
# clip selection
# ------------------------------------------------------------------------------------------------

def random_offset(total: int, num_frames: int, seed: int, index: int) -> int | None:
    """Offset of a ``num_frames`` window in a ``total``-frame video, drawn from
    ``numpy.random.default_rng([seed, index])``; None when ``total < num_frames``."""
    if total < num_frames:
        return None
    return int(np.random.default_rng([seed, index]).integers(0, total - num_frames + 1))


def random_offset_clip(frames: torch.Tensor, num_frames: int, seed: int, index: int
                       ) -> torch.Tensor | None:
    """A ``num_frames`` window of ``(T, H, W, 3)`` at an offset drawn from
    ``numpy.random.default_rng([seed, index])``; None when ``T < num_frames`` (skipped, as
    StyleGAN-V's ``discard_short_videos``). Deterministic per (seed, index)."""
    offset = random_offset(int(frames.shape[0]), num_frames, seed, index)
    if offset is None:
        return None
    return frames[offset:offset + num_frames]


#: the file name endings cd-fvd 0.1.1's folder loader globs for, in the order it globs them
#: (``cdfvd/utils/data_utils.py``, ``VID_EXTENSIONS``)
CDFVD_VIDEO_EXTENSIONS = (".avi", ".mp4", ".webm", ".mov", ".mkv", ".m4v")


def cdfvd_listing(folder: str | os.PathLike[str]) -> list[str]:
    """The video files under ``folder`` in the order cd-fvd's ``VideoDataset`` indexes them: for
    each ending of :data:`CDFVD_VIDEO_EXTENSIONS` in turn, ``glob.glob(folder/**/*ending,
    recursive=True)`` — the file system's directory order, not sorted."""
    found: list[str] = []
    for ending in CDFVD_VIDEO_EXTENSIONS:
        found.extend(glob.glob(os.path.join(os.fspath(folder), "**", "*" + ending),
                               recursive=True))
    return found


class _CdFVDDraws(torch.utils.data.Dataset):
    """Index ``i`` of cd-fvd's ``VideoDataset`` → ``(video, first frame)`` of the clip it loads,
    drawn with the calling process's Python ``random`` (a DataLoader worker's, re-seeded by
    torch, or the main process's): while video ``i`` has no window move on to the next video;
    past the last video, or at an index at or past the total number of windows, retry at
    ``(i + 1) mod`` that total (``VideoClips.get_clip`` raising inside cd-fvd's retry loop);
    then ``random.randint(0, windows − 1)``."""

    def __init__(self, windows: list[int]) -> None:
        self.windows = windows
        self.total = sum(windows)

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, i: int) -> tuple[int, int]:
        n = len(self.windows)
        while True:
            if i >= self.total:
                i = (i + 1) % self.total
                continue
            j = i
            while j < n and self.windows[j] <= 0:
                j += 1
            if j >= n:
                i = (i + 1) % self.total
                continue
            return j, random.randint(0, self.windows[j] - 1)


def _as_list(batch: list[tuple[int, int]]) -> list[tuple[int, int]]:
    return batch


def cdfvd_windows(num_frames: Sequence[int], length: int, seed: int, count: int | None = None,
                  num_workers: int = 0, batch_size: int = 16) -> list[tuple[int, int]]:
    """``(video index, first frame)`` of every clip cd-fvd 0.1.1's folder loader gives, in the
    order it gives them, for its ``load_videos(..., num_workers, batch_size)``.

    ``num_frames[i]``: frames of video ``i`` in the loader's order (:func:`cdfvd_listing`);
    ``count``: clips wanted (cd-fvd's ``n_real`` / ``n_fake``; None = ``'full'``, one pass).
    The draws are cd-fvd's, made by the same mechanism: ``compute_real_stats`` /
    ``compute_fake_stats`` seed Python's ``random`` and torch's generator with ``seed``; a
    shuffling torch DataLoader with ``num_workers`` and ``batch_size`` visits the videos (its
    ``RandomSampler`` order from torch's generator); each visit draws its window as
    :class:`_CdFVDDraws` does (torchvision's ``VideoClips`` counts ``T − length + 1`` windows,
    stride 1). With ``num_workers=0`` the draws come from the seeded Python ``random``, and
    ``batch_size`` does not matter; with workers, torch re-seeds Python's ``random`` in worker
    ``w`` with ``base_seed + w`` (``base_seed`` from torch's generator) and deals the batches to
    the workers in turn, so the windows depend on both. Here a DataLoader with the same
    settings runs over :class:`_CdFVDDraws`, with torch's global CPU generator and Python's
    ``random`` seeded as cd-fvd seeds them and both restored afterwards. Further passes (when
    ``count`` exceeds the videos) draw a new order, as cd-fvd's loop does. Raises
    ``ValueError`` when no video has ``length`` frames."""
    from torch.utils.data import DataLoader

    windows = [max(int(t) - length + 1, 0) for t in num_frames]
    if sum(windows) == 0:
        raise ValueError(f"no video has {length} frames")
    want = len(windows) if count is None else count
    out: list[tuple[int, int]] = []
    python_state = random.getstate()
    try:
        with torch.random.fork_rng(devices=[]):
            torch.random.default_generator.manual_seed(seed)
            random.seed(seed)
            loader = DataLoader(_CdFVDDraws(windows), batch_size=batch_size, shuffle=True,
                                num_workers=num_workers, collate_fn=_as_list)
            while len(out) < want:
                for batch in loader:
                    out.extend(batch)
                    if len(out) >= want:
                        break
    finally:
        random.setstate(python_state)
    return out[:want]


# ------------------------------------------------------------------------------------------------
# real-data preparation
# ------------------------------------------------------------------------------------------------

def _as_uint8_frames(frames: np.ndarray | torch.Tensor, what: str) -> np.ndarray:
    a = frames.detach().cpu().numpy() if isinstance(frames, torch.Tensor) else np.asarray(frames)
    if a.dtype != np.uint8 or a.ndim != 4 or a.shape[-1] != 3:
        raise ValueError(f"{what}: expected uint8 (T, H, W, 3) frames, got {a.dtype} "
                         f"{tuple(a.shape)}")
    return a


def styleganv_prepare_frame(frame: np.ndarray, size: int = 256) -> np.ndarray:
    """One uint8 ``(H, W, 3)`` RGB frame → uint8 ``(size, size, 3)``, the steps of StyleGAN-V's
    ``convert_videos_to_frames.py`` for a dataset of videos: resize so the short side is
    ``size`` (Pillow LANCZOS; long side ``int(size·long/short)``; unchanged when the short side
    already is ``size``), centre crop ``size``×``size`` at ``round((dim − size)/2)``, encode as
    JPEG with Pillow's defaults (quality 75: the script's ``q=95`` keyword is not read by
    Pillow) and decode it again."""
    from PIL import Image

    img = Image.fromarray(frame)
    w, h = img.size
    short, long = (w, h) if w <= h else (h, w)
    if short != size:
        new_long = int(size * long / short)
        new_w, new_h = (size, new_long) if w <= h else (new_long, size)
        img = img.resize((new_w, new_h), Image.Resampling.LANCZOS)
    w, h = img.size
    if (w, h) != (size, size):
        top = int(round((h - size) / 2.0))
        left = int(round((w - size) / 2.0))
        img = img.crop((left, top, left + size, top + size))
    buf = io.BytesIO()
    img.save(buf, format="JPEG")
    buf.seek(0)
    with Image.open(buf) as decoded:
        return np.asarray(decoded.convert("RGB"), dtype=np.uint8).copy()


def styleganv_prepare_real(frames: np.ndarray | torch.Tensor, size: int = 256) -> torch.Tensor:
    """uint8 ``(T, H, W, 3)`` → uint8 ``(T, size, size, 3)`` by :func:`styleganv_prepare_frame`
    on every frame."""
    a = _as_uint8_frames(frames, "styleganv_prepare_real")
    return torch.from_numpy(np.stack([styleganv_prepare_frame(f, size) for f in a]))


def cdfvd_prepare(frames: np.ndarray | torch.Tensor, resolution: int) -> torch.Tensor:
    """uint8 ``(T, H, W, 3)`` → uint8 ``(T, resolution, resolution, 3)``, cd-fvd's folder
    pipeline: float /255, short side to ``resolution`` (bilinear, antialias, long side
    ``ceil(long·resolution/short)``), centre crop at ``(dim − resolution) // 2``, then ×255 and
    truncation to uint8. The arithmetic is done in the same order and dtype as cd-fvd's."""
    a = _as_uint8_frames(frames, "cdfvd_prepare")
    video = torch.from_numpy(a).permute(0, 3, 1, 2).float() / 255.0  # (T, C, H, W)
    _, _, h, w = video.shape
    scale = resolution / min(h, w)
    if h < w:
        target = (resolution, math.ceil(w * scale))
    else:
        target = (math.ceil(h * scale), resolution)
    video = F.interpolate(video, size=target, mode="bilinear", align_corners=False,
                          antialias=True)
    _, _, h, w = video.shape
    top, left = (h - resolution) // 2, (w - resolution) // 2
    video = video[:, :, top:top + resolution, left:left + resolution]
    return (video * 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous()


# ------------------------------------------------------------------------------------------------
# network inputs
# ------------------------------------------------------------------------------------------------

def styleganv_i3d_input(batch: torch.Tensor, device: str | torch.device = "cpu") -> torch.Tensor:
    """uint8 ``(B, T, H, W, 3)`` → uint8 ``(B, 3, T, H, W)`` (StyleGAN-V's loaders give the
    TorchScript I3D uint8 videos; it rescales and resizes with ``rescale=True, resize=True``)."""
    check_batch(batch)
    return to_bcthw(batch.to(device)).contiguous()


def cdfvd_i3d_input(batch: torch.Tensor, device: str | torch.device = "cpu") -> torch.Tensor:
    """uint8 ``(B, T, H, W, 3)`` → float32 ``(B, 3, T, 224, 224)`` in [−1, 1], as cd-fvd's
    ``preprocess_i3d``: frames as float32, squashed to 224×224 (bilinear,
    ``align_corners=False``, no antialias), then ``2·x/255 − 1``."""
    check_batch(batch)
    b, t, h, w, c = batch.shape
    frames = batch.to(device).float().flatten(end_dim=1).permute(0, 3, 1, 2).contiguous()
    frames = F.interpolate(frames, size=(224, 224), mode="bilinear", align_corners=False)
    video = frames.view(b, t, c, 224, 224).transpose(1, 2).contiguous()
    return 2.0 * video / 255.0 - 1.0


def c3d_input(batch: torch.Tensor, device: str | torch.device = "cpu") -> torch.Tensor:
    """uint8 ``(B, T, H, W, 3)`` → uint8 ``(B, 3, T, H, W)`` (the C3D port resizes to 112×112 and
    normalizes inside, as StyleGAN-V feeds it)."""
    check_batch(batch)
    return to_bcthw(batch.to(device)).contiguous()


INPUT_FNS = {"fvd_styleganv_2048_16f": styleganv_i3d_input, "fvd_cdfvd_array": cdfvd_i3d_input,
             "fvd_cdfvd_128": cdfvd_i3d_input, "fvd_cdfvd_256": cdfvd_i3d_input,
             "is_styleganv_ucf101": c3d_input, "is_tgan2_ucf101": c3d_input}


def network_input(preset_id: str, batch: torch.Tensor, device: str | torch.device = "cpu"
                  ) -> tuple[torch.Tensor, dict[str, Any]]:
    """(network input, detector call keyword arguments) for ``preset_id``."""
    preset = get_preset(preset_id)
    if preset_id not in INPUT_FNS:
        raise UnknownNameError(f"preset '{preset_id}' has no network input "
                               f"(known: {', '.join(sorted(INPUT_FNS))})")
    return INPUT_FNS[preset_id](batch, device), dict(preset.detector_call)
