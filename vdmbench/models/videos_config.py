"""What ``vdmbench validate`` knows of the ``videos`` model without importing torch: its options
and the check before a run (:mod:`vdmbench.registry`, "config"; opening the video files, it
imports :mod:`vdmbench.models.videos_files` then). The adapter
(:class:`~vdmbench.models.videos.VideosAdapter`) subclasses :class:`VideosConfig`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from vdmbench.errors import ConfigError, OptionError
from vdmbench.paths import expand_path
from vdmbench.requests_list import read_answers


class VideosOptions(BaseModel):
    """Options of the ``videos`` model."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    folder: str = Field(description="the folder of videos, one file per request id (${ENV} "
                                    "allowed)")
    answers: str | None = Field(None, description="the request list with a 'latency_s' per "
                                                  "line (seconds per video the user measured)")


def videos_folder(options: VideosOptions, model: str) -> Path:
    """The folder ``options`` name (OptionError where it is not one)."""
    path = expand_path(options.folder, f"model '{model}' videos folder")
    if not path.is_dir():
        raise OptionError(f"model '{model}': videos folder {path} not found",
                          loc=("options", "folder"))
    return path


class VideosConfig:
    """The ``videos`` model's config: options and :meth:`check`."""

    Options: ClassVar[type[BaseModel]] = VideosOptions
    #: :func:`vdmbench.checks.check_suite` passes the run's ``--limit`` to :meth:`check`
    check_takes_limit: ClassVar[bool] = True

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
        folder = videos_folder(options, spec.name)
        from vdmbench.catalog import DATASETS
        from vdmbench.models.videos_files import check_folder

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
