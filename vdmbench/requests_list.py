"""``vdmbench requests``: a suite's request list as JSON lines, for generators outside vdmbench.

One line per request, in the run's order::

    {"id": "pattern-test-00000", "seed": 123, "prompt": "…" | null,
     "image": "requests-images/pattern-test-00000.png" | null,
     "frames": 8, "height": 32, "width": 32, "fps": 8.0, "file": "pattern-test-00000.mp4",
     "extra": {…}}

``image`` is the conditioning frame written as a PNG beside the list (a path relative to the list's
folder); ``extra``: whatever else the dataset's request carries (e.g. SynthMotion's
``motion_class``, which the synthetic models condition on); ``file`` is the name the ``videos``
model looks for in its folder (any extension of :data:`VIDEO_EXTENSIONS` may replace ``.mp4``;
``.npy`` holds uint8 ``(T, H, W, 3)`` losslessly).
The same file can carry the user's answers: a ``latency_s`` per line (seconds per video the user
measured) is read by the ``videos`` model as user-reported latency.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vdmbench.errors import ConfigError

#: file extensions the ``videos`` model reads (``.npy``: uint8 (T, H, W, 3); others: PyAV)
VIDEO_EXTENSIONS = (".npy", ".mp4", ".webm", ".mkv", ".avi", ".mov", ".gif")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def file_stem(request_id: str) -> str:
    """The file name (without extension) of a request's video: the id with every character
    outside ``[A-Za-z0-9._-]`` replaced by ``_``."""
    stem = _UNSAFE.sub("_", request_id)
    return stem if stem.strip(".") else f"_{stem}"


def request_line(request: Any, image: str | None) -> dict[str, Any]:
    """The JSON line of one :class:`~vdmbench.generation.GenerationRequest`."""
    return {"id": request.id, "seed": int(request.seed), "prompt": request.prompt,
            "image": image, "frames": int(request.frames), "height": int(request.height),
            "width": int(request.width), "fps": float(request.fps),
            "file": f"{file_stem(request.id)}.mp4",
            "extra": json.loads(json.dumps(request.extra, default=str))}


def suite_requests(path: str | Path, limit: int | None = None) -> list[Any]:
    """The requests a run of the suite at ``path`` generates (``limit``: ``--limit``)."""
    from vdmbench.catalog import DATASETS
    from vdmbench.suite import load_suite

    suite, _ = load_suite(path)
    requests = DATASETS.get(suite.dataset.name)(suite.dataset).requests()
    return requests if limit is None else requests[:limit]


def write_requests(suite_path: str | Path, out: str | Path, limit: int | None = None) -> Path:
    """Write the request list of a suite to ``out`` (JSON lines) and its conditioning images to
    ``<out stem>-images/<id>.png``; every file is written atomically. Returns ``out``."""
    import numpy as np
    import PIL.Image

    from vdmbench.records import atomic_write_text
    from vdmbench.resolve import resolve_suite

    if limit is not None and limit < 1:
        raise ConfigError(f"--limit must be >= 1, got {limit}")
    resolve_suite(suite_path, checks=False)  # names and options, as a run checks them
    out = Path(out)
    requests = suite_requests(suite_path, limit)
    image_dir = out.parent / f"{out.stem}-images"
    lines = []
    for r in requests:
        image = None
        if r.image is not None:
            image_dir.mkdir(parents=True, exist_ok=True)
            target = image_dir / f"{file_stem(r.id)}.png"
            tmp = target.with_name(f".{target.name}.tmp")
            PIL.Image.fromarray(np.ascontiguousarray(r.image.cpu().numpy())).save(tmp,
                                                                                 format="PNG")
            tmp.replace(target)
            image = target.relative_to(out.parent).as_posix()
        lines.append(json.dumps(request_line(r, image), ensure_ascii=False))
    atomic_write_text(out, "\n".join(lines) + "\n")
    return out


@dataclass(frozen=True)
class Answer:
    """What the user reported for one request: seconds per video (``None``: not reported)."""

    request_id: str
    latency_s: float | None


def read_answers(path: str | Path) -> dict[str, Answer]:
    """The answers file (the request list with ``latency_s`` added per line), by request id.
    Errors name the file, the line and the field."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"cannot read the answers file: {e}", file=str(path)) from None
    out: dict[str, Answer] = {}
    for n, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            item = json.loads(raw)
        except json.JSONDecodeError as e:
            raise ConfigError(f"not a JSON object: {e.msg}", file=str(path), line=n) from None
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            raise ConfigError("each line needs a string 'id'", file=str(path), line=n,
                              field="id")
        latency = item.get("latency_s")
        if latency is not None and (isinstance(latency, bool)
                                    or not isinstance(latency, (int, float))
                                    or not math.isfinite(latency) or latency <= 0):
            raise ConfigError(f"must be a positive number of seconds, got {latency!r}",
                              file=str(path), line=n, field="latency_s")
        if item["id"] in out:
            raise ConfigError(f"request id {item['id']!r} appears twice", file=str(path),
                              line=n, field="id")
        out[item["id"]] = Answer(item["id"], None if latency is None else float(latency))
    return out


def _requests_command() -> Any:
    import click

    @click.command(name="requests")
    @click.argument("suite", type=click.Path(path_type=Path))
    @click.option("--out", type=click.Path(path_type=Path, dir_okay=False),
                  default=Path("requests.jsonl"), show_default=True,
                  help="the request list (JSON lines); images go to <out stem>-images/")
    @click.option("--limit", type=int, default=None, help="only the first N requests")
    def requests_cmd(suite: Path, out: Path, limit: int | None) -> None:
        """Write SUITE's request list (id, seed, prompt, conditioning image, frames, size, fps,
        expected file name) so that any script can generate the videos for a `videos` model."""
        path = write_requests(suite, out, limit)
        n = sum(1 for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
        click.echo(f"{n} requests in {path}")

    return requests_cmd


requests_cmd = _requests_command()
