"""The SVD denoiser convention as a :class:`~vdmbench.diffusion.denoiser.DenoiserSpec`.

v-prediction preconditioning ``c_in = 1/√(σ²+1)``, ``c_skip = 1/(σ²+1)``, ``c_out = -σ/√(σ²+1)``,
``c_noise = ¼·ln σ``; UNet input = noisy sample ‖ conditioning frame along channels; 1-token
context; ``added_time_ids`` (B, 3). It serves the ``svd``/``sfv`` adapters and the tiny random
test UNet of :func:`random_svd_unet`.

Training data: real clips encoded by :class:`SVDClipEncoder` (attached as ``train_data``), else
seeded Gaussian latent "clips" (``random-svd``, or the ``noise`` dataset named explicitly) or
``data_fn``. What a real clip becomes, with the pipeline's own components and code paths
(``StableVideoDiffusionPipeline`` ``_encode_image``, ``video_processor.preprocess``,
``_encode_vae_image``, ``_get_add_time_ids``):

- ``x0`` (F, 4, H/8, W/8): every frame's VAE latent (the posterior's mode) × ``scaling_factor``;
- ``cond`` (4, H/8, W/8): the first frame preprocessed as the pipeline does, plus
  ``noise_aug_strength`` × seeded Gaussian noise (seed from the data seed, clip index and file),
  through ``_encode_vae_image`` (unscaled, as the pipeline conditions);
- ``context`` (1, 1024): the CLIP image embedding of the first frame (``_encode_image``);
- ``added_time_ids`` (3,): [fps − 1, motion_bucket_id, noise_aug_strength] with the clip's own
  fps rounded (at least 2), as the pipeline computes them for that fps (float32).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from vdmbench.data.noise import drifting_latents, gaussian_latents, noise_generator
from vdmbench.diffusion.denoiser import DenoiserSpec, broadcast


def random_svd_unet(seed: int = 0) -> Any:
    """A tiny random SVD-architecture UNet (4 levels, layers_per_block 2; for tests/smoke)."""
    from diffusers import UNetSpatioTemporalConditionModel

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return UNetSpatioTemporalConditionModel(
            sample_size=8, in_channels=8, out_channels=4, block_out_channels=(32, 32, 32, 32),
            num_attention_heads=(2, 2, 2, 2), cross_attention_dim=16, layers_per_block=2,
            addition_time_embed_dim=8, projection_class_embeddings_input_dim=24,
            num_frames=4).eval()


class SVDDenoiser(DenoiserSpec):
    """SVD convention on a ``UNetSpatioTemporalConditionModel`` whose ``in_channels`` is twice
    its ``out_channels``. Data: seeded Gaussian "clips" with a smooth per-clip drift (for random
    test models) unless ``data_fn(n, seed) -> x0`` is given."""

    name = "svd"
    sigma_max = 700.0
    default_steps = 4

    def __init__(self, unet: nn.Module, device: str = "cpu", frames: int | None = None,
                 size: int | None = None, data_fn: Any = None,
                 added_time_ids: tuple[float, float, float] = (6.0, 127.0, 0.02),
                 weights: str | None = None, modules: dict[str, nn.Module] | None = None,
                 name: str | None = None, loader: Any = None) -> None:
        super().__init__(unet, device, weights=weights, modules=modules, name=name,
                         loader=loader)
        cfg = unet.config
        self.channels = int(cfg.out_channels)
        self.frames = int(frames or cfg.num_frames)
        self.size = int(size or cfg.sample_size or 16)
        self.ctx_dim = int(cfg.cross_attention_dim if isinstance(cfg.cross_attention_dim, int)
                           else cfg.cross_attention_dim[0])
        self.data_fn = data_fn
        self.added_time_ids = added_time_ids

    def clip_encoder(self, data: Any, storage: torch.dtype = torch.float16) -> SVDClipEncoder:
        """The encoder of real clips of ``data`` (see the module docstring)."""
        parts = {k: self.component(k) for k in ("vae", "image_encoder", "feature_extractor")}
        return SVDClipEncoder(**parts, unet=self.unet, device=self.device, data=data,
                              motion_bucket_id=self.added_time_ids[1],
                              noise_aug_strength=self.added_time_ids[2], storage=storage)

    def batch(self, n: int, seed: int, split: str = "train") -> dict[str, torch.Tensor]:
        if self.train_data is not None:
            return self.cached_batch(n, seed)
        g = noise_generator(seed, split)  # the `noise` dataset (or random-svd's own clips)
        if self.data_fn is not None:
            x0 = self.data_fn(n, seed).float()
        else:
            x0 = drifting_latents(n, self.frames, self.channels, self.size, g)
        ctx = gaussian_latents((n, 1, self.ctx_dim), g)
        ids = torch.tensor(self.added_time_ids).repeat(n, 1)
        return {"x0": x0.to(self.device), "cond": x0[:, 0].to(self.device),
                "context": ctx.to(self.device), "added_time_ids": ids.to(self.device)}

    def encode_inputs(self, x_noisy: torch.Tensor, sigma: torch.Tensor,
                      batch: dict[str, torch.Tensor]) -> dict[str, Any]:
        c_in = broadcast(1.0 / (sigma ** 2 + 1).sqrt(), x_noisy)
        cond = batch["cond"].unsqueeze(1).expand(-1, x_noisy.shape[1], -1, -1, -1)
        sample = torch.cat([x_noisy * c_in, cond.to(x_noisy)], dim=2)
        timestep = (0.25 * sigma.log()).to(x_noisy.dtype)
        return {"sample": sample, "timestep": timestep,
                "encoder_hidden_states": batch["context"].to(x_noisy),
                "added_time_ids": batch["added_time_ids"].to(x_noisy)}

    def precondition(self, x_noisy: torch.Tensor, sigma: torch.Tensor, raw: torch.Tensor
                     ) -> torch.Tensor:
        c_skip = broadcast(1.0 / (sigma ** 2 + 1), x_noisy)
        c_out = broadcast(-sigma / (sigma ** 2 + 1).sqrt(), x_noisy)
        return c_skip * x_noisy + c_out * raw


class SVDClipEncoder:
    """Encodes a :class:`~vdmbench.data.clips.TrainClip` as the SVD pipeline conditions and as
    SVD trains (see the module docstring); ``storage``: the cache dtype of latents and
    embeddings; ``chunk``: frames per VAE encode call."""

    needs_captions = False

    def __init__(self, vae: nn.Module, image_encoder: nn.Module, feature_extractor: Any,
                 unet: nn.Module | None, device: str, data: Any, motion_bucket_id: float,
                 noise_aug_strength: float, storage: torch.dtype = torch.float16,
                 chunk: int = 8) -> None:
        from diffusers import StableVideoDiffusionPipeline

        from vdmbench.errors import ConfigError

        self.pipe = StableVideoDiffusionPipeline(vae=vae, image_encoder=image_encoder,
                                                 unet=unet, scheduler=None,
                                                 feature_extractor=feature_extractor)
        f = self.pipe.vae_scale_factor
        if data.height % f or data.width % f:
            raise ConfigError(f"data: {data.height}×{data.width} is not a multiple of the VAE's "
                              f"downsampling factor {f}", field="data.height")
        self.device, self.data = device, data
        self.motion_bucket_id, self.noise_aug = float(motion_bucket_id), float(noise_aug_strength)
        self.storage, self.chunk = storage, chunk

    def material(self) -> dict[str, Any]:
        from vdmbench.diffusion.denoiser import state_hash

        fe = self.pipe.feature_extractor
        return {"encoder": "svd-1", "vae": state_hash(self.pipe.vae),
                "image_encoder": state_hash(self.pipe.image_encoder),
                "feature_extractor": fe.to_json_string() if hasattr(fe, "to_json_string")
                else repr(fe), "motion_bucket_id": self.motion_bucket_id,
                "noise_aug_strength": self.noise_aug, "dtype": str(self.storage),
                "chunk": self.chunk, "device": str(self.device).split(":")[0]}

    def cond_generator(self, clip: Any) -> torch.Generator:
        """The generator of the conditioning frame's noise: seeded by (data seed, index, file)."""
        import hashlib

        key = f"svd-cond:{self.data.seed}:{clip.ref.index}:{clip.ref.name}".encode()
        return torch.Generator("cpu").manual_seed(
            int.from_bytes(hashlib.sha256(key).digest()[:8], "little") & 0x7FFFFFFFFFFFFFFF)

    @torch.no_grad()
    def encode(self, clip: Any) -> dict[str, torch.Tensor]:
        import PIL.Image
        from diffusers.utils.torch_utils import randn_tensor

        p, dev = self.pipe, self.device
        h, w = self.data.height, self.data.width
        image = PIL.Image.fromarray(clip.first_frame.cpu().numpy())
        emb = p._encode_image(image, dev, 1, False)  # (1, 1, D)
        pre = p.video_processor.preprocess(image, height=h, width=w).to(dev)
        noise = randn_tensor(pre.shape, generator=self.cond_generator(clip), device=dev,
                             dtype=pre.dtype)
        pre = pre + self.noise_aug * noise
        upcast = p.vae.dtype == torch.float16 and bool(p.vae.config.force_upcast)
        if upcast:
            p.vae.to(dtype=torch.float32)
        cond = p._encode_vae_image(pre, dev, 1, False)[0]  # (C, h, w)
        frames = clip.frames.permute(0, 3, 1, 2).float() / 255.0  # (F, 3, H, W) in [0, 1]
        x = p.video_processor.preprocess(frames, height=h, width=w)
        lat = []
        for k in range(0, x.shape[0], self.chunk):
            part = x[k:k + self.chunk].to(dev, p.vae.dtype)
            lat.append(p.vae.encode(part).latent_dist.mode())
        if upcast:
            p.vae.to(dtype=torch.float16)
        x0 = torch.cat(lat) * float(p.vae.config.scaling_factor)
        fps = max(2, round(clip.fps))
        ids = torch.tensor([fps - 1, self.motion_bucket_id, self.noise_aug], dtype=torch.float32)
        s = self.storage
        return {"x0": x0.to(s), "cond": cond.to(s), "context": emb[0].to(s),
                "added_time_ids": ids}
