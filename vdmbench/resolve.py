"""Check a suite against the registries: every name known, every options mapping valid.

This is ``vdmbench validate``: it imports the registered classes' config classes (their
``Options`` and checks, :mod:`vdmbench.registry`; no torch), loads no weights and writes
nothing. Errors name the file, the line and the field; unknown names get "did you mean …".
Then :func:`vdmbench.checks.check_suite` runs every check that needs no weights or data
(environment variables, files and folders, options against presets).
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from vdmbench.catalog import DATASETS, METRICS, MODELS, RENAMED_METRICS, TRANSFORMS
from vdmbench.checks import check_suite
from vdmbench.errors import ConfigError, UnknownNameError
from vdmbench.resolved import Entry, ModelEntry, ResolvedSuite
from vdmbench.suite import field_name, line_of, load_suite, validate_model


def _check_name(registry: Any, name: str, *, file: str, lines: dict, loc: tuple) -> None:
    try:
        registry.check(name)
    except UnknownNameError as e:
        message = str(e)
        if registry is METRICS and name in RENAMED_METRICS:
            message = f"metric '{name}' was renamed: use {RENAMED_METRICS[name]}"
        raise ConfigError(message, file=file, line=line_of(lines, loc), field=field_name(loc)
                          ) from None


class _NoOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _UncheckedOptions(BaseModel):
    """Options kept as given, unchecked (lenient mode)."""

    model_config = ConfigDict(extra="allow", frozen=True)


def _get(registry: Any, name: str, unchecked: list[str] | None) -> Any | None:
    """``registry.config(name)``; with ``unchecked`` (lenient mode) an ImportError is noted there
    and answered with None instead of raised."""
    try:
        return registry.config(name)
    except ImportError as e:
        if unchecked is None:
            raise
        unchecked.append(f"{registry.kind} '{name}' ({e})")
        return None


def _options(cls: Any, data: dict, *, file: str, lines: dict, loc: tuple) -> BaseModel:
    if cls is None:
        return _UncheckedOptions(**data)
    model = getattr(cls, "Options", None)
    if model is None:
        if data:
            raise ConfigError("this entry takes no options", file=file, line=line_of(lines, loc),
                              field=field_name(loc))
        return _NoOptions()
    return validate_model(model, data, file=file, lines=lines, prefix=loc)


def resolve_suite(path: str | Path, *, limit: int | None = None, checks: bool = True,
                  lenient_imports: bool = False) -> ResolvedSuite:
    """Load a suite and check its names and options, then (``checks``) everything else that
    needs no weights or data; ``limit``: the run's ``--limit``. See the module docstring.

    ``lenient_imports``: a registered class whose module cannot be imported (no torch here) is
    not an error; its options and checks are skipped, its ``Entry.cls`` is None and it is listed
    in ``ResolvedSuite.unchecked``. Returns the :class:`~vdmbench.resolved.ResolvedSuite` that
    everything after it (checks, runner, transforms) takes classes and options from."""
    path = Path(path)
    unchecked: list[str] | None = [] if lenient_imports else None
    suite, lines = load_suite(path)
    file = str(path)
    _check_name(DATASETS, suite.dataset.name, file=file, lines=lines, loc=("dataset", "name"))
    dataset_cls = _get(DATASETS, suite.dataset.name, unchecked)
    dataset = Entry(suite.dataset.name, dataset_cls, _options(
        dataset_cls, suite.dataset.options, file=file, lines=lines, loc=("dataset", "options")),
        load=partial(DATASETS.get, suite.dataset.name))
    models: dict[str, ModelEntry] = {}
    for i, m in enumerate(suite.models):
        _check_name(MODELS, m.adapter, file=file, lines=lines, loc=("models", i, "adapter"))
        factory = _get(MODELS, m.adapter, unchecked)
        options = _options(factory, m.options, file=file, lines=lines,
                           loc=("models", i, "options"))
        transforms = []
        for j, t in enumerate(m.transforms):
            loc = ("models", i, "transforms", j)
            _check_name(TRANSFORMS, t.name, file=file, lines=lines, loc=loc + ("name",))
            t_cls = _get(TRANSFORMS, t.name, unchecked)
            transforms.append(Entry(t.name, t_cls, _options(t_cls, t.options, file=file,
                                                            lines=lines, loc=loc + ("options",)),
                                    load=partial(TRANSFORMS.get, t.name)))
            if t_cls is not None and factory is not None:
                verdict = t_cls.applies_to_adapter(factory)
                if not verdict:
                    raise ConfigError(f"model entry '{m.name}': transform '{t.name}' does not "
                                      f"apply to adapter '{m.adapter}': {verdict.reason}",
                                      file=file, line=line_of(lines, loc), field=field_name(loc))
        models[m.name] = ModelEntry(m.adapter, factory, options, partial(MODELS.get, m.adapter),
                                    spec=m, transforms=tuple(transforms))
    metrics: dict[str, Entry] = {}
    for i, spec in enumerate(suite.metrics):
        _check_name(METRICS, spec.name, file=file, lines=lines, loc=("metrics", i, "name"))
        cls = _get(METRICS, spec.name, unchecked)
        metrics[spec.name] = Entry(spec.name, cls, _options(
            cls, spec.options, file=file, lines=lines, loc=("metrics", i, "options")),
            load=partial(METRICS.get, spec.name))
        if getattr(cls, "needs_teacher", False) and len(suite.models) < 1:
            raise ConfigError("needs a teacher model", file=file, line=line_of(
                lines, ("metrics", i)), field=field_name(("metrics", i)))
    resolved = ResolvedSuite(path=path, suite=suite, dataset=dataset, models=models,
                             metrics=metrics, unchecked=unchecked or [], lines=lines)
    if checks:
        check_suite(resolved, lines, limit=limit)
    return resolved
