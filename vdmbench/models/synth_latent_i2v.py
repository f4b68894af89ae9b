"""The ``synth-latent-i2v`` model adapter: the latent synthetic world's I2V teacher or a student.

The model (VAE + SVD-architecture UNet on latents, EDM sampler, loading) is
:mod:`vdmbench.models.synth_latent_i2v_pipeline`; what the adapter hands to training and
acceleration is :class:`~vdmbench.models.synth_latent_i2v_denoiser.SynthLatentI2VDenoiser`
(components ``unet``, ``image_encoder`` and ``vae``). Requests, options, batching and padding
behave as in ``synth-i2v`` (:mod:`vdmbench.models.synth_i2v`), at 8 frames of 32×32.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import asdict
from typing import Any, ClassVar

import torch

from vdmbench.generation import GenerationRequest, ModelCard
from vdmbench.models.synth_i2v import SynthI2VAdapter
from vdmbench.models.synth_i2v_pipeline import count_params
from vdmbench.models.synth_latent_i2v_config import SynthLatentI2VConfig
from vdmbench.models.synth_latent_i2v_denoiser import SynthLatentI2VDenoiser
from vdmbench.models.synth_latent_i2v_pipeline import ADAPTER_NAME, VAE_DIR, load_pipeline
from vdmbench.paths import sha256_tree
from vdmbench.video import video_to_uint8


class SynthLatentI2VAdapter(SynthLatentI2VConfig, SynthI2VAdapter):
    """The ``synth-latent-i2v`` model adapter (a :class:`~vdmbench.generation.VideoGenerator`;
    options in :class:`~vdmbench.models.synth_latent_i2v_config.SynthLatentI2VConfig`)."""

    adapter_name: ClassVar[str] = ADAPTER_NAME
    load_pipeline: ClassVar[Callable[..., Any]] = staticmethod(load_pipeline)
    sampler_overrides: ClassVar[tuple[str, ...]] = ("sigma_min", "sigma_max", "rho",
                                                    "noise_aug_strength")

    @classmethod
    def load(cls, name: str, weights: str | None, options: Any, device: str,
             steps: int | None = None, dtype: str = "float32") -> SynthLatentI2VAdapter:
        """Load a model directory (``weights`` None = the shipped teacher; see
        :func:`~vdmbench.models.synth_latent_i2v_pipeline.resolve_model_dir`). ``steps`` None =
        ``sampler.json``'s; ``dtype`` (float32/float16/bfloat16) applies to the UNet and the
        image encoder, the VAE runs in float32."""
        return super().load(name, weights, options, device, steps, dtype)  # type: ignore[return-value]

    @classmethod
    def teacher(cls, weights: str | None, device: str = "cpu", *, frames: int | None = None,
                options: Any = None, dtype: str = "float32") -> SynthLatentI2VDenoiser:
        """The denoiser of a model directory (None = the shipped teacher) for analysis and
        distillation; ``frames`` must be None or the model's own."""
        return super().teacher(weights, device, frames=frames, options=options,  # type: ignore[return-value]
                               dtype=dtype)

    def denoiser(self) -> SynthLatentI2VDenoiser:  # type: ignore[override]
        """What training and acceleration need (see :class:`SynthLatentI2VDenoiser`)."""
        return SynthLatentI2VDenoiser(self.pipeline, str(self.device),  # type: ignore[arg-type]
                                      weights=self.weights)

    def weights_sha256(self) -> str:
        """sha256 over every directory of the chain, plus the shipped VAE when no directory of
        the chain holds a ``vae/``."""
        trees = [sha256_tree(d) for d in self.resolved.chain]
        if "vae" not in self.resolved.sources:
            trees.append(sha256_tree(VAE_DIR))
        return hashlib.sha256("+".join(trees).encode()).hexdigest()

    def describe(self) -> ModelCard:
        pipe = self.pipeline
        s = pipe.sampler
        sampler = {"name": "euler", "schedule": "karras", **asdict(s), "steps": self.steps}
        vae = pipe.vae  # type: ignore[attr-defined]
        return ModelCard(
            name=self.name, adapter=ADAPTER_NAME,
            params={"unet": count_params(pipe.unet),
                    "image_encoder": count_params(pipe.image_encoder),
                    "vae_encoder": count_params(vae.encoder) + count_params(vae.quant_conv),
                    "vae_decoder": count_params(vae.decoder)},
            dtype=self.dtype_name, steps=self.steps, frames=s.frames, height=s.height,
            width=s.width, weights_sha256=self.weights_sha256(), cfg=False, sampler=sampler)

    def components(self, request: GenerationRequest) -> dict[str, Callable[[], object]]:
        """``encode`` (VAE encoding of the conditioning frame + the first-latent encoder),
        ``denoise`` (one preconditioned UNet step at σ_max), ``decode`` (VAE decoding of a
        video's latents → uint8), each on inputs prepared once; ``video``: the whole video at
        batch 1 without padding (what the runner times as per-video latency)."""
        bucket = self._check(request)
        pipe, s = self.pipeline, self.pipeline.sampler
        image = request.image.unsqueeze(0)
        gen = torch.Generator().manual_seed(int(request.seed))
        noise = pipe.initial_noise(1, s.frames, s.height, s.width, [gen])
        cond, context, ids = pipe.conditioning(image, [bucket], [gen])  # type: ignore[attr-defined]
        sig = pipe.sigmas(self.steps).to(pipe.device)
        x = (noise.to(pipe.device) * sig[0]).to(pipe.dtype)
        final = noise.to(pipe.device, pipe.dtype)

        @torch.no_grad()
        def encode() -> torch.Tensor:
            z = pipe.encode_images(image)  # type: ignore[attr-defined]
            return pipe.encode(z, [bucket])

        @torch.no_grad()
        def denoise() -> torch.Tensor:
            return pipe.denoise(x, sig[0], cond, context, ids)

        def decode() -> torch.Tensor:
            return video_to_uint8(pipe.decode(final))  # type: ignore[attr-defined]

        def video() -> torch.Tensor:
            g = torch.Generator().manual_seed(int(request.seed))
            with torch.no_grad():
                return video_to_uint8(pipe.sample(image, [bucket], steps=self.steps,
                                                  generators=[g]))

        return {"encode": encode, "denoise": denoise, "decode": decode, "video": video}
