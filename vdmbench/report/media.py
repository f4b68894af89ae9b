"""Media for the HTML report: H.264 MP4 clips, PNG stills and the latency bar chart.

Videos are encoded with PyAV's ``libx264`` (yuv420p, ``+faststart`` so a browser can start
playing before the whole file is read); every clip also gets a PNG still (its first frame) that
the page shows when a browser cannot play the MP4. Tiny frames (e.g. the synthetic world's
16×16) are enlarged by an integer nearest-neighbour factor, so pixels stay sharp; large frames
are reduced (bilinear, antialiased) so the page stays small.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from vdmbench.errors import VdmbenchError

#: the long side of a displayed clip is brought into [MIN_SIDE, MAX_SIDE] pixels
MIN_SIDE, MAX_SIDE = 128, 256
#: x264 constant rate factor (lower = better quality, larger files); 18 is visually lossless
CRF = 18
CODEC = "libx264"


def display_frames(frames: torch.Tensor) -> torch.Tensor:
    """uint8 ``(T, H, W, 3)`` → uint8 ``(T, H', W', 3)`` with the long side in
    [``MIN_SIDE``, ``MAX_SIDE``] (integer nearest-neighbour up, antialiased bilinear down) and
    even ``H'``, ``W'`` (what yuv420p needs)."""
    t, h, w, _ = frames.shape
    long_side = max(h, w)
    if long_side < MIN_SIDE:
        k = math.ceil(MIN_SIDE / long_side)
        out = frames.repeat_interleave(k, dim=1).repeat_interleave(k, dim=2)
    elif long_side > MAX_SIDE:
        s = MAX_SIDE / long_side
        size = (max(2, round(h * s)), max(2, round(w * s)))
        x = frames.permute(0, 3, 1, 2).float()
        x = F.interpolate(x, size=size, mode="bilinear", antialias=True, align_corners=False)
        out = x.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1)
    else:
        out = frames
    return out[:, : out.shape[1] // 2 * 2, : out.shape[2] // 2 * 2].contiguous()


def encode_mp4(frames: torch.Tensor, fps: float, path: Path) -> None:
    """Write uint8 ``(T, H, W, 3)`` frames (even H, W) as an H.264 MP4 at ``fps``."""
    import av

    arr = frames.cpu().numpy()
    _, h, w, _ = arr.shape
    if h % 2 or w % 2:
        raise VdmbenchError(f"{path}: H.264 (yuv420p) needs even frame sizes, got {h}×{w}")
    rate = _rate(fps)
    with av.open(str(path), "w", format="mp4", options={"movflags": "+faststart"}) as out:
        stream = out.add_stream(CODEC, rate=rate)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.options = {"crf": str(CRF), "preset": "slow", "tune": "animation"}
        for frame in arr:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def _rate(fps: float) -> Any:
    """fps as a Fraction (PyAV wants a rational frame rate)."""
    from fractions import Fraction

    if fps <= 0 or not math.isfinite(fps):
        raise VdmbenchError(f"cannot encode a video at {fps} frames per second")
    return Fraction(fps).limit_denominator(1001)


def write_png(image: torch.Tensor, path: Path) -> None:
    """Write a uint8 ``(H, W, 3)`` image as PNG."""
    from PIL import Image

    Image.fromarray(np.ascontiguousarray(image.cpu().numpy())).save(path, optimize=True)


def latency_bars(rows: Sequence[dict[str, Any]], path: Path, title: str = "") -> bool:
    """Per-model horizontal stacked bars of one video's latency split by component (ms).

    ``rows``: ``{"model": str, "steps": int, "components": {name: (median_s, valid)},
    "per_video": (median_s, valid) | None}``; ``denoise`` is one step, drawn × ``steps``. The
    measured per-video latency is a black tick. The bar is a sum of components timed call by
    call, an estimate that need not equal the measured whole video (a step timed alone does not
    run as inside the sampling loop): each bar is labelled with both and their ratio. Invalid
    timings are hatched. False if no model has component timings.
    """
    rows = [r for r in rows if r["components"]]
    if not rows:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from vdmbench.leaderboard import COMPONENT_ORDER
    from vdmbench.records import atomic_save_figure

    names = sorted({c for r in rows for c in r["components"]},
                   key=lambda c: (COMPONENT_ORDER.index(c) if c in COMPONENT_ORDER
                                  else len(COMPONENT_ORDER), c))
    colors = dict(zip(names, plt.get_cmap("tab10").colors))
    fig, ax = plt.subplots(figsize=(10.0, 0.55 * len(rows) + 1.9))
    any_invalid = False
    for y, r in enumerate(rows):
        left = 0.0
        for c in names:
            if c not in r["components"]:
                continue
            median_s, valid = r["components"][c]
            width = median_s * 1e3 * (r["steps"] if c == "denoise" else 1)
            any_invalid |= not valid
            ax.barh(y, width, left=left, color=colors[c], hatch=None if valid else "//",
                    edgecolor="white", height=0.6,
                    label=(f"{c} × steps" if c == "denoise" else c) if y == 0 else None)
            left += width
        label = f"Σ {left:.4g} ms"
        if r["per_video"] is not None:
            measured = r["per_video"][0] * 1e3
            ax.plot([measured] * 2, [y - 0.38, y + 0.38], color="black", lw=2,
                    label="measured per video" if y == 0 else None)
            label += f" · measured {measured:.4g} ms (Σ/measured {left / measured:.2f})"
            left = max(left, measured)
        ax.annotate(label, (left, y), xytext=(4, 0), textcoords="offset points",
                    va="center", fontsize=7)
    ax.set_yticks(range(len(rows)), [f"{r['model']} ({r['steps']} steps)" for r in rows],
                  fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("latency per video (ms); bars: components timed call by call (medians, "
                  "denoise × steps)", fontsize=8)
    ax.set_xlim(right=ax.get_xlim()[1] * 1.6)  # room for the labels
    ax.grid(axis="x", alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    if any_invalid:
        from matplotlib.patches import Patch

        handles.append(Patch(facecolor="lightgrey", hatch="//", edgecolor="white"))
        labels.append("timing not valid")
    ax.legend(handles, labels, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.22),
              ncol=len(handles), frameon=False)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    atomic_save_figure(fig, path, dpi=110)
    return True
