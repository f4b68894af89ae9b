"""Decode speed of 16-frame strided clips: PyAV vs decord (``vdmbench.data.decode``).

Synthesizes UCF101-like videos (320×240, 25 fps, MPEG-4 part 2 in AVI as UCF101's own files,
``--frames`` long), then in each round decodes one 16-frame clip at stride ``--stride`` at a
seeded random offset from every video with both backends, A/B and B/A alternating between rounds
(interleaved, so drifting machine load hits both alike). The clips of the two backends are
compared: MPEG-4 part 2 decoders need not agree bit for bit (its IDCT is not exact), so the
largest absolute difference and the share of differing values are reported. Prints one JSON
object: per-clip median milliseconds of each backend and the median of the per-round ratios
pyav/decord (> 1: decord is faster).

    python benchmarks/decode_speed.py                       # 8 videos, 150 frames, 12 rounds
    python benchmarks/decode_speed.py --videos 4 --rounds 4 --frames 80   # quick run
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from vdmbench.data.decode import decode


def _write(path: Path, n: int, seed: int) -> None:
    import av

    rng = np.random.default_rng(seed)
    base = (rng.random((30, 40, 3)) * 255).astype(np.uint8).repeat(8, 0).repeat(8, 1)
    with av.open(str(path), "w") as c:
        s = c.add_stream("mpeg4", rate=25)
        s.width, s.height, s.pix_fmt = 320, 240, "yuv420p"
        for i in range(n):
            frame = np.roll(base, (i % 7, 2 * i), axis=(0, 1))
            for p in s.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--videos", type=int, default=8)
    ap.add_argument("--frames", type=int, default=150, help="frames per video")
    ap.add_argument("--stride", type=int, default=3)
    ap.add_argument("--clip", type=int, default=16, help="frames per clip")
    ap.add_argument("--rounds", type=int, default=12)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    import av
    import decord

    span = (args.clip - 1) * args.stride + 1
    if span > args.frames:
        raise SystemExit(f"a clip spans {span} frames; videos have {args.frames}")
    with tempfile.TemporaryDirectory() as tmp:
        paths = [Path(tmp) / f"v{i:02d}.avi" for i in range(args.videos)]
        for i, p in enumerate(paths):
            _write(p, args.frames, i)
        rng = np.random.default_rng(0)
        times: dict[str, list[float]] = {"pyav": [], "decord": []}
        ratios = []
        max_diff, differing, total = 0, 0, 0
        for r in range(args.rounds):
            starts = rng.integers(0, args.frames - span + 1, len(paths))
            clips = [list(range(int(s), int(s) + span, args.stride)) for s in starts]
            order = ("pyav", "decord") if r % 2 == 0 else ("decord", "pyav")
            per_round: dict[str, float] = {}
            got: dict[str, list[np.ndarray]] = {}
            for backend in order:
                t0 = time.perf_counter()
                got[backend] = [decode(p, idx, backend) for p, idx in zip(paths, clips)]  # type: ignore[arg-type]
                per_round[backend] = (time.perf_counter() - t0) / len(paths)
                times[backend].append(per_round[backend])
            for a, b in zip(got["pyav"], got["decord"]):
                if a.shape != b.shape:
                    raise SystemExit(f"the backends decoded shapes {a.shape} and {b.shape}")
                diff = np.abs(a.astype(np.int16) - b.astype(np.int16))
                max_diff = max(max_diff, int(diff.max()))
                differing += int((diff > 0).sum())
                total += diff.size
            ratios.append(per_round["pyav"] / per_round["decord"])
    result = {
        "benchmark": "decode_speed", "videos": args.videos, "frames": args.frames,
        "size": "320x240", "codec": "mpeg4 (AVI)", "clip": args.clip, "stride": args.stride,
        "rounds": args.rounds,
        "pyav_ms_per_clip": round(1e3 * float(np.median(times["pyav"])), 2),
        "decord_ms_per_clip": round(1e3 * float(np.median(times["decord"])), 2),
        "ratio_pyav_over_decord": round(float(np.median(ratios)), 3),
        "max_abs_diff": max_diff, "share_of_values_differing": differing / total,
        "versions": {"python": platform.python_version(), "torch": torch.__version__,
                     "av": av.__version__, "decord": decord.__version__},
        "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}",
    }
    print(json.dumps(result))
    if args.out is not None:
        args.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
