"""Content-keyed cache of generated videos.

The key of a video is the sha256 of everything that determines it: the model's weights hash,
adapter, steps, dtype, kernels and sampler options, and the request (with its conditioning image's
hash and its seed). Files are ``.npy`` uint8 ``(T, H, W, 3)`` plus fps in a side ``.json``, each
written through its own temporary file and a rename, so a killed run leaves either a whole video
or none, and concurrent writers (the ranks of a distributed run, runs sharing the cache) never
see a partial entry.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vdmbench.generation import GenerationRequest
from vdmbench.records import give_default_mode
from vdmbench.video import Video

CACHE_FORMAT = 1


def model_key(material: dict[str, Any]) -> str:
    """sha256 of a model's output-determining settings (weights hash, steps, dtype, options…)."""
    blob = json.dumps({"cache_format": CACHE_FORMAT, **material}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def video_key(model: str, request: GenerationRequest | str) -> str:
    """sha256 of (model key, request content hash); ``request`` may be the content hash."""
    content = request if isinstance(request, str) else request.content_hash()
    return hashlib.sha256(f"{model}|{content}".encode()).hexdigest()


def image_key(request: GenerationRequest) -> str:
    """The key of a request's conditioning image (kept as a one-frame video in the cache's
    ``inputs/``): the image's sha256, as in the request's key material."""
    return str(request.key_material()["image_sha256"])


class VideoCache:
    """A folder of cached videos: ``<root>/<key[:2]>/<key>.npy``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.npy"

    def has(self, key: str) -> bool:
        return self.path(key).is_file() and self.path(key).with_suffix(".json").is_file()

    def put(self, key: str, video: Video) -> None:
        """Store atomically: the ``.json`` (written last) marks a complete entry."""
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".v.", suffix=".npy")
        give_default_mode(fd)  # mkstemp makes 0600; the file gets what the umask gives
        try:
            with os.fdopen(fd, "wb") as f:
                np.save(f, video.frames.cpu().numpy(), allow_pickle=False)
            os.replace(tmp, path)
        finally:
            Path(tmp).unlink(missing_ok=True)
        fd, meta_tmp = tempfile.mkstemp(dir=path.parent, prefix=".v.", suffix=".json")
        give_default_mode(fd)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(json.dumps({"fps": video.fps, "shape": list(video.frames.shape)}))
            os.replace(meta_tmp, path.with_suffix(".json"))
        finally:
            Path(meta_tmp).unlink(missing_ok=True)

    def get(self, key: str) -> Video:
        path = self.path(key)
        meta = json.loads(path.with_suffix(".json").read_text())
        frames = torch.from_numpy(np.load(path, allow_pickle=False))
        return Video(frames, float(meta["fps"]))
