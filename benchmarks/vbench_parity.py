"""Native ``temporal_flickering`` vs VBench's own implementation on the same mp4 files.

    python benchmarks/vbench_parity.py --vbench-python ~/vbench-env/bin/python [--out DIR]

Writes 64 SynthMotion test clips (16 frames, 64×64), a static video, a 16 px white square moving
2 px per frame and uniform noise as mp4 (the VBench family's lossless encoding), runs VBench's
``temporal_flickering`` on them in VBench's interpreter (custom-input mode, CPU; this dimension
loads no weights), scores the same files natively, and prints one JSON object: both means, the
largest per-video difference on the same mp4 files and against the frames before encoding, and
the three reference videos' (VBench, native on mp4, native on frames) scores.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

from vdmbench.data.synthmotion import render_batch
from vdmbench.metrics.vbench.flickering import flickering_score
from vdmbench.metrics.vbench.runner import read_mp4, run_vbench, write_mp4


def reference_videos(frames: int = 16, size: int = 64) -> dict[str, torch.Tensor]:
    """File name (VBench naming, ``{prompt}-0.mp4``) → uint8 ``(T, H, W, 3)`` video."""
    out: dict[str, torch.Tensor] = {}
    clips, _ = render_batch(list(range(64)), "test", frames, size, size, 0)
    for i, clip in enumerate(clips):
        out[f"synthmotion test clip-{i}.mp4"] = clip
    out["a static frame-0.mp4"] = torch.full((frames, size, size, 3), 90, dtype=torch.uint8)
    square = torch.zeros(frames, size, size, 3, dtype=torch.uint8)
    for t in range(frames):
        square[t, size // 2 - 8:size // 2 + 8, 2 * t:2 * t + 16] = 255
    out["a square moving 2 px per frame-0.mp4"] = square
    out["uniform noise-0.mp4"] = torch.randint(0, 256, (frames, size, size, 3), dtype=torch.uint8,
                                               generator=torch.Generator().manual_seed(0))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vbench-python", required=True, help="the interpreter VBench is installed in")
    ap.add_argument("--out", type=Path, default=None, help="keep the mp4 files and VBench's output")
    args = ap.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp)
        vdir = out / "videos"
        vdir.mkdir(parents=True, exist_ok=True)
        vids = reference_videos()
        for name, v in vids.items():
            write_mp4(v, vdir / name, 8.0)
        t0 = time.perf_counter()
        res = run_vbench(args.vbench_python, vdir, out / "vbench_out", "parity",
                         ["temporal_flickering"], full_info=None, weights_dir=out, device="cpu",
                         mode="custom_input", prompts={n: n.rsplit("-", 1)[0] for n in vids})
        seconds = time.perf_counter() - t0
        theirs = {Path(e["video_path"]).name: float(e["video_results"])
                  for e in res["temporal_flickering"].per_video}
        rows = {n: (theirs[n], flickering_score(read_mp4(vdir / n)), flickering_score(v))
                for n, v in vids.items()}
    print(json.dumps({
        "videos": len(rows),
        "vbench_mean": res["temporal_flickering"].score,
        "native_mean_same_mp4": sum(r[1] for r in rows.values()) / len(rows),
        "max_abs_diff_same_mp4": max(abs(a - b) for a, b, _ in rows.values()),
        "max_abs_diff_vs_frames": max(abs(a - c) for a, _, c in rows.values()),
        "vbench_seconds": round(seconds, 1),
        "reference_videos": {n: rows[n] for n in vids if not n.startswith("synthmotion")},
    }, indent=1))


if __name__ == "__main__":
    main()
