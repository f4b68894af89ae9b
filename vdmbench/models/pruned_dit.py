"""Video diffusion transformers (DiTs) with fewer blocks: their block lists and their loader.

A diffusers video transformer runs its blocks from top-level ``nn.ModuleList``s, each sized by a
config key (:data:`BLOCK_LISTS`):

- ``WanTransformer3DModel``: ``blocks`` (``num_layers``);
- ``CogVideoXTransformer3DModel``, ``LTXVideoTransformer3DModel``, ``MochiTransformer3DModel``:
  ``transformer_blocks`` (``num_layers``);
- ``HunyuanVideoTransformer3DModel``: ``transformer_blocks`` (``num_layers``), then
  ``single_transformer_blocks`` (``num_single_layers``).

The forward loops over the list, so a transformer whose list is shorter and whose config key says
so is a valid model of the same class. A depth-pruned DiT student (made by
:mod:`compression.dit_student`) is exactly that: its ``transformer/`` folder is a plain
``save_pretrained`` folder of the teacher's class with a smaller ``num_layers`` (and/or
``num_single_layers``) and the kept blocks' weights renumbered ``0 … k-1``; plain diffusers
``from_pretrained`` loads it. :func:`load_transformer` does the same with the class named in its
``config.json`` and re-aligned tensors (bit-identical outputs on CPU, see
:func:`vdmbench.models.unets.load_unet`). Nothing here imports ``compression``.
"""

from __future__ import annotations

import os
from typing import Any

from torch import nn

from vdmbench.errors import ConfigError
from vdmbench.models.unets import _realigned, read_component_config

#: top-level block lists of diffusers video transformers, in forward order, with the config key
#: that sizes each
BLOCK_LISTS: tuple[tuple[str, str], ...] = (
    ("transformer_blocks", "num_layers"),
    ("blocks", "num_layers"),
    ("single_transformer_blocks", "num_single_layers"),
)


def block_lists(model: nn.Module) -> list[tuple[str, str, int]]:
    """``(attribute, config key, length)`` of every block list of ``model`` in forward order
    (empty for a model that is not a video transformer, e.g. any UNet)."""
    if hasattr(model, "down_blocks") or not hasattr(model, "config"):
        return []
    out = []
    cfg = model.config
    for attr, key in BLOCK_LISTS:
        lst = getattr(model, attr, None)
        if isinstance(lst, nn.ModuleList) and key in cfg:
            if int(cfg[key]) != len(lst):
                raise ConfigError(f"{type(model).__name__}: {attr} has {len(lst)} blocks but its "
                                  f"config says {key}={cfg[key]}")
            out.append((attr, key, len(lst)))
    return out


def is_transformer(model: Any) -> bool:
    """Whether ``model`` is a diffusers video transformer with block lists (see the module
    docstring)."""
    return isinstance(model, nn.Module) and bool(block_lists(model))


def transformer_class(name: str) -> type[nn.Module] | None:
    """The diffusers model class named ``name`` (a ``config.json`` ``_class_name``); None when
    diffusers has no model class of that name."""
    import diffusers

    cls = getattr(diffusers, name, None)
    if isinstance(cls, type) and issubclass(cls, diffusers.ModelMixin):
        return cls
    return None


def load_transformer(path: str | os.PathLike[str], cls: type[nn.Module] | None = None,
                     **kwargs: Any) -> nn.Module:
    """Load a ``save_pretrained`` transformer (teacher or depth-pruned student) with ``cls`` or
    the diffusers class its ``config.json`` names; ``path`` is the ``transformer/`` folder or a
    folder holding one. ``kwargs`` go to ``from_pretrained`` (``torch_dtype``, ``variant``)."""
    p, meta = read_component_config(path, "transformer", "transformer",
                                    "a diffusers save_pretrained folder, e.g. "
                                    "<student dir>/transformer")
    if cls is None:
        name = meta.get("_class_name") if isinstance(meta, dict) else None
        cls = transformer_class(name) if isinstance(name, str) else None
        if cls is None:
            raise ConfigError(f"unknown transformer class {name!r} (not a diffusers model "
                              f"class)", file=str(p / "config.json"), field="_class_name")
    model = _realigned(cls.from_pretrained(str(p), **kwargs))  # type: ignore[attr-defined]
    return model.eval()
