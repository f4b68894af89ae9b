"""VDMini as a registered :class:`~vdmbench.acceleration.Compressor` (``vdmini``).

``fit(teacher, recipe, out)`` is :func:`compression.compress.compress`: plan → prune → ICMD
distillation (→ VAE decoder pruning where the recipe enables it) → a student directory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel

from compression.recipe import Recipe, default_recipe, load_recipe
from vdmbench.acceleration import Compressor
from vdmbench.diffusion.denoiser import DenoiserSpec


class VDMiniCompressor(Compressor):
    """Depth-aware block pruning + ICMD distillation (docs/compression.md)."""

    name: ClassVar[str] = "vdmini"
    Recipe: ClassVar[type[BaseModel]] = Recipe

    def default_recipe(self, model: str) -> Recipe:
        return default_recipe(model)

    def load_recipe(self, path: str | Path) -> Recipe:
        return load_recipe(path)

    def fit(self, teacher: DenoiserSpec, recipe: BaseModel, out: str | Path, **kwargs: Any
            ) -> Path:
        """``kwargs``: those of :func:`compression.compress.compress` (``plan``, ``resume``,
        ``progress``, ``stop_after``, ``vae_finetune_steps``, ``device``)."""
        from compression.compress import compress

        if not isinstance(recipe, Recipe):
            raise TypeError(f"vdmini needs a compression.recipe.Recipe, got {type(recipe)}")
        return compress(recipe, out, teacher=teacher, weights=teacher.weights, **kwargs)
