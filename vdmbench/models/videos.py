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
from typing import Any

from vdmbench.errors import ConfigError, InvalidVideoError
from vdmbench.generation import GenerationRequest, ModelCard
from vdmbench.models.videos_config import VideosConfig, VideosOptions, videos_folder
from vdmbench.models.videos_files import find_file, read_video_file
from vdmbench.paths import expand_path, sha256_tree
from vdmbench.requests_list import VIDEO_EXTENSIONS, Answer, read_answers
from vdmbench.speed import percentile
from vdmbench.video import Video


def _reported(answers: dict[str, Answer], path: str) -> dict[str, Any] | None:
    values = [a.latency_s for a in answers.values() if a.latency_s is not None]
    if not values:
        return None
    return {"per_video": {"median_s": statistics.median(values),
                          "p90_s": percentile(values, 90), "min_s": min(values),
                          "n": len(values)},
            "source": "user-reported", "file": path}


class VideosAdapter(VideosConfig):
    """``videos``: see the module docstring (options and checks:
    :class:`~vdmbench.models.videos_config.VideosConfig`)."""

    def __init__(self, name: str, folder: Path, answers: dict[str, Answer],
                 answers_path: str | None, steps: int, dtype: str) -> None:
        self.name, self.folder, self.answers = name, folder, answers
        self.answers_path, self.steps, self.dtype = answers_path, steps, dtype
        self._sha = sha256_tree(folder, tuple(f"*{ext}" for ext in VIDEO_EXTENSIONS))

    @classmethod
    def load(cls, name: str, weights: str | None, options: Any, device: str,
             steps: int | None = None, dtype: str = "float32") -> VideosAdapter:
        if not isinstance(options, VideosOptions):
            options = VideosOptions.model_validate(options or {})
        if weights is not None:
            raise ConfigError(f"model '{name}': a videos model takes no weights; give the folder "
                              f"as options.folder")
        folder = videos_folder(options, name)
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
