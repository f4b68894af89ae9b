"""Write videos the way VBench reads them, run VBench's own code in its own Python, read back.

VBench pins ``transformers==4.33.2`` and ``numpy<2``, which conflict with current diffusers, so it
runs in a separate interpreter (``python``: a path, e.g. ``${VBENCH_PYTHON}``) through
``subprocess``; nothing of it is imported here. Before starting it, every weight file the
requested dimensions need is checked under ``$VBENCH_CACHE_DIR`` (VBench would otherwise try to
download it): a missing one is a :class:`WeightsNotFoundError` naming the file. The child runs
with ``HF_HUB_OFFLINE=1`` / ``TRANSFORMERS_OFFLINE=1`` and VBench's ``local=True``.

VBench writes ``{name}_eval_results.json`` = ``{dimension: [score, [per-video dicts]]}``.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import av
import numpy as np
import torch

from vdmbench.errors import (
    ConfigError,
    DataError,
    InvalidVideoError,
    MetricError,
    WeightsNotFoundError,
)
from vdmbench.metrics.vbench.naming import Mode
from vdmbench.metrics.vbench.scores import STANDARD_ONLY, check_dimensions
from vdmbench.records import give_default_mode
from vdmbench.video import check_video

#: Files (relative to ``$VBENCH_CACHE_DIR``) VBench 0.1.5 loads per dimension in local mode.
REQUIRED_WEIGHTS: dict[str, tuple[str, ...]] = {
    "subject_consistency": ("dino_model/facebookresearch_dino_main/hubconf.py",
                            "dino_model/dino_vitbase16_pretrain.pth"),
    "background_consistency": ("clip_model/ViT-B-32.pt",),
    "temporal_flickering": (),
    "motion_smoothness": ("amt_model/amt-s.pth",),
    "dynamic_degree": ("raft_model/models/raft-things.pth",),
    "aesthetic_quality": ("clip_model/ViT-L-14.pt",
                          "aesthetic_model/emb_reader/sa_0_4_vit_l_14_linear.pth"),
    "imaging_quality": ("pyiqa_model/musiq_spaq_ckpt-358bb6af.pth",),
    "object_class": ("grit_model/grit_b_densecap_objectdet.pth",),
    "multiple_objects": ("grit_model/grit_b_densecap_objectdet.pth",),
    "color": ("grit_model/grit_b_densecap_objectdet.pth",),
    "spatial_relationship": ("grit_model/grit_b_densecap_objectdet.pth",),
    "human_action": ("umt_model/l16_ptk710_ftk710_ftk400_f16_res224.pth",),
    "scene": ("caption_model/tag2text_swin_14m.pth",),
    "appearance_style": ("clip_model/ViT-B-32.pt",),
    "temporal_style": ("ViCLIP/ViClip-InternVid-10M-FLT.pth",),
    "overall_consistency": ("ViCLIP/ViClip-InternVid-10M-FLT.pth",),
}


def cache_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """VBench's weight folder: ``explicit``, else ``$VBENCH_CACHE_DIR``, else
    ``~/.cache/vbench`` (VBench's own default)."""
    if explicit is not None:
        from vdmbench.paths import expand_path

        return expand_path(explicit, "VBench cache_dir")
    env = os.environ.get("VBENCH_CACHE_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "vbench"


def check_weights(dimensions: Sequence[str], root: Path) -> None:
    """Raise :class:`WeightsNotFoundError` naming every missing weight file of ``dimensions``."""
    check_dimensions(list(dimensions))
    missing = sorted({f"{d}: {root / rel}" for d in dimensions for rel in REQUIRED_WEIGHTS[d]
                      if not (root / rel).is_file()})
    if missing:
        raise WeightsNotFoundError(
            "VBench weights missing under $VBENCH_CACHE_DIR (" + str(root) + "): "
            + "; ".join(missing) + ". Put VBench's pretrained files there (see VBench's "
            "pretrained/README.md); vdmbench never downloads them")


def write_mp4(frames: torch.Tensor, path: Path, fps: float, crf: int = 0,
              pix_fmt: Literal["yuv444p", "yuv420p"] = "yuv444p") -> None:
    """Write uint8 ``(T, H, W, 3)`` RGB frames to ``path`` as H.264 with PyAV, atomically.

    ``crf=0`` is lossless in the YUV domain (only the RGB→YUV rounding remains); ``yuv444p``
    keeps full chroma and allows odd sizes, ``yuv420p`` (what most samplers write) needs even
    height and width."""
    if pix_fmt == "yuv420p" and (frames.shape[1] % 2 or frames.shape[2] % 2):
        raise InvalidVideoError(f"{path}: yuv420p needs even height and width, got "
                                f"{tuple(frames.shape[1:3])}")
    check_video(frames, str(path))
    arr = frames.detach().to("cpu").numpy()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".mp4", dir=path.parent)
    give_default_mode(fd)  # mkstemp makes 0600; the file gets what the umask gives
    os.close(fd)
    try:
        with av.open(tmp, mode="w", format="mp4") as container:
            rate = max(1, round(fps))
            stream = container.add_stream("libx264", rate=rate)
            stream.width, stream.height = int(arr.shape[2]), int(arr.shape[1])
            stream.pix_fmt = pix_fmt
            stream.options = {"crf": str(crf), "preset": "medium"}
            for f in arr:
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")
                for packet in stream.encode(frame):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_mp4(path: Path) -> torch.Tensor:
    """Decode an mp4 to uint8 ``(T, H, W, 3)`` RGB (for checks)."""
    with av.open(str(path)) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    if not frames:
        raise DataError(f"{path}: no frames decoded")
    return torch.from_numpy(np.stack(frames))


@dataclass(frozen=True)
class DimensionResult:
    """VBench's result for one dimension: mean ``score`` and per-video entries."""

    score: float
    per_video: list[dict[str, Any]]

    @property
    def n_videos(self) -> int:
        return len(self.per_video)


def read_results(path: Path) -> dict[str, DimensionResult]:
    """Parse ``{name}_eval_results.json`` = ``{dim: [score, per-video list]}``; errors name the
    file and the dimension."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MetricError(f"VBench wrote no results file at {path}") from None
    except (OSError, json.JSONDecodeError) as e:
        raise MetricError(f"{path}: cannot read VBench results: {e}") from None
    if not isinstance(data, dict):
        raise MetricError(f"{path}: expected {{dimension: [score, per-video]}}")
    out = {}
    for dim, v in data.items():
        if (not isinstance(v, list) or len(v) != 2 or not isinstance(v[0], (int, float))
                or isinstance(v[0], bool) or not isinstance(v[1], list)):
            raise MetricError(f"{path}: dimension {dim!r}: expected [score, per-video list]")
        out[dim] = DimensionResult(float(v[0]), list(v[1]))
    return out


# The child program: run in VBench's own interpreter. Arguments come as one JSON string.
_CHILD = r"""
import json, sys
a = json.loads(sys.argv[1])
from vbench import VBench
kw = {"dimension_list": a["dimensions"], "local": True, "mode": a["mode"]}
if a["mode"] == "custom_input" and a["prompts"]:
    kw["prompt_list"] = a["prompts"]
VBench(a["device"], a["full_info"], a["output_dir"]).evaluate(a["videos_dir"], a["name"], **kw)
"""


def run_vbench(python: str | os.PathLike[str], videos_dir: Path, output_dir: Path, name: str,
               dimensions: Sequence[str], *, full_info: Path | None, weights_dir: Path,
               device: str = "cuda", mode: Mode = "vbench_standard",
               prompts: dict[str, str] | None = None, timeout_s: float | None = None
               ) -> dict[str, DimensionResult]:
    """Run VBench on ``videos_dir`` in the interpreter ``python``; returns its results.

    ``prompts`` (custom_input mode): file name → prompt. ``full_info``: the prompt list (needed in
    standard mode). Raises :class:`ConfigError` for a bad interpreter, :class:`MetricError` with
    the child's last output lines if VBench fails, :class:`WeightsNotFoundError` before starting
    if a weight file is missing."""
    from vdmbench.paths import expand_path

    dims = list(dimensions)
    check_dimensions(dims)
    if mode == "custom_input":
        bad = sorted(set(dims) & STANDARD_ONLY)
        if bad:
            raise ConfigError(f"VBench dimensions {', '.join(bad)} need mode vbench_standard "
                              f"(VBench's prompt list); custom_input supports the others")
    elif full_info is None:
        raise ConfigError("VBench standard mode needs the prompt list (full_info)")
    exe = expand_path(python, "VBench python")
    if not exe.is_file() or not os.access(exe, os.X_OK):
        raise ConfigError(f"VBench python interpreter not found or not executable: {exe} "
                          f"(set option 'python', e.g. ${{VBENCH_PYTHON}}; see docs/vbench.md)")
    check_weights(dims, weights_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    args = {"dimensions": dims, "mode": mode, "device": device, "name": name,
            "full_info": str(full_info) if full_info else "", "output_dir": str(output_dir),
            "videos_dir": str(videos_dir),
            "prompts": dict(prompts or {})}
    env = dict(os.environ, VBENCH_CACHE_DIR=str(weights_dir), HF_HUB_OFFLINE="1",
               TRANSFORMERS_OFFLINE="1")
    env.pop("PYTHONPATH", None)  # keep this environment's packages out of VBench's
    try:
        proc = subprocess.run([str(exe), "-c", _CHILD, json.dumps(args)], env=env,
                              capture_output=True, text=True, timeout=timeout_s,
                              cwd=str(output_dir), check=False)
    except subprocess.TimeoutExpired:
        raise MetricError(f"VBench did not finish within {timeout_s} s on {videos_dir}") from None
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + "\n" + proc.stderr).strip().splitlines()[-15:])
        raise MetricError(f"VBench ({exe}) failed with exit status {proc.returncode} on "
                          f"{videos_dir} for {', '.join(dims)}:\n{tail}")
    results = read_results(output_dir / f"{name}_eval_results.json")
    absent = [d for d in dims if d not in results]
    if absent:
        raise MetricError(f"VBench results {output_dir / (name + '_eval_results.json')} lack "
                          f"dimension(s) {', '.join(absent)}")
    return results
