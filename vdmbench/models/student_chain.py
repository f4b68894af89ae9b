"""Student directories of the synthetic adapters: follow ``compression.json`` → ``base_weights``.

A student written by ``vdmbench compress`` holds only what compression changed (``unet/``) and a
``compression.json`` whose ``base_weights`` names the directory the other parts come from (null =
the adapter's shipped teacher; a relative path is relative to the directory holding that
``compression.json``) and whose ``unet_loader`` (``module:attr``) builds its UNet. A chain of such
links ends at a directory without ``compression.json``; the first directory on the way that
provides a part wins.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from vdmbench.errors import ConfigError, WeightsNotFoundError
from vdmbench.paths import expand_path


@dataclass(frozen=True)
class ResolvedModel:
    """Where each part of a model comes from: part → directory, the sampler file, and the chain of
    directories read (student first, the teacher last)."""

    sources: dict[str, Path]
    sampler_file: Path
    chain: tuple[Path, ...]
    unet_loader: str | None = None


def read_json(path: Path, what: str) -> dict[str, Any]:
    """A JSON object from ``path``; missing → :class:`WeightsNotFoundError`, unreadable or not an
    object → :class:`ConfigError`, both naming the file."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError as e:
        raise WeightsNotFoundError(f"{what}: file not found at {path}") from e
    except (OSError, json.JSONDecodeError) as e:
        raise ConfigError(f"{what}: cannot read JSON: {e}", file=str(path)) from e
    if not isinstance(data, dict):
        raise ConfigError(f"{what}: expected a JSON object", file=str(path))
    return data


def import_loader(target: str, where: Path) -> Callable[[Path], nn.Module]:
    """The callable named by ``module:attr`` (``compression.json``'s ``unet_loader``)."""
    if ":" not in target:
        raise ConfigError(f"unet_loader must be 'module:attr', got {target!r}", file=str(where),
                          field="unet_loader")
    mod, attr = target.split(":", 1)
    try:
        obj: Any = importlib.import_module(mod)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as e:
        raise ConfigError(f"cannot import unet_loader {target!r}: {e}", file=str(where),
                          field="unet_loader") from e
    return obj


def walk_chain(weights: str | Path | None, teacher_dir: Path, adapter: str,
               parts: Mapping[str, str], layout: str
               ) -> tuple[dict[str, Path], tuple[Path, ...], str | None]:
    """Follow the links from ``weights`` (None = ``teacher_dir``).

    ``parts`` maps each part to the path, relative to a directory, whose existence says that
    directory provides it. Returns (part → first directory providing it, the chain of
    directories, the ``unet_loader`` of the directory providing ``unet``). Parts no directory
    provides are simply absent: the adapter names them in its own error. A missing directory is
    a :class:`WeightsNotFoundError` (with ``layout``, what a model directory holds); a cycle, a
    ``compression.json`` without ``base_weights`` or whose ``base_model`` is not ``adapter`` are
    :class:`ConfigError` naming the file."""
    directory = teacher_dir if weights is None else expand_path(weights, f"{adapter} weights")
    sources: dict[str, Path] = {}
    chain: list[Path] = []
    unet_loader: str | None = None
    while True:
        directory = directory.resolve()
        if not directory.is_dir():
            raise WeightsNotFoundError(f"{adapter} weights: directory not found at {directory} "
                                       f"({layout})")
        if directory in chain:
            raise ConfigError(f"base_weights links form a cycle through {directory}")
        chain.append(directory)
        for part, rel in parts.items():
            if part not in sources and (directory / rel).exists():
                sources[part] = directory
        cj = directory / "compression.json"
        if not cj.is_file():
            break
        meta = read_json(cj, "compression.json")
        base_model = meta.get("base_model", adapter)
        if base_model != adapter:
            raise ConfigError(f"a student of '{base_model}', not of {adapter}", file=str(cj),
                              field="base_model")
        if "base_weights" not in meta:
            raise ConfigError("missing key 'base_weights' (null = the shipped teacher)",
                              file=str(cj), field="base_weights")
        if unet_loader is None and sources.get("unet") == directory and meta.get("unet_loader"):
            unet_loader = str(meta["unet_loader"])
        base = meta["base_weights"]
        nxt = teacher_dir if base is None else expand_path(str(base), f"{cj}: base_weights")
        directory = nxt if nxt.is_absolute() else directory / nxt
    return sources, tuple(chain), unet_loader
