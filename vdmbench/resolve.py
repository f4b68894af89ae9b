"""Check a suite against the registries: every name known, every options mapping valid.

This is ``vdmbench validate``: it imports the registered classes (to read their ``Options``) but
loads no weights and writes nothing. Errors name the file, the line and the field; unknown names
get "did you mean …". Then :func:`vdmbench.checks.check_suite` runs every check that needs no
weights or data (environment variables, files and folders, options against presets).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from vdmbench.catalog import DATASETS, METRICS, MODELS
from vdmbench.errors import ConfigError, UnknownNameError
from vdmbench.suite import Suite, field_name, line_of, load_suite, validate_model


@dataclass(frozen=True)
class ResolvedSuite:
    """A suite whose names and options were all checked."""

    path: Path
    suite: Suite
    model_options: dict[str, BaseModel]
    metric_options: dict[str, BaseModel]
    lines: dict = field(default_factory=dict, repr=False)


def _check_name(registry: Any, name: str, *, file: str, lines: dict, loc: tuple) -> None:
    try:
        registry.check(name)
    except UnknownNameError as e:
        raise ConfigError(str(e), file=file, line=line_of(lines, loc), field=field_name(loc)
                          ) from None


def _options(cls: Any, data: dict, *, file: str, lines: dict, loc: tuple) -> BaseModel:
    model = getattr(cls, "Options", None)
    if model is None:
        if data:
            raise ConfigError("this entry takes no options", file=file, line=line_of(lines, loc),
                              field=field_name(loc))
        return BaseModel()
    return validate_model(model, data, file=file, lines=lines, prefix=loc)


def resolve_suite(path: str | Path, *, limit: int | None = None, checks: bool = True
                  ) -> ResolvedSuite:
    """Load a suite and check its names and options, then (``checks``) everything else that
    needs no weights or data; ``limit``: the run's ``--limit``. See the module docstring."""
    path = Path(path)
    suite, lines = load_suite(path)
    file = str(path)
    _check_name(DATASETS, suite.dataset.name, file=file, lines=lines, loc=("dataset", "name"))
    dataset_cls = DATASETS.get(suite.dataset.name)
    _options(dataset_cls, suite.dataset.options, file=file, lines=lines,
             loc=("dataset", "options"))
    model_options: dict[str, BaseModel] = {}
    for i, m in enumerate(suite.models):
        _check_name(MODELS, m.adapter, file=file, lines=lines, loc=("models", i, "adapter"))
        model_options[m.name] = _options(MODELS.get(m.adapter), m.options, file=file,
                                         lines=lines, loc=("models", i, "options"))
    metric_options: dict[str, BaseModel] = {}
    for i, spec in enumerate(suite.metrics):
        _check_name(METRICS, spec.name, file=file, lines=lines, loc=("metrics", i, "name"))
        cls = METRICS.get(spec.name)
        metric_options[spec.name] = _options(cls, spec.options, file=file, lines=lines,
                                             loc=("metrics", i, "options"))
        if getattr(cls, "needs_teacher", False) and len(suite.models) < 1:
            raise ConfigError("needs a teacher model", file=file, line=line_of(
                lines, ("metrics", i)), field=field_name(("metrics", i)))
    resolved = ResolvedSuite(path=path, suite=suite, model_options=model_options,
                             metric_options=metric_options, lines=lines)
    if checks:
        from vdmbench.checks import check_suite

        check_suite(resolved, lines, limit=limit)
    return resolved
