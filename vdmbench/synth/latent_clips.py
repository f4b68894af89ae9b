"""SynthMotion clips as VAE latents for the latent teacher's training: one small on-disk cache.

The latent teacher trains on batches ``{"latents": (B, T, C, h, w) float32 (scaled VAE
latents, posterior mode), "motion": (B,) int64}``. :class:`SynthMotionLatents` produces them:
train-split clips ``0 … pool − 1`` are rendered at the model's shape, encoded by the VAE in
shards of ``shard_size`` clips and written once to ``DIR/shard_XXXXX.safetensors`` (float16
latents, int64 classes; written to a temporary file and renamed, so a killed run leaves no
half shard). ``DIR/key.json`` records what the latents depend on (VAE weights' sha256, clip
shape, data seed); a directory whose key differs is refused.

This is the interface the general training-data pipeline (a registered dataset encoded by the
model's VAE into a content-keyed latent cache) serves for every model; until that pipeline
reads SynthMotion for this teacher, this module is its stand-in.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from vdmbench.data.synthmotion import render_batch
from vdmbench.diffusion.denoiser import state_hash
from vdmbench.errors import ConfigError
from vdmbench.models.synth_latent_i2v_vae import encode_frames
from vdmbench.video import to_unit_float


class SynthMotionLatents:
    """Latent batches of SynthMotion train clips (see the module docstring).

    ``vae``: the (shipped) VAE; ``frames``/``size``: the pixel clip shape; ``pool``: clips
    used (step ``k`` takes clips ``k·B … k·B + B − 1`` modulo ``pool``)."""

    def __init__(self, directory: str | Path, vae: torch.nn.Module, frames: int = 8,
                 size: int = 32, data_seed: int = 0, pool: int = 16384,
                 shard_size: int = 256) -> None:
        if pool % shard_size:
            raise ConfigError(f"latent pool {pool} must be a multiple of the shard size "
                              f"{shard_size}")
        self.dir = Path(directory)
        self.vae, self.frames, self.size = vae, frames, size
        self.data_seed, self.pool, self.shard_size = data_seed, pool, shard_size
        self.key = {"vae_state_sha256": state_hash(vae), "frames": frames, "size": size,
                    "data_seed": data_seed, "split": "train", "shard_size": shard_size,
                    "encoding": "posterior mode × scaling_factor, float16"}
        self.dir.mkdir(parents=True, exist_ok=True)
        key_file = self.dir / "key.json"
        if key_file.is_file():
            old = json.loads(key_file.read_text())
            if old != self.key:
                raise ConfigError(f"latent cache {self.dir} was written for other settings or "
                                  f"another VAE: {old} ≠ {self.key}; use another directory",
                                  file=str(key_file))
        else:
            key_file.write_text(json.dumps(self.key, indent=2) + "\n")
        self._shards: dict[int, dict[str, torch.Tensor]] = {}

    def _shard(self, k: int) -> dict[str, torch.Tensor]:
        if k in self._shards:
            return self._shards[k]
        path = self.dir / f"shard_{k:05d}.safetensors"
        if not path.is_file():
            idx = list(range(k * self.shard_size, (k + 1) * self.shard_size))
            zs, ms = [], []
            for j in range(0, len(idx), 32):
                v, metas = render_batch(idx[j:j + 32], "train", self.frames, self.size,
                                        self.size, self.data_seed)
                x = to_unit_float(v).permute(0, 1, 4, 2, 3).contiguous()
                with torch.no_grad():
                    zs.append(encode_frames(self.vae, x).half())
                ms.append(torch.tensor([m.motion for m in metas], dtype=torch.int64))
            tmp = path.with_suffix(".tmp")
            save_file({"latents": torch.cat(zs).contiguous(), "motion": torch.cat(ms)}, str(tmp))
            tmp.replace(path)
        self._shards = {k: load_file(str(path))}  # keep one shard in memory
        return self._shards[k]

    def batch(self, step: int, batch: int) -> dict[str, torch.Tensor]:
        """Clips ``step·batch … step·batch + batch − 1`` (modulo ``pool``)."""
        zs, ms = [], []
        for i in range(step * batch, (step + 1) * batch):
            i %= self.pool
            s = self._shard(i // self.shard_size)
            zs.append(s["latents"][i % self.shard_size])
            ms.append(s["motion"][i % self.shard_size])
        return {"latents": torch.stack(zs).float(), "motion": torch.stack(ms)}
