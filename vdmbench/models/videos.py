"""``videos``: a model whose videos already exist — a folder with one file per request id.

Write the request list with ``vdmbench requests SUITE.yaml --out requests.jsonl`` (id, seed,
prompt, conditioning-image PNG, frames, size, fps, file name: :mod:`vdmbench.requests_list`),
generate the videos with any script, and point a model entry at the folder::

    - {name: mine, adapter: videos, options: {folder: /data/my_videos,
                                              answers: /data/requests.jsonl}}   # answers: optional

Each request ``id`` needs exactly one file ``<id><ext>`` (``ext`` one of
:data:`~vdmbench.requests_list.VIDEO_EXTENSIONS`; ``.npy`` = uint8 ``(T, H, W, 3)``, lossless;
other files are decoded with PyAV to RGB) with the request's frames and size. Before a run writes
anything (and in ``vdmbench validate``) every file the run needs is opened: missing, ambiguous,
unreadable, wrong-length and wrong-size files are all named in one error. The model is never
timed (its card says ``timed: false``; the leaderboard says "not timed"); a ``latency_s`` per line
of the ``answers`` file is shown as user-reported latency.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field

from vdmbench.errors import ConfigError, DataError, InvalidVideoError, OptionError
from vdmbench.generation import GenerationRequest, ModelCard
from vdmbench.paths import expand_path, sha256_tree
from vdmbench.requests_list import VIDEO_EXTENSIONS, Answer, file_stem, read_answers
from vdmbench.speed import percentile
from vdmbench.video import Video


class VideosOptions(BaseModel):
    """Options of the ``videos`` model."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    folder: str = Field(description="the folder of videos, one file per request id (${ENV} "
                                    "allowed)")
    answers: str | None = Field(None, description="the request list with a 'latency_s' per "
                                                  "line (seconds per video the user measured)")


def _folder(options: VideosOptions, model: str) -> Path:
    path = expand_path(options.folder, f"model '{model}' videos folder")
    if not path.is_dir():
        raise OptionError(f"model '{model}': videos folder {path} not found",
                          loc=("options", "folder"))
    return path


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


def _reported(answers: dict[str, Answer], path: str) -> dict[str, Any] | None:
    values = [a.latency_s for a in answers.values() if a.latency_s is not None]
    if not values:
        return None
    return {"per_video": {"median_s": statistics.median(values),
                          "p90_s": percentile(values, 90), "min_s": min(values),
                          "n": len(values)},
            "source": "user-reported", "file": path}


class VideosAdapter:
    """``videos``: see the module docstring."""

    Options: ClassVar[type[BaseModel]] = VideosOptions
    #: :func:`vdmbench.checks.check_suite` passes the run's ``--limit`` to :meth:`check`
    check_takes_limit: ClassVar[bool] = True

    def __init__(self, name: str, folder: Path, answers: dict[str, Answer],
                 answers_path: str | None, steps: int, dtype: str) -> None:
        self.name, self.folder, self.answers = name, folder, answers
        self.answers_path, self.steps, self.dtype = answers_path, steps, dtype
        self._sha = sha256_tree(folder, tuple(f"*{ext}" for ext in VIDEO_EXTENSIONS))

    @classmethod
    def check(cls, spec: Any, options: VideosOptions, suite: Any,
              limit: int | None = None) -> None:
        """Every video the run needs (all its requests, or the first ``limit``), the answers
        file, and that the suite's timing reference is a timed model."""
        if spec.weights is not None:
            raise OptionError(f"model '{spec.name}': a videos model takes no weights; give the "
                              f"folder as options.folder", loc=("weights",))
        if spec.transforms:
            raise OptionError(f"model '{spec.name}': transforms cannot apply to videos made "
                              f"outside vdmbench", loc=("transforms",))
        timed = [m.name for m in suite.models if m.adapter != "videos"]
        if suite.speed.enabled and suite.reference == spec.name and timed:
            raise ConfigError(f"model '{spec.name}' (videos made outside vdmbench) is not timed, "
                              f"so it cannot be the speed reference of {', '.join(timed)}: set "
                              f"reference_model to one of those")
        folder = _folder(options, spec.name)
        from vdmbench.catalog import DATASETS

        requests = DATASETS.get(suite.dataset.name)(suite.dataset).requests()
        requests = requests if limit is None else requests[:limit]
        check_folder(folder, requests, spec.name, limit)
        if options.answers is not None:
            path = expand_path(options.answers, f"model '{spec.name}' answers file")
            answers = read_answers(path)
            lacking = [r.id for r in requests
                       if r.id not in answers or answers[r.id].latency_s is None]
            if lacking:
                raise OptionError(f"model '{spec.name}': {path} has no latency_s for "
                                  f"{len(lacking)} request(s): {', '.join(lacking[:10])}"
                                  + (" …" if len(lacking) > 10 else ""),
                                  loc=("options", "answers"))

    @classmethod
    def load(cls, name: str, weights: str | None, options: Any, device: str,
             steps: int | None = None, dtype: str = "float32") -> VideosAdapter:
        if not isinstance(options, VideosOptions):
            options = VideosOptions.model_validate(options or {})
        if weights is not None:
            raise ConfigError(f"model '{name}': a videos model takes no weights; give the folder "
                              f"as options.folder")
        folder = _folder(options, name)
        answers: dict[str, Answer] = {}
        answers_path = None
        if options.answers is not None:
            answers_path = str(expand_path(options.answers, f"model '{name}' answers file"))
            answers = read_answers(answers_path)
        return cls(name, folder, answers, answers_path, steps or 0, dtype)

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Video]:
        """The files of ``requests``, in order (InvalidVideoError names a wrong one)."""
        out = []
        for r in requests:
            path = find_file(self.folder, r.id)
            frames = read_video_file(path)
            if tuple(frames.shape[:3]) != (r.frames, r.height, r.width):
                raise InvalidVideoError(f"{path}: {tuple(frames.shape[:3])} (frames, height, "
                                        f"width), request {r.id} asks for "
                                        f"{(r.frames, r.height, r.width)}")
            out.append(Video(frames, float(r.fps)))
        return out

    def describe(self) -> ModelCard:
        return ModelCard(
            name=self.name, adapter="videos", params={}, dtype=self.dtype, steps=self.steps,
            frames=0, height=0, width=0, weights_sha256=self._sha,
            sampler={"folder": str(self.folder), "answers": self.answers_path},
            timed=False, reported_latency=_reported(self.answers, self.answers_path or ""))

    def components(self, request: GenerationRequest) -> dict[str, Callable[[], object]]:
        """None: videos made outside vdmbench are not timed."""
        return {}
