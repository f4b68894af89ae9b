"""Student directories: the one reader of ``compression.json`` (every adapter uses it).

A student written by ``vdmbench compress`` holds only what compression changed (``unet/``, or
``transformer/`` for a video DiT; maybe ``vae/``) and a ``compression.json`` whose ``base_weights``
names the directory the other parts come from (null = the adapter's shipped teacher; a relative
path is relative to the directory holding that ``compression.json``) and whose ``classes`` maps a
component to the ``module:attr`` of the class that loads it (e.g. ``{"unet":
"vdmbench.models.unets:VDMiniUNet…"}``). A chain of such links ends at a directory without
``compression.json``; the first directory on the way that provides a part wins.

Class targets are imported only from an allow-list of packages (:data:`ALLOWED_CLASS_MODULES`);
targets written by earlier versions (``compression.student:…``, the old ``unet_loader`` key) are
mapped to where those classes live now (:data:`MOVED_TARGETS`), so old student directories keep
loading unchanged.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from vdmbench.errors import ConfigError, WeightsNotFoundError
from vdmbench.paths import expand_path, sha256_tree
from vdmbench.registry import load_target


@dataclass(frozen=True)
class ResolvedModel:
    """Where each part of a model comes from: part → directory, the sampler file, and the chain of
    directories read (student first, the teacher last)."""

    sources: dict[str, Path]
    sampler_file: Path
    chain: tuple[Path, ...]
    unet_class: str | None = None

    def weights_sha256(self) -> str:
        """sha256 of the weights the model reads: its directory's tree hash, or for a student
        the hash of its chain's tree hashes (student first)."""
        trees = [sha256_tree(d) for d in self.chain]
        return trees[0] if len(trees) == 1 else hashlib.sha256("+".join(trees).encode()).hexdigest()


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


#: module prefixes a ``compression.json`` ``classes`` entry may import from
ALLOWED_CLASS_MODULES = ("diffusers", "transformers", "compression.", "baselines.", "vdmbench.")
#: class targets earlier versions wrote → their place now (migration on read)
MOVED_TARGETS = {
    "compression.student:VDMiniUNetSpatioTemporalConditionModel":
        "vdmbench.models.unets:VDMiniUNetSpatioTemporalConditionModel",
    "compression.student:load_unet": "vdmbench.models.unets:load_unet",
    "compression.vae_prune:PrunedAutoencoderKLTemporalDecoder":
        "vdmbench.models.pruned_vae:PrunedAutoencoderKLTemporalDecoder",
}


def import_class(target: str, component: str, where: Path | None = None) -> Any:
    """The object named by ``module:attr`` in a ``compression.json`` ``classes`` entry (moved
    targets mapped, see :data:`MOVED_TARGETS`); only :data:`ALLOWED_CLASS_MODULES` are imported."""
    target = MOVED_TARGETS.get(target, target)
    module_name, _, attr = target.partition(":")
    file = None if where is None else str(where)
    if not attr or not module_name.startswith(ALLOWED_CLASS_MODULES):
        raise ConfigError(f"component '{component}': class {target!r} must be 'module:attr' in "
                          f"one of {', '.join(ALLOWED_CLASS_MODULES)}", file=file,
                          field=f"classes.{component}")
    try:
        obj: Any = load_target(target)
    except (ImportError, AttributeError) as e:
        raise ConfigError(f"component '{component}': cannot import {target!r}: {e}", file=file,
                          field=f"classes.{component}") from e
    return obj


def load_student_unet(folder: Path, target: str | None, where: Path | None = None) -> nn.Module:
    """The UNet saved in ``folder`` (``save_pretrained``), built by the class ``target``
    (``compression.json`` ``classes.unet``; None = the class its ``config.json`` names)."""
    from vdmbench.models.unets import load_unet

    obj = None if target is None else import_class(target, "unet", where)
    return load_unet(folder, cls=None if obj is None or obj is load_unet else obj)


def load_student_transformer(folder: Path, target: str | None, where: Path | None = None
                             ) -> nn.Module:
    """The video transformer saved in ``folder`` (``save_pretrained``; a depth-pruned DiT
    student is one with fewer blocks, :mod:`vdmbench.models.pruned_dit`), built by the class
    ``target`` (``compression.json`` ``classes.transformer``; None = the diffusers class its
    ``config.json`` names)."""
    from vdmbench.models.pruned_dit import load_transformer

    obj = None if target is None else import_class(target, "transformer", where)
    return load_transformer(folder, cls=obj)


def classes_of(meta: Mapping[str, Any], where: Path) -> dict[str, str]:
    """``compression.json``'s component → class target map (the old ``unet_loader`` key counts
    as ``classes.unet`` where ``classes`` has none)."""
    classes = meta.get("classes", {}) or {}
    if not isinstance(classes, dict):
        raise ConfigError("'classes' must map component names to 'module:attr'",
                          file=str(where), field="classes")
    out = {str(k): str(v) for k, v in classes.items()}
    if "unet" not in out and meta.get("unet_loader"):
        out["unet"] = str(meta["unet_loader"])
    return out


def walk_chain(weights: str | Path | None, teacher_dir: Path, adapter: str,
               parts: Mapping[str, str], layout: str, denoiser: str = "unet"
               ) -> tuple[dict[str, Path], tuple[Path, ...], str | None]:
    """Follow the links from ``weights`` (None = ``teacher_dir``).

    ``parts`` maps each part to the path, relative to a directory, whose existence says that
    directory provides it. Returns (part → first directory providing it, the chain of
    directories, the ``classes.<denoiser>`` target of the directory providing the part
    ``denoiser``: ``unet``, or ``transformer`` for a video DiT). Parts no
    directory provides are simply absent: the adapter names them in its own error. A missing
    directory is a :class:`WeightsNotFoundError` (with ``layout``, what a model directory
    holds); a cycle, a
    ``compression.json`` without ``base_weights`` or whose ``base_model`` is not ``adapter`` are
    :class:`ConfigError` naming the file."""
    directory = teacher_dir if weights is None else expand_path(weights, f"{adapter} weights")
    sources: dict[str, Path] = {}
    chain: list[Path] = []
    unet_class: str | None = None
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
        if unet_class is None and sources.get(denoiser) == directory:
            unet_class = classes_of(meta, cj).get(denoiser)
        base = meta["base_weights"]
        nxt = teacher_dir if base is None else expand_path(str(base), f"{cj}: base_weights")
        directory = nxt if nxt.is_absolute() else directory / nxt
    return sources, tuple(chain), unet_class
