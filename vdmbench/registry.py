"""A generic typed registry with lazy ``"module:attr"`` entries.

Listing names never imports the target modules (so ``vdmbench ls`` does not import torch);
duplicate names are rejected; an unknown name is answered with "did you mean …" and the list of
known names.

An entry may name, besides its class, the class's **config**: a torch-free base class of the
registered class that holds what ``vdmbench validate`` reads — ``Options`` and the class
attributes and classmethods the checks call (``check``, ``needs_teacher``, ``default_steps``,
``has_denoiser``, ``applies_to_adapter`` …). :meth:`Registry.config` imports only that, so
checking a suite imports no torch; :meth:`Registry.get` imports the class itself when it runs.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Iterator
from typing import Any, Generic, TypeVar

from vdmbench.errors import DuplicateNameError, UnknownNameError

T = TypeVar("T")


def load_target(target: str) -> Any:
    """The object named by ``"package.module:attr"`` (``attr`` may be dotted: ``Cls.inner``);
    the one loader of such names (registries, lazy commands, student classes, UNet classes).
    Raises ImportError or AttributeError; a target without ``:`` is a ValueError."""
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"target must be 'module:attr', got {target!r}")
    obj: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


class Registry(Generic[T]):
    """Maps names to lazily imported objects of kind ``T`` (classes, factories)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._targets: dict[str, str] = {}
        self._summaries: dict[str, str] = {}
        self._configs: dict[str, str] = {}
        self._loaded: dict[str, T] = {}

    def add(self, name: str, target: str, summary: str = "", *,
            config: str | None = None) -> None:
        """Register ``name`` → ``"package.module:attr"``; ``config``: the ``"module:attr"`` of the
        class's torch-free config base (see the module docstring; default: the class itself).
        Raises on a duplicate name."""
        if name in self._targets:
            raise DuplicateNameError(
                f"{self.kind} '{name}' is already registered (as {self._targets[name]})")
        for t in (target, config or target):
            if ":" not in t:
                raise ValueError(f"registry target must be 'module:attr', got {t!r}")
        self._targets[name] = target
        self._summaries[name] = summary
        if config is not None:
            self._configs[name] = config

    def names(self) -> list[str]:
        """Registered names, sorted; imports nothing."""
        return sorted(self._targets)

    def summary(self, name: str) -> str:
        self.check(name)
        return self._summaries[name]

    def target(self, name: str) -> str:
        self.check(name)
        return self._targets[name]

    def config_target(self, name: str) -> str:
        """The ``"module:attr"`` of ``name``'s config class (its own target where none is
        named)."""
        self.check(name)
        return self._configs.get(name, self._targets[name])

    def config(self, name: str) -> Any:
        """Import and return ``name``'s config class (what ``validate`` reads; see the module
        docstring): the registered class where no config is named."""
        self.check(name)
        if name not in self._configs:
            return self.get(name)
        return load_target(self._configs[name])

    def __contains__(self, name: object) -> bool:
        return name in self._targets

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def check(self, name: str) -> None:
        """Raise :class:`UnknownNameError` with suggestions unless ``name`` is registered."""
        if name in self._targets:
            return
        close = difflib.get_close_matches(name, self._targets, n=3, cutoff=0.5)
        hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        known = ", ".join(self.names()) or "(none)"
        raise UnknownNameError(f"unknown {self.kind} '{name}'.{hint} Known {self.kind}s: {known}")

    def get(self, name: str) -> T:
        """Import and return the object registered as ``name``."""
        self.check(name)
        if name not in self._loaded:
            self._loaded[name] = load_target(self._targets[name])
        return self._loaded[name]
