"""Content-keyed cache of feature-extractor outputs on generated videos.

The key of an entry is the sha256 of the extractor's identity (``describe()``: name, weights
sha256), the call (``features`` or ``probs``), the device type and the exact uint8 input batch
``(B, T, H, W, 3)`` (shape and bytes). An entry is the float64 output as ``.npy``, written through
a temporary file and a rename, so concurrent writers (ranks of one run, or runs sharing a cache)
never expose a partial file, and two writers of one key write the same bytes.

This is what lets a distributed run shard feature extraction: each rank calls a metric's
``update`` on its share of the batches (filling this cache), and rank 0 then streams every batch
in the single-process order, finding each output here, so the statistics are summed in the same
order as in a single process (docs/scale-out.md). A resumed run reuses the features too.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import torch

from vdmbench.records import give_default_mode

if TYPE_CHECKING:
    from vdmbench.metrics.extractor import VideoFeatureExtractor

CACHE_FORMAT = 1


class FeatureCache:
    """A folder ``<root>/<key[:2]>/<key>.npy`` of extractor outputs (see the module docstring);
    ``hits`` and ``misses`` count lookups of this instance."""

    def __init__(self, root: Path, device: str = "cpu") -> None:
        self.root = Path(root)
        self.device_type = device.split(":")[0]
        self.hits = 0
        self.misses = 0

    def key(self, extractor: VideoFeatureExtractor, call: str, batch: torch.Tensor) -> str:
        """sha256 of (extractor identity, call, device type, input shape and bytes)."""
        if batch.dtype != torch.uint8:
            raise TypeError(f"feature cache keys uint8 batches, got {batch.dtype}")
        h = hashlib.sha256(json.dumps(
            {"format": CACHE_FORMAT, "extractor": extractor.describe(), "call": call,
             "device": self.device_type, "shape": list(batch.shape)}, sort_keys=True).encode())
        h.update(batch.detach().cpu().contiguous().numpy().tobytes())
        return h.hexdigest()

    def path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.npy"

    def call(self, extractor: VideoFeatureExtractor, call: Literal["features", "probs"],
             batch: torch.Tensor) -> torch.Tensor:
        """``extractor.<call>(batch)`` (float64, CPU), from the cache when it holds the entry."""
        key = self.key(extractor, call, batch)
        path = self.path(key)
        if path.is_file():
            try:
                out = torch.from_numpy(np.load(path, allow_pickle=False))
            except (OSError, ValueError):  # an unreadable entry is recomputed and replaced
                pass
            else:
                self.hits += 1
                return out
        self.misses += 1
        out = getattr(extractor, call)(batch).detach().cpu().to(torch.float64)
        self._put(path, out.numpy())
        return out

    def _put(self, path: Path, array: np.ndarray) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".f.", suffix=".npy")
        give_default_mode(fd)
        try:
            with os.fdopen(fd, "wb") as f:
                np.save(f, array, allow_pickle=False)
            os.replace(tmp, path)
        finally:
            Path(tmp).unlink(missing_ok=True)
