"""Every registered name in one place: models, metrics, datasets, compressors, kernels.

Entries are lazy ``"module:attr"`` strings: importing this module (``vdmbench ls``) imports
neither torch nor the targets. ``compression`` and ``baselines`` are reached only through these
names, so the harness never imports them directly.
"""

from __future__ import annotations

from typing import Any

from vdmbench.registry import Registry

MODELS: Registry[Any] = Registry("model adapter")
METRICS: Registry[Any] = Registry("metric")
DATASETS: Registry[Any] = Registry("dataset")
COMPRESSORS: Registry[Any] = Registry("compressor")
KERNELS: Registry[Any] = Registry("kernel backend")
COMMANDS: Registry[Any] = Registry("command")

# --- model adapters -------------------------------------------------------------------------
MODELS.add("test-generator", "vdmbench.testing:TestGenerator",
           "tiny seeded CPU generator for tests (moving pattern + noise)")

# --- datasets -------------------------------------------------------------------------------
DATASETS.add("test-patterns", "vdmbench.testing:TestPatternDataset",
             "procedural moving squares for tests")

# --- metrics --------------------------------------------------------------------------------
METRICS.add("mean_abs_diff_to_teacher", "vdmbench.testing:MeanAbsDiffToTeacher",
            "mean absolute pixel difference to the teacher's video (test metric)")


def registries() -> dict[str, Registry[Any]]:
    """The registries by the plural name ``vdmbench ls`` uses."""
    return {"models": MODELS, "metrics": METRICS, "datasets": DATASETS,
            "compressors": COMPRESSORS, "kernels": KERNELS}
