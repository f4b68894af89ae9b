"""Everything about a suite that can be checked without loading weights or reading data.

``vdmbench validate`` and ``vdmbench run`` (before it generates or writes anything) run
:func:`check_suite` on a resolved suite. It finds, in one pass, every:

- environment variable a path names (``${VAR}`` in ``weights``, in model, dataset and metric
  options) that is not set;
- local weights path (``models[].weights``) that does not exist;
- problem a registered class finds with its own ``check`` hook (a classmethod of its config class,
  :mod:`vdmbench.registry`; optional):

  - a model adapter's ``check(spec, options, suite)`` — e.g. ``svd``/``sfv`` resolve every
    component folder and weight file (reading JSON only) and compare ``num_frames`` with the
    dataset's frames;
  - a dataset's ``check(spec, options)`` — e.g. ``ucf101``: root folder, split files, clip
    preset frames;
  - a metric's ``check(options, suite, n_videos)`` — the base class compares the frames the
    metric needs (``Metric.frames_needed``) with ``dataset.frames`` and the videos it needs
    (``Metric.min_videos``, e.g. an Inception Score's ``splits``) with the number of videos the
    run generates; metrics with checkpoint files check that the file is there.

All problems are reported together, each with its line and field, in one
:class:`~vdmbench.errors.ConfigError` naming the file (one problem a line, shared advice once).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from typing import Any

from vdmbench.errors import ConfigError, VdmbenchError
from vdmbench.paths import expand_path
from vdmbench.resolved import ResolvedSuite
from vdmbench.suite import field_name, line_of

_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")


def _strings(value: Any, loc: tuple) -> Iterator[tuple[tuple, str]]:
    """Every string inside ``value`` (mappings and lists walked) with its location."""
    if isinstance(value, str):
        yield loc, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(v, loc + (k,))
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            yield from _strings(v, loc + (i,))


def unset_env_vars(text: str) -> list[str]:
    """The ``${VAR}``/``$VAR`` names in ``text`` that are not set, in order."""
    names = [m.group(1) or m.group(2) for m in _ENV.finditer(text)]
    return [n for n in dict.fromkeys(names) if n not in os.environ]


class _Problems:
    """Collects problems with their suite locations."""

    def __init__(self, resolved: ResolvedSuite, lines: dict) -> None:
        self.file, self.lines = str(resolved.path), lines
        self.items: list[str] = []

    def add(self, loc: tuple, message: str) -> None:
        line = line_of(self.lines, loc)
        where = f"line {line}, " if line is not None else ""
        self.items.append(f"{where}{field_name(loc)}: {message}")

    def run(self, loc: tuple, fn: Callable[[], Any]) -> None:
        try:
            fn()
        except VdmbenchError as e:  # ``e.loc``: where inside ``loc`` (e.g. one options key)
            sub = getattr(e, "loc", None)
            self.add(loc + tuple(sub) if sub else loc, str(e))


def _n_videos(resolved: ResolvedSuite, limit: int | None) -> int:
    n = resolved.suite.dataset.num_videos
    return n if limit is None else min(n, limit)


def check_suite(resolved: ResolvedSuite, lines: dict | None = None,
                limit: int | None = None) -> None:
    """Run every check of the module docstring; raise one :class:`ConfigError` listing all
    problems (file, line, field each). ``limit``: the run's ``--limit`` (fewer videos)."""
    suite = resolved.suite
    problems = _Problems(resolved, lines or {})

    # environment variables named in paths and options
    sources: list[tuple[tuple, Any]] = [(("dataset", "options"), suite.dataset.options)]
    for i, m in enumerate(suite.models):
        sources += [(("models", i, "weights"), m.weights), (("models", i, "options"), m.options)]
    for i, spec in enumerate(suite.metrics):
        sources.append((("metrics", i, "options"), spec.options))
    unset_locs: set[tuple] = set()
    unset: dict[str, list[tuple]] = {}  # variable → where it is used
    for base, value in sources:
        for loc, text in _strings(value, base):
            for var in unset_env_vars(text):
                unset.setdefault(var, []).append(loc)
                unset_locs.add(loc)
    for var, locs in unset.items():
        more = len(locs) - 1
        problems.add(locs[0], f"environment variable ${{{var}}} is not set"
                              + (f" (used in {more} more place{'s' if more > 1 else ''})"
                                 if more else ""))

    # the dataset
    ds_cls = resolved.dataset.config
    if hasattr(ds_cls, "check") and not any(loc[0] == "dataset" for loc in unset_locs):
        problems.run(("dataset",),
                     lambda: ds_cls.check(suite.dataset, resolved.dataset.options))

    # models: weights paths, then the adapter's own hook
    for i, m in enumerate(suite.models):
        loc = ("models", i, "weights")
        if any(u[:2] == ("models", i) for u in unset_locs):
            continue  # the unset variable is the problem; the paths cannot be checked
        if m.weights is not None and not m.weights.startswith("hf:"):
            path = expand_path(m.weights, f"model '{m.name}' weights")
            if not path.exists():
                problems.add(loc, f"model '{m.name}': weights {path} not found")
                continue
        cls, options = resolved.models[m.name].config, resolved.models[m.name].options
        if hasattr(cls, "check"):
            extra = {"limit": limit} if getattr(cls, "check_takes_limit", False) else {}
            problems.run(("models", i),
                         lambda cls=cls, m=m, o=options, kw=extra: cls.check(m, o, suite, **kw))

    # metrics: frames, videos, checkpoint files
    n = _n_videos(resolved, limit)
    for i, spec in enumerate(suite.metrics):
        if any(u[:2] == ("metrics", i) for u in unset_locs):
            continue
        cls, options = resolved.metrics[spec.name].config, resolved.metrics[spec.name].options
        if hasattr(cls, "check"):
            problems.run(("metrics", i),
                         lambda cls=cls, o=options: cls.check(o, suite, n_videos=n))

    if problems.items:
        count = len(problems.items)
        head = "1 problem" if count == 1 else f"{count} problems"
        raise ConfigError(head, file=problems.file, problems=problems.items)
