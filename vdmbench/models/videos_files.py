"""The files of a ``videos`` model's folder (:mod:`vdmbench.models.videos`): one per request id,
found, read (uint8 ``(T, H, W, 3)``) and checked against the requests before a run.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from vdmbench.errors import DataError
from vdmbench.generation import GenerationRequest
from vdmbench.requests_list import VIDEO_EXTENSIONS, file_stem


class MissingVideoError(DataError):
    """No file for a request; ``name``: the expected file name."""

    def __init__(self, message: str, *, name: str) -> None:
        super().__init__(message)
        self.name = name


def find_file(folder: Path, request_id: str) -> Path:
    """The one file of ``request_id`` in ``folder``; DataError when there is none or several."""
    stem = file_stem(request_id)
    found = [folder / f"{stem}{ext}" for ext in VIDEO_EXTENSIONS
             if (folder / f"{stem}{ext}").is_file()]
    if not found:
        raise MissingVideoError(f"{folder / stem}.mp4 missing (request {request_id}; any of "
                                f"{', '.join(VIDEO_EXTENSIONS)} may replace .mp4)",
                                name=f"{stem}.mp4")
    if len(found) > 1:
        raise DataError(f"{', '.join(p.name for p in found)} in {folder}: several files for "
                        f"request {request_id}; keep one")
    return found[0]


def read_video_file(path: Path) -> torch.Tensor:
    """uint8 ``(T, H, W, 3)`` frames of a ``.npy`` array or a video PyAV decodes; DataError
    names the file."""
    if path.suffix == ".npy":
        try:
            arr = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as e:
            raise DataError(f"{path}: cannot read ({e})") from None
        if arr.dtype != np.uint8 or arr.ndim != 4 or arr.shape[-1] != 3:
            raise DataError(f"{path}: expected uint8 (T, H, W, 3), got {arr.dtype} "
                            f"{tuple(arr.shape)}")
        return torch.from_numpy(np.ascontiguousarray(arr))
    from vdmbench.data.decode import decode, probe

    n, _ = probe(path)
    return torch.from_numpy(decode(path, range(n)))


def _shape(path: Path) -> tuple[int, int, int]:
    """(frames, height, width) of a video file, reading as little as it can."""
    if path.suffix == ".npy":
        try:
            arr = np.load(path, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError) as e:
            raise DataError(f"{path}: cannot read ({e})") from None
        if arr.dtype != np.uint8 or arr.ndim != 4 or arr.shape[-1] != 3:
            raise DataError(f"{path}: expected uint8 (T, H, W, 3), got {arr.dtype} "
                            f"{tuple(arr.shape)}")
        return int(arr.shape[0]), int(arr.shape[1]), int(arr.shape[2])
    frames = read_video_file(path)
    return int(frames.shape[0]), int(frames.shape[1]), int(frames.shape[2])


def _problem(folder: Path, r: GenerationRequest) -> tuple[str, str] | None:
    """What is wrong with the file of request ``r``: ("missing", file name) or ("bad", what);
    None: nothing."""
    try:
        path = find_file(folder, r.id)
        t, h, w = _shape(path)
    except MissingVideoError as e:
        return "missing", e.name
    except DataError as e:
        return "bad", str(e)
    wrong = []
    if t != r.frames:
        wrong.append(f"{t} frames, {r.frames} expected")
    if (h, w) != (r.height, r.width):
        wrong.append(f"{h}×{w} pixels, {r.height}×{r.width} expected")
    return ("bad", f"{path}: {'; '.join(wrong)}") if wrong else None


def check_folder(folder: Path, requests: Sequence[GenerationRequest], model: str,
                 limit: int | None = None) -> None:
    """Raise one DataError naming every request whose file is missing or unusable (``limit``:
    the run's ``--limit``, for the hint)."""
    found = [p for p in (_problem(folder, r) for r in requests) if p is not None]
    if not found:
        return
    missing = [text for kind, text in found if kind == "missing"]
    parts = [text for kind, text in found if kind == "bad"]
    if missing:
        parts.insert(0, f"missing in {folder} (.mp4 or any of {', '.join(VIDEO_EXTENSIONS)}): "
                        + ", ".join(missing))
    hint = "" if limit is not None or not missing else (
        "; a run with --limit N needs only the first N requests' videos")
    raise DataError(f"model '{model}': {len(found)} of {len(requests)} videos in {folder} are "
                    f"missing or unusable: " + "; ".join(parts) + hint)
