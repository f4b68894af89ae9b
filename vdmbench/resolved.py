"""What :func:`vdmbench.resolve.resolve_suite` hands to everything after it: the suite with every
registered name turned into its class and every options mapping into its validated options
object. Checks, the runner and the transforms take classes and options from here; nothing after
``resolve`` looks a name up or validates options again. This module imports no torch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from vdmbench.suite import ModelSpec, Suite


@dataclass(frozen=True)
class Entry:
    """One registered name of a suite (a model entry's: its adapter) with its config class
    (:mod:`vdmbench.registry`: ``Options`` and what the checks call; imports no torch), its
    validated options and its class, imported on first use of :attr:`cls` (``load``: the
    registry's ``get`` for the name). ``config`` is None where its module could not be imported
    (``validate`` in lenient mode; the entry is listed in :attr:`ResolvedSuite.unchecked` and
    its options are kept unchecked)."""

    name: str
    config: Any | None
    options: BaseModel
    load: Callable[[], Any] | None = field(default=None, repr=False, compare=False)

    @cached_property
    def cls(self) -> Any:
        """The registered class (a subclass of :attr:`config`), imported once."""
        return self.load() if self.load is not None else self.config


@dataclass(frozen=True)
class ModelEntry(Entry):
    """A model entry of the suite: its spec, its adapter class (``cls``) and options, and its
    transforms in order."""

    spec: ModelSpec | None = None
    transforms: tuple[Entry, ...] = ()

    def make_transforms(self) -> list[Any]:
        """Fresh transform instances (classes and options as resolved, not validated again)."""
        return [t.cls(t.options) for t in self.transforms]


@dataclass(frozen=True)
class ResolvedSuite:
    """A suite whose names and options were all checked (see :mod:`vdmbench.resolve`)."""

    path: Path
    suite: Suite
    dataset: Entry
    #: by model name, in the suite's order
    models: dict[str, ModelEntry]
    #: by metric name, in the suite's order
    metrics: dict[str, Entry]
    #: entries whose options were not checked because their module could not be imported
    #: (only with ``lenient_imports``; e.g. ``vdmbench validate`` where torch is missing)
    unchecked: list[str] = field(default_factory=list)
    lines: dict = field(default_factory=dict, repr=False)

    @property
    def model_options(self) -> dict[str, BaseModel]:
        return {name: e.options for name, e in self.models.items()}

    @property
    def metric_options(self) -> dict[str, BaseModel]:
        return {name: e.options for name, e in self.metrics.items()}

    @property
    def transform_options(self) -> dict[str, list[BaseModel]]:
        return {name: [t.options for t in e.transforms] for name, e in self.models.items()}

    def needs_teacher(self) -> bool:
        """Whether a metric of the suite compares with the teacher's videos."""
        return any(getattr(e.config, "needs_teacher", False) for e in self.metrics.values())
