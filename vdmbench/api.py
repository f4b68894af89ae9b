"""The Python API: ``vdmbench.evaluate(suite, generate=fn | pipeline=pipe, …) -> Results``.

For notebooks and scripts whose generator is a Python object rather than a registered adapter::

    import vdmbench
    res = vdmbench.evaluate("suites/synth_i2v.yaml", generate=my_fn, name="mine")
    print(res.leaderboard)            # the same leaderboard the CLI prints
    res.metrics("mine")               # {"fvd_synth": 123.4, …}

``generate``: ``fn(request) -> video`` for one :class:`~vdmbench.generation.GenerationRequest`
(a :class:`~vdmbench.video.Video`, or uint8 frames ``(T, H, W, 3)`` as a tensor or array);
``pipeline``: a loaded diffusers video pipeline, called as the ``diffusers`` model calls one
(:mod:`vdmbench.models.diffusers_pipeline`; ``call_kwargs`` checked against its signature).

The suite's model entry named ``name`` (added if there is none) becomes a ``python`` entry bound to
the object; every other entry runs as it would from the CLI. The run is the CLI's: the same
runner, video cache, records, timing and leaderboards under ``out``. The video cache key of the
object is ``key``: by default a hash of the pipeline's weights and scheduler config, and for a
function a fresh random key (nothing is reused between calls) unless ``key=`` says which version
of the function this is.
"""

from __future__ import annotations

import csv
import hashlib
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from vdmbench.errors import ConfigError, InvalidVideoError, OptionError

#: objects bound by :func:`evaluate` in this process: key → ("generate" | "pipeline", object,
#: call_kwargs)
_BOUND: dict[str, tuple[str, Any, dict[str, Any]]] = {}


class PythonOptions(BaseModel):
    """Options of the ``python`` model entry (written by :func:`evaluate`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    key: str = Field(description="the object evaluate() bound, and its video-cache identity")


class FunctionGenerator:
    """``python``: ``fn(request) -> video`` as a :class:`~vdmbench.generation.VideoGenerator`
    (timed as a whole per video; no components). :meth:`load` builds it, or a
    :class:`~vdmbench.models.diffusers_pipeline.DiffusersAdapter` for a bound pipeline, from what
    :func:`evaluate` bound in this process (not usable from the CLI)."""

    Options: ClassVar[type[BaseModel]] = PythonOptions

    def __init__(self, name: str, fn: Callable[[Any], Any], key: str, steps: int,
                 dtype: str) -> None:
        self.name, self.fn, self.key, self.steps, self.dtype = name, fn, key, steps, dtype

    def generate(self, requests: Sequence[Any]) -> list[Any]:
        import numpy as np
        import torch

        from vdmbench.video import Video

        out = []
        for r in requests:
            v = self.fn(r)
            if not isinstance(v, Video):
                frames = torch.from_numpy(np.ascontiguousarray(v)) if isinstance(
                    v, np.ndarray) else v
                if not isinstance(frames, torch.Tensor):
                    raise InvalidVideoError(f"model '{self.name}', request {r.id}: the function "
                                            f"returned {type(v).__name__}, not a Video or uint8 "
                                            f"(T, H, W, 3) frames")
                v = Video(frames.detach().cpu(), float(r.fps))
            if tuple(v.frames.shape[:3]) != (r.frames, r.height, r.width):
                raise InvalidVideoError(f"model '{self.name}', request {r.id}: the function "
                                        f"returned (T, H, W) {tuple(v.frames.shape[:3])}, the "
                                        f"request asks for {(r.frames, r.height, r.width)}")
            out.append(v)
        return out

    def describe(self) -> Any:
        from vdmbench.generation import ModelCard

        fn = getattr(self.fn, "__qualname__", type(self.fn).__name__)
        return ModelCard(name=self.name, adapter="python", params={}, dtype=self.dtype,
                         steps=self.steps, frames=0, height=0, width=0,
                         weights_sha256=hashlib.sha256(self.key.encode()).hexdigest(),
                         sampler={"function": f"{getattr(self.fn, '__module__', '?')}.{fn}"})

    def components(self, request: Any) -> dict[str, Callable[[], object]]:
        return {}

    @classmethod
    def check(cls, spec: Any, options: PythonOptions, suite: Any) -> None:
        if options.key not in _BOUND:
            raise OptionError(f"model '{spec.name}': adapter 'python' runs a function or "
                              f"pipeline given to vdmbench.evaluate() in the same process; "
                              f"nothing is bound to key {options.key!r} here",
                              loc=("options", "key"))

    @classmethod
    def load(cls, name: str, weights: str | None, options: Any, device: str,
             steps: int | None = None, dtype: str = "float32") -> Any:
        if not isinstance(options, PythonOptions):
            options = PythonOptions.model_validate(options or {})
        if options.key not in _BOUND:
            raise ConfigError(f"model '{name}': nothing bound to key {options.key!r} (adapter "
                              f"'python' works through vdmbench.evaluate() only)")
        kind, obj, call_kwargs = _BOUND[options.key]
        if kind == "generate":
            return FunctionGenerator(name, obj, options.key, steps or 0, dtype)
        from vdmbench.models.diffusers_pipeline import DiffusersAdapter, DiffusersOptions

        dtype = str(getattr(obj, "dtype", dtype)).replace("torch.", "")
        return DiffusersAdapter(name, obj, DiffusersOptions(call_kwargs=call_kwargs), device,
                                steps, dtype, weights_sha256=options.key, adapter="python",
                                origin=f"object {type(obj).__name__}")


@dataclass(frozen=True)
class Results:
    """What :func:`evaluate` returns: the run folder, one record per model (by name), and the
    leaderboard (``leaderboard``: Markdown as the CLI prints it; ``rows``: the CSV's rows)."""

    run_dir: Path
    records: dict[str, dict[str, Any]]
    leaderboard: str
    rows: list[dict[str, str]]

    def metrics(self, model: str) -> dict[str, float | None]:
        """``{metric: value}`` of ``model``."""
        return {k: v["value"] for k, v in self.records[model]["metrics"].items()}

    def __str__(self) -> str:
        return self.leaderboard

    def _repr_markdown_(self) -> str:
        return self.leaderboard


def _suite_data(suite: str | Path | dict[str, Any]) -> tuple[dict[str, Any], str]:
    if isinstance(suite, dict):
        return dict(suite), "suite (a mapping)"
    from vdmbench.suite import load_yaml_with_lines

    data, _ = load_yaml_with_lines(Path(suite))
    if not isinstance(data, dict):
        raise ConfigError("a suite must be a YAML mapping", file=str(suite), line=1)
    return data, str(suite)


def evaluate(suite: str | Path | dict[str, Any], generate: Callable[[Any], Any] | None = None,
             pipeline: Any = None, *, name: str = "model", key: str | None = None,
             steps: int | None = None, call_kwargs: dict[str, Any] | None = None,
             out: str | Path = "results", device: str | None = None, limit: int | None = None,
             cache_dir: str | Path | None = None, resume: bool = True, quiet: bool = True,
             log_file: str | Path | None = None) -> Results:
    """Run ``suite`` (a YAML path or mapping) with ``generate`` or ``pipeline`` as model entry
    ``name`` (see the module docstring); ``steps`` sets the entry's steps, ``call_kwargs`` more
    pipeline-call arguments; ``device`` defaults to the pipeline's (else cpu); the other
    arguments are ``vdmbench run``'s options. Returns :class:`Results`."""
    import yaml

    from vdmbench.records import atomic_write_text, read_record
    from vdmbench.runner import RunOptions, run_suite

    if (generate is None) == (pipeline is None):
        raise ConfigError("give exactly one of generate=fn or pipeline=pipe")
    if generate is not None and call_kwargs:
        raise ConfigError("call_kwargs go with pipeline=, not generate=")
    data, where = _suite_data(suite)
    if pipeline is not None:
        from vdmbench.models.diffusers_pipeline import check_call_kwargs, pipeline_hash

        try:
            check_call_kwargs(type(pipeline), call_kwargs or {})
        except OptionError as e:
            raise ConfigError(str(e), field="call_kwargs." + str(e.loc[-1])) from None
        key = key or hashlib.sha256(json.dumps(
            [pipeline_hash(pipeline), call_kwargs or {}], sort_keys=True,
            default=str).encode()).hexdigest()
        _BOUND[key] = ("pipeline", pipeline, dict(call_kwargs or {}))
        if device is None:
            dev = getattr(pipeline, "device", None)
            device = "cpu" if dev is None or dev.type == "cpu" else str(dev)
    else:
        key = key or uuid.uuid4().hex
        _BOUND[key] = ("generate", generate, {})
    entry = {"name": name, "adapter": "python", "options": {"key": key}}
    if steps is not None:
        entry["steps"] = steps
    models = list(data.get("models") or [])
    for i, m in enumerate(models):
        if isinstance(m, dict) and m.get("name") == name:
            kept = {k: v for k, v in m.items() if k in ("steps", "dtype") and k not in entry}
            models[i] = {**entry, **kept}
            break
    else:
        models.append(entry)
    data["models"] = models
    text = yaml.safe_dump(data, sort_keys=False)
    out = Path(out)
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    path = atomic_write_text(out / ".evaluate" / f"{data.get('name', 'suite')}-{digest}.yaml",
                             f"# {where} with model '{name}' bound by vdmbench.evaluate()\n"
                             + text)
    result = run_suite(path, RunOptions(
        out_dir=out, limit=limit, device=device or "cpu", resume=resume, quiet=quiet,
        cache_dir=None if cache_dir is None else Path(cache_dir),
        log_file=None if log_file is None else Path(log_file)))
    if result is None:  # a rank other than 0 of a torchrun run
        raise ConfigError("vdmbench.evaluate() runs in one process; use torchrun with the CLI")
    records = {}
    for p in result.records:
        rec = read_record(p)
        records[rec["model"]["name"]] = rec
    with result.leaderboards["csv"].open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    return Results(run_dir=result.run_dir, records=records,
                   leaderboard=result.leaderboards["md"].read_text(encoding="utf-8"), rows=rows)
