"""What each step of StyleGAN-V's real-data preparation changes, measured on a synthetic
UCF101-layout set (320×240 MPEG-4 AVI, decoded with PyAV) at the detector's input (its own
bilinear squash to 224×224). Run with ``-s`` to print the table docs/metrics.md records."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from test_peers import _textured_video

from vdmbench.data.decode import decode
from vdmbench.metrics.protocols import styleganv_prepare_frame
from vdmbench.video import resize_frames


def _squash224(frames: np.ndarray) -> torch.Tensor:
    x = torch.from_numpy(frames).permute(0, 3, 1, 2).float()
    return F.interpolate(x, size=(224, 224), mode="bilinear", align_corners=False)


def _v1_suite_path(frames: np.ndarray) -> np.ndarray:
    """vdmbench before: the dataset's cover-centre-crop to the suite's 576×1024 (bilinear, no
    antialias), uint8."""
    x = torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 255.0
    y = resize_frames(x, (576, 1024), "short_side_center_crop")
    return (y * 255).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()


def _square_crop(frames: np.ndarray) -> np.ndarray:
    h, w = frames.shape[1:3]
    s = min(h, w)
    top, left = int(round((h - s) / 2)), int(round((w - s) / 2))
    return frames[:, top:top + s, left:left + s]


def _lanczos_no_jpeg(frames: np.ndarray) -> np.ndarray:
    from PIL import Image

    out = []
    for f in frames:
        img = Image.fromarray(f)
        w, h = img.size
        nw, nh = (int(256 * w / h), 256) if w >= h else (256, int(256 * h / w))
        arr = np.asarray(img.resize((nw, nh), Image.LANCZOS))
        top, left = int(round((nh - 256) / 2)), int(round((nw - 256) / 2))
        out.append(arr[top:top + 256, left:left + 256])
    return np.stack(out)


@pytest.mark.slow
def test_styleganv_preparation_steps_measured(tmp_path: Path) -> None:
    import av

    steps: dict[str, list[torch.Tensor]] = {k: [] for k in ("v1", "crop", "lanczos", "jpeg")}
    for k in range(8):
        path = tmp_path / f"v_{k}.avi"
        frames = _textured_video(200 + k, 16, 240, 320)
        with av.open(str(path), "w") as c:
            s = c.add_stream("mpeg4", rate=25)
            s.width, s.height, s.pix_fmt = 320, 240, "yuv420p"
            for f in frames:
                for p in s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                    c.mux(p)
            for p in s.encode():
                c.mux(p)
        dec = decode(path, list(range(16)))
        steps["v1"].append(_squash224(_v1_suite_path(dec)))
        steps["crop"].append(_squash224(_square_crop(dec)))
        steps["lanczos"].append(_squash224(_lanczos_no_jpeg(dec)))
        steps["jpeg"].append(_squash224(np.stack([styleganv_prepare_frame(f) for f in dec])))
    cat = {k: torch.cat(v) for k, v in steps.items()}
    rows = []
    for a, b in (("v1", "crop"), ("crop", "lanczos"), ("lanczos", "jpeg"), ("v1", "jpeg")):
        d = (cat[a] - cat[b]).abs()
        mse = float(((cat[a] - cat[b]) ** 2).mean())
        psnr = 10 * np.log10(255.0 ** 2 / mse)
        rows.append((a, b, float(d.mean()), float(d.max()), psnr))
        print(f"| {a} → {b} | {float(d.mean()):.2f} | {float(d.max()):.0f} | {psnr:.1f} |")
    jpeg_step = rows[2]
    assert 0.1 < jpeg_step[2] < 10.0      # the JPEG round trip changes values, a little
    assert rows[0][2] > jpeg_step[2]       # the crop (aspect ratio) changes most
