"""UCF101 from its official distribution: videos, split files, named clip presets.

Layout under ``root`` (``${UCF101_ROOT}`` by default)::

    UCF-101/<ClassName>/v_<ClassName>_gXX_cYY.avi        13,320 videos, 101 classes, 320×240
    ucfTrainTestlist/classInd.txt                         "1 ApplyEyeMakeup" per line
    ucfTrainTestlist/trainlist0{1,2,3}.txt                "ApplyEyeMakeup/v_…_g08_c01.avi 1"
    ucfTrainTestlist/testlist0{1,2,3}.txt                 "ApplyEyeMakeup/v_…_g01_c01.avi"

The suite's ``dataset.split`` picks ``train``, ``test`` or ``trainval`` (train ∪ test) of split
file ``split_file`` (1–3). Videos are decoded with PyAV, or with decord when
``decoder: decord`` (:mod:`vdmbench.data.decode`). A listed video that is missing, corrupt
or shorter than a clip needs is a :class:`~vdmbench.errors.DataError` naming its path — nothing
is skipped silently.

Clip presets (``clip_preset``; each has a version recorded in :meth:`manifest_hash`):

- ``fvd_styleganv_2048_16f`` (v1): the first ``num_videos`` videos of the split in sorted path
  order, one 16-frame window (stride 1) at a seeded random offset each (StyleGAN-V's real-video
  protocol; 2048 videos of train+test for its UCF101 numbers).
- ``i2v_dynamicrafter`` (v1): ``num_videos`` videos drawn at random (seeded, without
  replacement), one 16-frame clip with frame stride 3 at a seeded random offset each; the clip's
  first frame is the conditioning image (DynamiCrafter's UCF101 image-to-video protocol).

A video shorter than ``(frames − 1)·stride + 1`` frames gets the largest stride that fits
(recorded in the request's ``extra``); one shorter than ``frames`` is an error.

Resize policy (one for conditioning frames and reference clips): frames go from 320×240 to the
suite's ``height``×``width`` by ``cover_center_crop`` (bilinear, no antialias, scaled so the
frame covers the target, then a centre crop; aspect ratio kept) or ``squash`` (bilinear to the
exact size), both through :func:`vdmbench.video.resize_frames`.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pydantic import BaseModel

from vdmbench.data.base import VideoDataset
from vdmbench.data.clips import ClipRef, ClipSampler, ClipSource, resize_clip, select
from vdmbench.data.decode import Backend, decode, probe
from vdmbench.data.ucf101_config import PRESETS, ClipPreset, UCF101Config, UCF101Options
from vdmbench.errors import ConfigError, DataError
from vdmbench.generation import GenerationRequest
from vdmbench.suite import DatasetSpec
from vdmbench.video import Video

__all__ = ["UCF101Dataset", "UCF101Options", "ClipPreset", "Clip", "PRESETS", "class_to_prompt",
           "read_class_index", "read_split_list", "probe_video", "decode_frames", "SourceVideo",
           "resize_clip"]


@dataclass(frozen=True)
class Clip:
    """One sample: video ``relpath`` (under UCF-101/), its class, and the frames
    ``start, start + stride, …`` (``frames`` of them) of a video with ``total`` frames."""

    index: int
    relpath: str
    path: Path
    class_name: str
    label: int
    start: int
    stride: int
    frames: int
    total: int
    fps: float

    @property
    def frame_indices(self) -> list[int]:
        return [self.start + i * self.stride for i in range(self.frames)]


def class_to_prompt(name: str) -> str:
    """``"ApplyEyeMakeup"`` → ``"apply eye makeup"`` (CamelCase split, lower case)."""
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", " ", name)
    return " ".join(words.replace("_", " ").split()).lower()


# -------------------------------------------------------------------------------- split files


def _lines(path: Path) -> list[tuple[int, str]]:
    try:
        text = path.read_text(encoding="utf-8", errors="strict")
    except FileNotFoundError:
        raise DataError(f"{path}: split file not found (get ucfTrainTestlist/ from the UCF101 "
                        f"site's 'The Train/Test Splits for Action Recognition' zip)") from None
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"{path}: cannot read: {e}") from None
    return [(i + 1, ln.strip()) for i, ln in enumerate(text.splitlines()) if ln.strip()]


def read_class_index(path: Path) -> dict[str, int]:
    """``classInd.txt`` → {class name: 1-based label}."""
    out: dict[str, int] = {}
    for lineno, line in _lines(path):
        parts = line.split()
        if len(parts) != 2 or not parts[0].isdigit():
            raise DataError(f"{path}:{lineno}: expected '<index> <ClassName>', got {line!r}")
        out[parts[1]] = int(parts[0])
    if not out:
        raise DataError(f"{path}: no classes")
    return out


def read_split_list(path: Path, classes: dict[str, int]) -> list[tuple[str, str, int]]:
    """``trainlist0k.txt`` / ``testlist0k.txt`` → [(relpath, class name, label)].

    Train lines carry the label (checked against the class folder); test lines do not.
    """
    lower = {k.lower(): (k, v) for k, v in classes.items()}
    out = []
    for lineno, line in _lines(path):
        parts = line.replace("\\", "/").split()
        rel = parts[0]
        folder = rel.split("/")[0] if "/" in rel else ""
        if not folder or not rel.lower().endswith(".avi") or len(parts) > 2:
            raise DataError(f"{path}:{lineno}: expected '<ClassName>/<video>.avi [label]', "
                            f"got {line!r}")
        if folder.lower() not in lower:
            raise DataError(f"{path}:{lineno}: class folder {folder!r} is not in classInd.txt")
        name, label = lower[folder.lower()]
        if len(parts) == 2 and (not parts[1].isdigit() or int(parts[1]) != label):
            raise DataError(f"{path}:{lineno}: label {parts[1]} does not match class {name} "
                            f"({label} in classInd.txt)")
        out.append((rel, folder, label))
    return out


# -------------------------------------------------------------------------------- decoding


def probe_video(path: Path, backend: Backend = "pyav") -> tuple[int, float]:
    """(number of frames, fps) of a video's first video stream; DataError names the file."""
    return probe(path, backend)


def decode_frames(path: Path, indices: Sequence[int], backend: Backend = "pyav") -> np.ndarray:
    """Decode the frames ``indices`` (0-based) → uint8 ``(len, H, W, 3)`` RGB."""
    return decode(path, indices, backend)


@dataclass
class SourceVideo:
    """One whole video file of the split, read lazily: ``num_frames`` and ``read(start, count)``
    → uint8 ``(count, H, W, 3)`` at its native size (what the FVD presets prepare themselves)."""

    relpath: str
    path: Path
    backend: Backend
    _num_frames: int | None = None

    @property
    def num_frames(self) -> int:
        if self._num_frames is None:
            self._num_frames = probe_video(self.path, self.backend)[0]
        return self._num_frames

    def read(self, start: int, count: int) -> torch.Tensor:
        return torch.from_numpy(decode_frames(self.path, list(range(start, start + count)),
                                              self.backend))


# -------------------------------------------------------------------------------- dataset


def _request_seed(seed: int, index: int) -> int:
    digest = hashlib.sha256(f"ucf101:{seed}:{index}".encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


class UCF101Dataset(UCF101Config, VideoDataset):
    """``ucf101``: image-to-video requests (first frames + class prompts) and real clips."""

    def __init__(self, spec: DatasetSpec, options: BaseModel | None = None) -> None:
        super().__init__(spec, options)
        o: UCF101Options = self.options  # type: ignore[assignment]
        root = self.check(spec, o)
        self.preset = PRESETS[o.clip_preset]
        self.stride = o.frame_stride or self.preset.stride
        self.root = root
        self.videos_dir = root / o.videos_subdir
        self.splits_dir = root / o.splits_subdir
        self.classes = read_class_index(self.splits_dir / "classInd.txt")
        self._files: list[tuple[str, str, int, int]] | None = None
        self._clips: list[Clip] | None = None

    # -- the file list ---------------------------------------------------------------------------

    def files(self) -> list[tuple[str, str, int, int]]:
        """The split's videos, sorted by path: (relpath, class name, label, size in bytes)."""
        if self._files is None:
            k = self.options.split_file  # type: ignore[attr-defined]
            subset = self.spec.split
            lists = {"train": [f"trainlist0{k}.txt"], "test": [f"testlist0{k}.txt"],
                     "trainval": [f"trainlist0{k}.txt", f"testlist0{k}.txt"]}[subset]
            entries: dict[str, tuple[str, int]] = {}
            for name in lists:
                for rel, cls, label in read_split_list(self.splits_dir / name, self.classes):
                    entries[rel] = (cls, label)
            files = []
            for rel in sorted(entries):
                p = self.videos_dir / rel
                try:
                    size = p.stat().st_size
                except OSError:
                    raise DataError(f"{p}: listed in {self.splits_dir} ({subset} of split "
                                    f"{k}) but missing") from None
                files.append((rel, *entries[rel], size))
            if not files:
                raise DataError(f"{self.splits_dir}: the {subset} list of split {k} is empty")
            self._files = files
        return self._files

    def clips(self) -> list[Clip]:
        """The ``num_videos`` clips of the preset (probes each chosen video's length)."""
        if self._clips is None:
            files = self.files()
            n = self.spec.num_videos
            if n > len(files):
                raise DataError(f"ucf101: {n} videos requested, the {self.spec.split} list of "
                                f"split {self.options.split_file} has {len(files)}")  # type: ignore[attr-defined]
            p = self.preset
            tag = f"{p.name}/{p.version}:{self.spec.seed}"
            if p.selection == "first_sorted":
                chosen = files[:n]
            else:
                chosen = random.Random(f"select:{tag}").sample(files, n)
            clips = []
            for i, (rel, cls, label, _) in enumerate(chosen):
                path = self.videos_dir / rel
                total, fps = probe_video(path, self.options.decoder)  # type: ignore[attr-defined]
                stride = self.stride
                while stride > 1 and (p.frames - 1) * stride + 1 > total:
                    stride -= 1
                span = (p.frames - 1) * stride + 1
                if span > total:
                    raise DataError(f"{path}: {total} frames, clip preset {p.name} needs at "
                                    f"least {p.frames}")
                start = random.Random(f"offset:{tag}:{rel}").randint(0, total - span)
                clips.append(Clip(i, rel, path, cls, label, start, stride, p.frames, total, fps))
            self._clips = clips
        return self._clips

    # -- the dataset protocol ----------------------------------------------------------------------

    def _size(self) -> tuple[int, int]:
        return self.spec.height, self.spec.width

    def requests(self) -> list[GenerationRequest]:
        """One request per clip: the clip's first frame (resized) and the class as prompt."""
        out = []
        policy = self.options.resize  # type: ignore[attr-defined]
        for c in self.clips():
            first = decode_frames(c.path, [c.start], self.options.decoder)  # type: ignore[attr-defined]
            image = resize_clip(first, self._size(), policy)[0]
            out.append(GenerationRequest(
                id=f"ucf101-{c.index:05d}-{Path(c.relpath).stem}",
                seed=_request_seed(self.spec.seed, c.index), frames=self.spec.frames,
                height=self.spec.height, width=self.spec.width, fps=self.spec.fps,
                prompt=class_to_prompt(c.class_name), image=image,
                extra={"video": c.relpath, "class": c.class_name, "label": c.label,
                       "start": c.start, "stride": c.stride}))
        return out

    def clip_video(self, clip: Clip) -> Video:
        """The real clip, resized: uint8 ``(frames, height, width, 3)`` at fps / stride."""
        frames = decode_frames(clip.path, clip.frame_indices,
                               self.options.decoder)  # type: ignore[attr-defined]
        resized = resize_clip(frames, self._size(), self.options.resize)  # type: ignore[attr-defined]
        return Video(resized, clip.fps / clip.stride)

    def reference_videos(self, batch_size: int = 16) -> Iterator[list[Video]]:
        """The clips as real videos, in request order, ``batch_size`` at a time."""
        batch: list[Video] = []
        for c in self.clips():
            batch.append(self.clip_video(c))
            if len(batch) == batch_size:
                yield batch
                batch = []
        if batch:
            yield batch

    def source_videos(self) -> Iterator[SourceVideo]:
        """Every video of the split, whole and at its native size, in sorted path order (the
        real videos of the FVD presets, which select and prepare clips themselves)."""
        for rel, _, _, _ in self.files():
            yield SourceVideo(rel, self.videos_dir / rel, self.options.decoder)  # type: ignore[attr-defined]

    @classmethod
    def training_source(cls, spec: DatasetSpec, limit: int | None = None) -> ClipSource:
        """Training clips from the *train* list of split ``split_file`` (captions: the class
        names as prompts). Training never reads a test video: ``dataset.split`` other than
        ``train`` is refused, and so is a train list that names a video of the split's test
        list (a :class:`DataError` naming the list and the video). Clips: the preset's frames
        are not imposed; :class:`~vdmbench.data.clips.ClipSampler` cuts ``spec.frames`` frames
        at ``frame_stride`` (default: about ``spec.fps``)."""
        if spec.split != "train":
            raise ConfigError(f"ucf101: training reads the train list only (the evaluation "
                              f"suites use the test lists); data.split must be 'train', got "
                              f"{spec.split!r}", field="data.split")
        o = UCF101Options.model_validate(spec.options)
        # the clip preset's frame count belongs to evaluation; check the rest of the layout
        cls.check(spec.model_copy(update={"frames": PRESETS[o.clip_preset].frames}), o)
        ds = cls(spec.model_copy(update={"frames": PRESETS[o.clip_preset].frames}))
        k = o.split_file
        test_list = ds.splits_dir / f"testlist0{k}.txt"
        if not test_list.is_file():
            raise DataError(f"ucf101: {test_list} not found: without the test list of split {k} "
                            f"training cannot show that it reads no test video")
        test = {rel.lower() for rel, _, _ in read_split_list(test_list, ds.classes)}
        files = ds.files()
        for rel, _, _, _ in files:
            if rel.lower() in test:
                raise DataError(f"ucf101: {ds.splits_dir / f'trainlist0{k}.txt'} lists {rel}, a "
                                f"video of {test_list.name}: training never reads a test video")
        chosen = select(len(files), limit, spec.seed)
        refs = [ClipRef(j, files[i][0], ds.videos_dir / files[i][0],
                        class_to_prompt(files[i][1]), files[i][3])
                for j, i in enumerate(chosen)]
        sampler = ClipSampler(spec.frames, spec.height, spec.width, spec.fps, o.frame_stride,
                              o.resize, o.decoder, spec.seed)
        return ClipSource("ucf101", refs, sampler, has_captions=True,
                          options=o.model_dump(mode="json"),
                          identity={"subset": "train", "split_file": k})

    def manifest_material(self) -> dict[str, Any]:
        """What :meth:`manifest_hash` hashes: preset, options, spec and the split's files."""
        o = self.options
        return {
            "dataset": "ucf101", "preset": self.preset.name, "preset_version": self.preset.version,
            "stride": self.stride, "resize": o.resize,  # type: ignore[attr-defined]
            "decoder": o.decoder,  # type: ignore[attr-defined]
            "split_file": o.split_file, "subset": self.spec.split,  # type: ignore[attr-defined]
            "num_videos": self.spec.num_videos, "frames": self.spec.frames,
            "height": self.spec.height, "width": self.spec.width, "seed": self.spec.seed,
            "files": [[rel, size] for rel, _, _, size in self.files()],
        }

    def manifest_hash(self) -> str:
        blob = json.dumps(self.manifest_material(), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()
