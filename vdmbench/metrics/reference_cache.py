"""Content-keyed cache of real-video feature statistics.

The key is the sha256 of the JSON of (dataset ``manifest_hash()``, extractor weights sha256,
preset id and version, the options that change the statistics) — never a name, so a changed
dataset, checkpoint, preset version or clip-selection option can never hit a stale file.
Files live under ``<cache_dir>/reference_stats/<key>.npz`` and are written atomically.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path
from typing import Any

from vdmbench.errors import DataError
from vdmbench.metrics.frechet import FeatureStats

SUBDIR = "reference_stats"


def reference_cache_material(manifest_hash: str, weights_sha256: str, preset_id: str,
                             preset_version: str, options: dict[str, Any]) -> dict[str, Any]:
    """The JSON-able data the key is the hash of (also saved inside the cache file)."""
    return {"manifest_hash": manifest_hash, "weights_sha256": weights_sha256,
            "preset": preset_id, "preset_version": preset_version, "options": options}


def reference_cache_key(manifest_hash: str, weights_sha256: str, preset_id: str,
                        preset_version: str, options: dict[str, Any]) -> str:
    """sha256 hex of the canonical JSON of :func:`reference_cache_material`."""
    material = reference_cache_material(manifest_hash, weights_sha256, preset_id,
                                        preset_version, options)
    blob = json.dumps(material, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


class ReferenceStatsCache:
    """``<cache_dir>/reference_stats/<key>.npz`` files holding :class:`FeatureStats`."""

    def __init__(self, cache_dir: str | Path) -> None:
        self.root = Path(cache_dir) / SUBDIR

    def path(self, key: str) -> Path:
        if len(key) != 64 or any(c not in "0123456789abcdef" for c in key):
            raise ValueError(f"cache key must be a sha256 hex digest, got {key!r}")
        return self.root / f"{key}.npz"

    def load(self, key: str) -> FeatureStats | None:
        """The cached statistics, or None if absent. A corrupt file is reported with a warning
        and treated as absent (it will be recomputed and replaced)."""
        p = self.path(key)
        if not p.is_file():
            return None
        try:
            return FeatureStats.load(p)
        except DataError as e:
            warnings.warn(f"ignoring unreadable reference statistics cache: {e}", stacklevel=2)
            return None

    def save(self, key: str, stats: FeatureStats, material: dict[str, Any] | None = None) -> Path:
        """Write ``stats`` (with ``material`` as metadata) atomically; returns the path."""
        return stats.save(self.path(key), meta={"key": key, "material": material or {}})
