"""Named, versioned protocol presets and their preprocessing — in one place.

A preset fixes everything that changes the numbers: which clips are measured, how many, how
frames are resized (a :data:`vdmbench.video.ResizeMode`, and whether vdmbench or the detector does
it), the value range fed to the network and how the detector is called. Its ``id`` and
``version`` are recorded with every result (``Metric.protocol()``); the leaderboard refuses to put
values of different presets or versions side by side. Bump ``version`` whenever any of this
changes.

Presets:

- ``fvd_styleganv_2048_16f`` — StyleGAN-V's ``fvd2048_16f``: first 2048 real videos in the
  dataset's (sorted) order, one 16-frame window each at a seeded random offset (shorter videos are
  skipped); generated videos: first 16 frames. The uint8-range float clip is passed to the
  TorchScript I3D with ``rescale=True, resize=True``: the detector squashes to 224×224 (bilinear,
  per frame) and maps to [−1, 1] itself, exactly as StyleGAN-V calls it.
- ``fvd_cdfvd`` — cd-fvd (VideoGPT I3D): vdmbench squashes every frame to 224×224
  (``squash_bilinear``, no crop, no antialias) and maps x ↦ 2x/255 − 1; the network gets [−1, 1].
- ``is_tgan_ucf101`` — TGAN/TGANv2 UCF101 IS with StyleGAN-V's C3D port: first 16 frames, passed
  as uint8 ``(B, 3, 16, H, W)`` as StyleGAN-V does; the port squashes to 112×112 and does the BGR
  ×128 mean-subtraction inside. 2048 samples, 10 splits (shuffled with seed 42 as StyleGAN-V).
- ``psnr`` / ``ssim`` — fidelity of a student to the teacher for the same request and seed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import torch

from vdmbench.errors import UnknownNameError
from vdmbench.video import ResizeMode, check_batch, resize_video_batch, to_bcthw


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
    generated_clips: str = ""
    resize_mode: ResizeMode = "none"
    size: tuple[int, int] | None = None
    resized_by: Literal["vdmbench", "detector", "none"] = "none"
    network_input: str = ""
    detector_call: dict[str, Any] = field(default_factory=dict)
    value_range: str = ""
    source: str = ""

    def describe(self) -> dict[str, Any]:
        d = asdict(self)
        d["size"] = list(self.size) if self.size is not None else None
        return d


PRESETS: dict[str, ProtocolPreset] = {p.id: p for p in [
    ProtocolPreset(
        id="fvd_styleganv_2048_16f", version="1", kind="fvd",
        summary="StyleGAN-V fvd2048_16f: TF-Hub I3D (TorchScript port), 400-d logits",
        num_frames=16, num_real=2048, num_gen=2048,
        real_clips="first num_real videos in dataset order (videos shorter than num_frames "
                   "skipped); one num_frames window each at a random offset drawn from "
                   "numpy default_rng([seed, index])",
        generated_clips="first num_frames frames",
        resize_mode="squash_bilinear", size=(224, 224), resized_by="detector",
        network_input="float (B, 3, T, H, W) with uint8 values 0..255; the detector rescales "
                      "to [-1, 1] and resizes",
        detector_call={"rescale": True, "resize": True, "return_features": True},
        value_range="[0, inf), lower is better",
        source="universome/stylegan-v src/metrics/frechet_video_distance.py"),
    ProtocolPreset(
        id="fvd_cdfvd", version="1", kind="fvd",
        summary="cd-fvd / VideoGPT I3D (i3d_pretrained_400.pt), 400-d logits",
        num_frames=16, num_real=2048, num_gen=2048,
        real_clips="first num_real videos in dataset order (shorter ones skipped); one "
                   "num_frames window each at a random offset from default_rng([seed, index])",
        generated_clips="first num_frames frames",
        resize_mode="squash_bilinear", size=(224, 224), resized_by="vdmbench",
        network_input="float (B, 3, T, 224, 224) in [-1, 1] = 2x/255 - 1",
        detector_call={"rescale": False, "resize": False, "return_features": True},
        value_range="[0, inf), lower is better",
        source="songweig/content-debiased-fvd; wilson1yan/VideoGPT videogpt/fvd"),
    ProtocolPreset(
        id="is_tgan_ucf101", version="1", kind="is",
        summary="TGAN UCF101 Inception Score with the C3D (UCF101-finetuned) TorchScript port",
        num_frames=16, num_gen=2048,
        generated_clips="first num_frames frames",
        resize_mode="squash_bilinear", size=(112, 112), resized_by="detector",
        network_input="uint8 (B, 3, 16, H, W); the port resizes to 112x112, converts RGB to "
                      "BGR x128 and subtracts the C3D mean",
        detector_call={},
        value_range="[1, 101], higher is better; reported as mean ± std over 10 splits",
        source="pfnet-research/tgan2; universome/stylegan-v src/metrics/video_inception_score.py"),
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


def get_preset(preset_id: str) -> ProtocolPreset:
    """The preset named ``preset_id``; an unknown id lists the known ones."""
    if preset_id not in PRESETS:
        raise UnknownNameError(f"unknown protocol preset '{preset_id}'. Known presets: "
                               f"{', '.join(sorted(PRESETS))}")
    return PRESETS[preset_id]


# ------------------------------------------------------------------------------------------------
# clip selection
# ------------------------------------------------------------------------------------------------

def random_offset_clip(frames: torch.Tensor, num_frames: int, seed: int, index: int
                       ) -> torch.Tensor | None:
    """A ``num_frames`` window of ``(T, H, W, 3)`` at an offset drawn from
    ``numpy.random.default_rng([seed, index])``; None when ``T < num_frames`` (skipped, as
    StyleGAN-V's ``discard_short_videos``). Deterministic per (seed, index)."""
    t = int(frames.shape[0])
    if t < num_frames:
        return None
    offset = int(np.random.default_rng([seed, index]).integers(0, t - num_frames + 1))
    return frames[offset:offset + num_frames]


# ------------------------------------------------------------------------------------------------
# network inputs
# ------------------------------------------------------------------------------------------------

def styleganv_i3d_input(batch: torch.Tensor, device: str | torch.device = "cpu") -> torch.Tensor:
    """uint8 ``(B, T, H, W, 3)`` → float32 ``(B, 3, T, H, W)`` holding 0..255 (the TorchScript I3D
    rescales and resizes it itself with ``rescale=True, resize=True``)."""
    check_batch(batch)
    return to_bcthw(batch.to(device)).float().contiguous()


def cdfvd_i3d_input(batch: torch.Tensor, device: str | torch.device = "cpu") -> torch.Tensor:
    """uint8 ``(B, T, H, W, 3)`` → float32 ``(B, 3, T, 224, 224)`` in [−1, 1]: every frame squashed
    to 224×224 (``squash_bilinear``), then x ↦ 2x/255 − 1."""
    check_batch(batch)
    preset = PRESETS["fvd_cdfvd"]
    assert preset.size is not None
    x = to_bcthw(batch.to(device)).float()
    x = resize_video_batch(x, preset.size, preset.resize_mode)
    return (x * (2.0 / 255.0) - 1.0).contiguous()


def tgan_c3d_input(batch: torch.Tensor, device: str | torch.device = "cpu") -> torch.Tensor:
    """uint8 ``(B, T, H, W, 3)`` → uint8 ``(B, 3, T, H, W)`` (the C3D port resizes to 112×112 and
    normalizes inside, as StyleGAN-V feeds it)."""
    check_batch(batch)
    return to_bcthw(batch.to(device)).contiguous()


INPUT_FNS = {"fvd_styleganv_2048_16f": styleganv_i3d_input, "fvd_cdfvd": cdfvd_i3d_input,
             "is_tgan_ucf101": tgan_c3d_input}


def network_input(preset_id: str, batch: torch.Tensor, device: str | torch.device = "cpu"
                  ) -> tuple[torch.Tensor, dict[str, Any]]:
    """(network input, detector call keyword arguments) for ``preset_id``."""
    preset = get_preset(preset_id)
    if preset_id not in INPUT_FNS:
        raise UnknownNameError(f"preset '{preset_id}' has no network input "
                               f"(known: {', '.join(sorted(INPUT_FNS))})")
    return INPUT_FNS[preset_id](batch, device), dict(preset.detector_call)
