"""SynthMotion clips as VAE latents for the latent teacher's training, through the latent cache.

The latent teacher trains on batches ``{"latents": (B, T, C, h, w) float32 (scaled VAE
latents, posterior mode), "motion": (B,) int64}``. :class:`SynthMotionLatents` makes them with
the general training-data pipeline, exactly as a real teacher trains on a video folder: the
registered ``synthmotion`` dataset's clip source (train split, videos ``0 … pool − 1`` rendered
at the model's shape), :class:`LatentClipEncoder` (the VAE as the encoder), and the
content-keyed cache (:func:`vdmbench.training_data.cache.prepare`, float16 shards under
``root``; the key covers the clip list, the VAE's state hash and the storage dtype, so another
VAE gets another cache). Step ``k`` reads clips ``k·B … k·B + B − 1`` modulo ``pool``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import torch

from vdmbench.data.clips import TrainClip
from vdmbench.data.synthmotion import sample_meta
from vdmbench.diffusion.denoiser import state_hash
from vdmbench.models.synth_latent_i2v_vae import encode_frames
from vdmbench.training_data import training_source
from vdmbench.training_data.cache import CachedClips, prepare
from vdmbench.training_data.spec import TrainingDataSpec
from vdmbench.video import to_unit_float

_INDEX = re.compile(r"^synthmotion-(train|val|test)-(\d+)$")


class LatentClipEncoder:
    """A SynthMotion :class:`~vdmbench.data.clips.TrainClip` → ``{"x0": (T, C, h, w) scaled
    latents (posterior mode, float16), "motion": () int64}`` (the motion class from the clip's
    SynthMotion index and ``data_seed``)."""

    needs_captions = False

    def __init__(self, vae: torch.nn.Module, data_seed: int = 0) -> None:
        self.vae, self.data_seed = vae, data_seed

    def material(self) -> dict[str, Any]:
        return {"encoder": "synth-latent-i2v-vae-1", "vae": state_hash(self.vae),
                "latents": "posterior mode × scaling_factor", "dtype": "float16",
                "data_seed": self.data_seed}

    @torch.no_grad()
    def encode(self, clip: TrainClip) -> dict[str, torch.Tensor]:
        m = _INDEX.match(clip.ref.name)
        if m is None:
            raise ValueError(f"not a SynthMotion clip: {clip.ref.name!r}")
        meta = sample_meta(int(m.group(2)), m.group(1), self.data_seed)
        x = to_unit_float(clip.frames).permute(0, 3, 1, 2).unsqueeze(0)
        z = encode_frames(self.vae, x)[0].half().contiguous()
        return {"x0": z, "motion": torch.tensor(meta.motion, dtype=torch.int64)}


class SynthMotionLatents:
    """Latent batches of SynthMotion train clips (see the module docstring)."""

    def __init__(self, root: str | Path, vae: torch.nn.Module, frames: int = 8, size: int = 32,
                 data_seed: int = 0, pool: int = 16384, shard_clips: int = 256,
                 progress: bool = False) -> None:
        self.data = TrainingDataSpec(name="synthmotion", split="train", num_videos=pool,
                                     frames=frames, height=size, width=size, seed=data_seed)
        self.result = prepare(training_source(self.data), LatentClipEncoder(vae, data_seed),
                              root, shard_clips=shard_clips, progress=progress)
        self.cache = CachedClips(self.result.path)
        self.pool = len(self.cache)

    def batch(self, step: int, batch: int) -> dict[str, torch.Tensor]:
        """Clips ``step·batch … step·batch + batch − 1`` (modulo the pool)."""
        idx = [i % self.pool for i in range(step * batch, (step + 1) * batch)]
        got = self.cache.get(idx)
        return {"latents": got["x0"].float(), "motion": got["motion"].to(torch.int64)}
