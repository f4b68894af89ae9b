"""Video decoding backends: PyAV (default) and decord (``pip install "vdmbench[decord]"``).

Both return RGB uint8 frames ``(N, H, W, 3)`` by 0-based frame index. PyAV decodes the stream
from the start up to the last wanted frame and converts each with ``to_ndarray(format="rgb24")``;
decord seeks by its frame index (``VideoReader.get_batch``). VBench and many UCF101 loaders read
with decord, StyleGAN-V (moviepy) and cd-fvd (torchvision, which decodes through torchcodec
since 0.29) with FFmpeg through
other wrappers. docs/metrics.md records what the two backends give on the same files and
``benchmarks/decode_speed.py`` how fast each is. Errors name the file (:class:`DataError`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np

from vdmbench.errors import ConfigError, DataError

Backend = Literal["pyav", "decord"]
BACKENDS: tuple[str, ...] = ("pyav", "decord")


def _decord():  # type: ignore[no-untyped-def]
    try:
        import decord
    except ImportError as e:
        raise ConfigError(f"the decord video backend is not installed ({e}); install it with "
                          f"pip install \"vdmbench[decord]\" or use decoder: pyav") from None
    return decord


def probe(path: Path, backend: Backend = "pyav") -> tuple[int, float]:
    """(number of frames, fps) of a video's first video stream; DataError names the file."""
    if backend == "decord":
        decord = _decord()
        try:
            vr = decord.VideoReader(str(path), ctx=decord.cpu(0))
            n, fps = len(vr), float(vr.get_avg_fps() or 25.0)
        except Exception as e:  # decord.DECORDError and friends
            raise DataError(f"{path}: cannot read video ({type(e).__name__}: {e})") from None
        if n <= 0:
            raise DataError(f"{path}: no frames")
        return n, fps
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise DataError(f"{path}: no video stream")
            stream = container.streams.video[0]
            n = int(stream.frames or 0)
            rate = stream.average_rate or stream.base_rate or stream.guessed_rate
            fps = float(rate) if rate else 25.0
            if n <= 0:
                n = sum(1 for p in container.demux(stream) if p.size)
    except DataError:
        raise
    except Exception as e:  # av.FFmpegError and friends: corrupt or unreadable
        raise DataError(f"{path}: cannot read video ({type(e).__name__}: {e})") from None
    if n <= 0:
        raise DataError(f"{path}: no frames")
    return n, fps


def decode(path: Path, indices: Sequence[int], backend: Backend = "pyav") -> np.ndarray:
    """Decode the frames ``indices`` (0-based, any order, repeats allowed) → uint8
    ``(len(indices), H, W, 3)`` RGB."""
    if not len(indices):
        raise ValueError("decode: no frame indices")
    wanted = sorted(set(int(i) for i in indices))
    if wanted[0] < 0:
        raise ValueError(f"decode: negative frame index {wanted[0]}")
    if backend == "decord":
        decord = _decord()
        try:
            vr = decord.VideoReader(str(path), ctx=decord.cpu(0))
            n = len(vr)
            if wanted[-1] >= n:
                raise DataError(f"{path}: {n} frames, frame {wanted[-1]} is needed (truncated "
                                f"or corrupt video)")
            got = vr.get_batch(wanted).asnumpy()
        except DataError:
            raise
        except Exception as e:
            raise DataError(f"{path}: cannot decode video ({type(e).__name__}: {e})") from None
        by_index = {i: got[k] for k, i in enumerate(wanted)}
        return np.stack([by_index[int(i)] for i in indices])
    import av

    last = wanted[-1]
    want = set(wanted)
    frames: dict[int, np.ndarray] = {}
    decoded = 0
    try:
        with av.open(str(path)) as container:
            for i, frame in enumerate(container.decode(video=0)):
                decoded = i + 1
                if i in want:
                    frames[i] = frame.to_ndarray(format="rgb24")
                if i >= last:
                    break
    except Exception as e:
        raise DataError(f"{path}: cannot decode video ({type(e).__name__}: {e})") from None
    if len(frames) != len(wanted):
        raise DataError(f"{path}: decoded {decoded} frames, frame {last} is needed (truncated "
                        f"or corrupt video)")
    return np.stack([frames[int(i)] for i in indices])
