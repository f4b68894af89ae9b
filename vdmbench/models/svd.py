"""Stable Video Diffusion (image-to-video) and SF-V (its one-step version) as model adapters.

Both adapters assemble diffusers' ``StableVideoDiffusionPipeline`` from local, diffusers-format
component folders (``save_pretrained`` layout; where each comes from:
:mod:`vdmbench.models.svd_components`) and never download anything:

========================  =====================================  =================================
component                 class                                   files looked for
========================  =====================================  =================================
``unet``                  ``UNetSpatioTemporalConditionModel``    ``config.json`` + safetensors
``vae``                   ``AutoencoderKLTemporalDecoder``        ``config.json`` + safetensors
``image_encoder``         ``CLIPVisionModelWithProjection``       ``config.json`` + safetensors
``feature_extractor``     ``CLIPImageProcessor``                  ``preprocessor_config.json``
``scheduler``             ``EulerDiscreteScheduler``              ``scheduler_config.json``
========================  =====================================  =================================

``weights`` is a directory (``${ENV}`` allowed) or ``hf:<org>/<name>[@revision]`` (an offline
Hugging Face cache, ``local_files_only=True``). Components are searched in a chain of roots: the
weights directory (a full pipeline folder, a student folder written by ``vdmbench compress`` or a
bare UNet folder), then the ``base_weights`` named by its ``compression.json`` (and theirs, in
turn), then the ``base`` option (and its chain). The first root holding a component wins, so a
student's ``unet/`` (and optional pruned ``vae/``) replace the base model's while everything else
comes from the base.

:class:`SVDAdapter` (``svd``) samples with the pipeline's Euler/Karras schedule and frame-wise
linear classifier-free guidance (CFG doubles the UNet batch when ``max_guidance_scale > 1``).
:class:`SFVAdapter` (``sfv``) samples in one UNet forward without CFG: the initial latent is drawn
at noise level ``sigma`` (scheduler sigmas ``[sigma, 0]``) and a single Euler step to ``σ = 0``
returns the model's denoised estimate. SF-V's exact inference noise level is *unconfirmed*
(see docs/svd_ucf101.md); the default is the SVD scheduler's ``σ_max = 700``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any

import torch

from vdmbench.errors import ConfigError, InvalidRequestError, WeightsNotFoundError
from vdmbench.generation import GenerationRequest, ModelCard, torch_dtype
from vdmbench.models.svd_components import (
    COMPONENTS,
    ComponentSource,
    count_params,
    load_component,
    load_source,
    resolve_components,
    weights_hash,
)
from vdmbench.models.svd_config import (
    SFVConfig,
    SFVOptions,
    SVDCommonOptions,
    SVDConfig,
    SVDOptions,
)
from vdmbench.models.svd_denoiser import SVDDenoiser
from vdmbench.models.svd_random import SVD_SCHEDULER_CONFIG, random_svd_pipeline
from vdmbench.paths import expand_path
from vdmbench.video import Video, from_bcthw, from_unit_float, resize_frames, to_unit_float

__all__ = ["SVDAdapter", "SFVAdapter", "SVDOptions", "SFVOptions", "ComponentSource",
           "resolve_components", "load_component", "random_svd_pipeline", "COMPONENTS",
           "SVD_SCHEDULER_CONFIG"]


# ------------------------------------------------------------------------------ the adapter


class SVDAdapter(SVDConfig):
    """``svd``: diffusers' StableVideoDiffusionPipeline from local weights (see module doc;
    options and checks in :class:`~vdmbench.models.svd_config.SVDConfig`)."""

    def __init__(self, name: str, pipe: Any, sources: dict[str, ComponentSource],
                 options: SVDCommonOptions, device: str, steps: int, dtype: str) -> None:
        self.name = name
        self.pipe = pipe
        self.sources = sources
        self.options = options
        self.device = torch.device(device)
        self.steps = steps
        self.dtype = dtype
        self._card: ModelCard | None = None

    # -- construction --------------------------------------------------------------------------

    @classmethod
    def load(cls, name: str, weights: str | None, options: Any, device: str,
             steps: int | None = None, dtype: str = "float32") -> SVDAdapter:
        """Resolve and load the components (offline), build the pipeline on ``device``.

        ``options``: an ``Options`` instance or a mapping; ``steps``: denoising steps;
        ``dtype``: float32 / float16 / bfloat16.
        """
        if not isinstance(options, cls.Options):
            options = cls.Options.model_validate(options or {})
        n_steps = cls._check_steps(steps, name)
        dt = torch_dtype(dtype, f"model '{name}'")
        from diffusers import StableVideoDiffusionPipeline

        sources = resolve_components(name, weights, options)
        cls._check_unet_source(name, sources)
        parts = {k: load_source(s, dt, name) for k, s in sources.items()}
        pipe = StableVideoDiffusionPipeline(**parts)
        pipe.to(device, silence_dtype_warnings=True)  # float16 on a CPU is supported here
        pipe.set_progress_bar_config(disable=True)
        return cls(name, pipe, sources, options, device, n_steps, dtype)

    @classmethod
    def teacher(cls, weights: str | None, device: str = "cpu", *, frames: int | None = None,
                options: Any = None, dtype: str = "float32") -> SVDDenoiser:
        """The denoiser for analysis and distillation: only the UNet is loaded (a full pipeline
        folder, a student folder or a bare UNet folder; ``options`` ``variant``/``base`` apply);
        other components (the VAE, for decoder pruning) load on demand through
        ``component(name)`` from the same folders. Training batches come from the latent
        cache that ``vdmbench.training_data.attach`` gives the spec (the recipe's ``data:``);
        seeded Gaussian latents of ``frames`` (default 14) × 16 × 16 only where the ``noise``
        dataset is named."""
        if weights is None:
            raise WeightsNotFoundError(
                f"{cls.adapter_name}: no weights given. Pass the teacher's folder (--weights DIR "
                f"on the command line): a diffusers SVD/SF-V folder, a student folder or a bare "
                f"UNet folder (config.json + diffusion_pytorch_model[.fp16].safetensors); "
                f"nothing is downloaded")
        if not isinstance(options, cls.Options):
            options = cls.Options.model_validate(options or {})
        dt = torch_dtype(dtype, f"model '{cls.adapter_name}'")
        name = cls.adapter_name
        unet = load_component(name, weights, "unet", options, dt).to(device)

        def load_other(component: str) -> torch.nn.Module:
            return load_component(name, weights, component, options)

        root = str(expand_path(weights, f"{name} weights").resolve()) if weights else None
        return SVDDenoiser(unet, device, frames=frames or 14, size=16, weights=root, name=name,
                           loader=load_other, added_time_ids=(
                               6.0, float(options.motion_bucket_id),
                               float(options.noise_aug_strength)))

    def denoiser(self) -> SVDDenoiser:
        """The loaded pipeline's UNet with the SVD convention (modules: unet, vae,
        image_encoder), for transforms and baselines."""
        p = self.pipe
        return SVDDenoiser(p.unet, str(self.device), frames=self.options.num_frames,
                           weights=None, name=self.adapter_name,
                           modules={"vae": p.vae, "image_encoder": p.image_encoder})

    # -- sampling parameters -------------------------------------------------------------------

    @property
    def cfg(self) -> bool:
        return float(getattr(self.options, "max_guidance_scale", 1.0)) > 1.0

    def _guidance(self) -> tuple[float, float]:
        o = self.options
        return (float(getattr(o, "min_guidance_scale", 1.0)),
                float(getattr(o, "max_guidance_scale", 1.0)))

    def _schedule_kwargs(self) -> dict[str, Any]:
        """How the pipeline's scheduler is set: ``num_inference_steps`` (Karras sigmas)."""
        return {"num_inference_steps": self.steps}

    def _set_schedule(self, scheduler: Any) -> None:
        kw = self._schedule_kwargs()
        if "sigmas" in kw:
            scheduler.set_timesteps(sigmas=kw["sigmas"], device=self.device)
        else:
            scheduler.set_timesteps(kw["num_inference_steps"], device=self.device)

    def _shape(self, r: GenerationRequest) -> tuple[int, int, int, int]:
        """(generated frames, height, width, conditioning fps) for a request."""
        o = self.options
        frames = o.num_frames or r.frames
        h, w = o.height or r.height, o.width or r.width
        if frames < r.frames:
            raise ConfigError(f"model '{self.name}': num_frames {frames} is fewer than the "
                              f"{r.frames} frames request {r.id} asks for")
        if h % 8 or w % 8:
            raise ConfigError(f"model '{self.name}', request {r.id}: {h}×{w} is not a multiple "
                              f"of 8; set the model's height/width options")
        fps = o.fps if o.fps is not None else max(2, round(r.fps))
        return frames, h, w, fps

    @staticmethod
    def _image(r: GenerationRequest) -> Any:
        import PIL.Image

        if r.image is None:
            raise InvalidRequestError(f"request {r.id}: image-to-video needs a conditioning image")
        return PIL.Image.fromarray(r.image.detach().cpu().numpy())

    # -- the protocol --------------------------------------------------------------------------

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Video]:
        """One uint8 ``(r.frames, r.height, r.width, 3)`` video per request, in order.

        Each request runs alone with its own CPU ``torch.Generator(seed)`` (conditioning-frame
        noise, then initial latents, as the pipeline draws them), so a video does not depend on
        the other requests of the batch and is bit-identical on CPU for the same request.
        """
        lo, hi = self._guidance()
        out: list[Video] = []
        for r in requests:
            frames, h, w, fps = self._shape(r)
            image = self._image(r)
            g = torch.Generator("cpu").manual_seed(int(r.seed))
            latents = self.pipe(
                image, height=h, width=w, num_frames=frames, min_guidance_scale=lo,
                max_guidance_scale=hi, fps=fps, motion_bucket_id=self.options.motion_bucket_id,
                noise_aug_strength=self.options.noise_aug_strength,
                decode_chunk_size=self.options.decode_chunk_size, generator=g,
                output_type="latent", **self._schedule_kwargs()).frames
            video = self._decode(latents, frames)[0][:r.frames]
            if (h, w) != (r.height, r.width):
                x = to_unit_float(video).permute(0, 3, 1, 2)
                x = resize_frames(x, (r.height, r.width), self.options.output_resize)
                video = from_unit_float(x.permute(0, 2, 3, 1))
            out.append(Video(video.contiguous().cpu(), float(r.fps)))
        return out

    @torch.no_grad()
    def _decode(self, latents: torch.Tensor, frames: int) -> torch.Tensor:
        """Latents ``(B, F, C, h, w)`` → uint8 ``(B, F, H, W, 3)`` via the pipeline's
        ``decode_latents`` (output in [-1, 1])."""
        chunk = self.options.decode_chunk_size or frames
        x = self.pipe.decode_latents(latents, frames, chunk)  # (B, C, F, H, W) float32
        return from_unit_float(from_bcthw(x))

    def describe(self) -> ModelCard:
        """Parameter counts per component, weights hash over the component folders used."""
        if self._card is None:
            p = self.pipe
            decoder = count_params(getattr(p.vae, "decoder", None))
            params = {"unet": count_params(p.unet), "vae_encoder": count_params(p.vae) - decoder,
                      "vae_decoder": decoder, "image_encoder": count_params(p.image_encoder)}
            scale = p.vae_scale_factor
            lo, hi = self._guidance()
            sampler: dict[str, Any] = {
                "scheduler": type(p.scheduler).__name__, **self._schedule_kwargs(),
                "min_guidance_scale": lo, "max_guidance_scale": hi,
                "motion_bucket_id": self.options.motion_bucket_id,
                "noise_aug_strength": self.options.noise_aug_strength,
                "fps": self.options.fps, "decode_chunk_size": self.options.decode_chunk_size,
                "sources": {k: s.origin for k, s in self.sources.items()},
                "size": "options" if self.options.height else "per request (card: UNet config)",
            }
            self._card = ModelCard(
                name=self.name, adapter=self.adapter_name, params=params, dtype=self.dtype,
                steps=self.steps,
                frames=int(self.options.num_frames or p.unet.config.num_frames),
                height=int(self.options.height or p.unet.config.sample_size * scale),
                width=int(self.options.width or p.unet.config.sample_size * scale),
                weights_sha256=weights_hash(self.sources), cfg=self.cfg, sampler=sampler)
        return self._card

    def components(self, request: GenerationRequest) -> dict[str, Callable[[], object]]:
        """Named callables on inputs prepared once for ``request``:

        - ``image_encode``: CLIP image embedding (``_encode_image``; batch 2 with CFG);
        - ``vae_encode``: VAE encoding of the noised conditioning frame (``_encode_vae_image``,
          with the pipeline's fp16 → fp32 upcast when the VAE asks for it);
        - ``denoise``: one sampler step — input scaling, the UNet on the CFG-doubled batch,
          the guidance mix and the Euler update — at the first sigma;
        - ``decode``: ``decode_latents`` of the whole ``(1, F, 4, H/8, W/8)`` latent.
        """
        p, dev, cfg = self.pipe, self.device, self.cfg
        frames, h, w, fps = self._shape(request)
        image = self._image(request)
        o = self.options
        lo, hi = self._guidance()
        g = torch.Generator("cpu").manual_seed(int(request.seed))
        needs_upcast = p.vae.dtype == torch.float16 and bool(p.vae.config.force_upcast)
        with torch.no_grad():
            emb = p._encode_image(image, dev, 1, cfg)
            pre = p.video_processor.preprocess(image, height=h, width=w).to(dev)
            noise = torch.randn(pre.shape, generator=g, dtype=pre.dtype).to(dev)
            pre = pre + o.noise_aug_strength * noise
            if needs_upcast:
                p.vae.to(dtype=torch.float32)
            img_lat = p._encode_vae_image(pre, dev, 1, cfg).to(emb.dtype)
            if needs_upcast:
                p.vae.to(dtype=torch.float16)
            img_lat = img_lat.unsqueeze(1).repeat(1, frames, 1, 1, 1)
            add_ids = p._get_add_time_ids(fps - 1, o.motion_bucket_id, o.noise_aug_strength,
                                          emb.dtype, 1, 1, cfg).to(dev)
            sched = copy.deepcopy(p.scheduler)
            self._set_schedule(sched)
            sched.set_begin_index(0)
            t0 = sched.timesteps[0]
            shape = (1, frames, p.unet.config.in_channels // 2, h // p.vae_scale_factor,
                     w // p.vae_scale_factor)
            unit = torch.randn(shape, generator=g, dtype=torch.float32).to(dev, emb.dtype)
            latents = unit * sched.init_noise_sigma
            guidance = torch.linspace(lo, hi, frames, device=dev, dtype=latents.dtype)
            guidance = guidance.view(1, frames, 1, 1, 1)

        @torch.no_grad()
        def image_encode() -> torch.Tensor:
            return p._encode_image(image, dev, 1, cfg)

        @torch.no_grad()
        def vae_encode() -> torch.Tensor:
            if needs_upcast:
                p.vae.to(dtype=torch.float32)
            z = p._encode_vae_image(pre, dev, 1, cfg)
            if needs_upcast:
                p.vae.to(dtype=torch.float16)
            return z

        @torch.no_grad()
        def denoise() -> torch.Tensor:
            s = copy.copy(sched)  # a fresh step index at the first sigma each call
            x = torch.cat([latents] * 2) if cfg else latents
            x = torch.cat([s.scale_model_input(x, t0), img_lat], dim=2)
            out = p.unet(x, t0, encoder_hidden_states=emb, added_time_ids=add_ids,
                         return_dict=False)[0]
            if cfg:
                uncond, cond = out.chunk(2)
                out = uncond + guidance * (cond - uncond)
            return s.step(out, t0, latents).prev_sample

        @torch.no_grad()
        def decode() -> torch.Tensor:
            return p.decode_latents(unit, frames, o.decode_chunk_size or frames)

        return {"image_encode": image_encode, "vae_encode": vae_encode, "denoise": denoise,
                "decode": decode}


class SFVAdapter(SFVConfig, SVDAdapter):
    """``sfv``: the SVD pipeline with an SF-V UNet, one forward pass, no CFG.

    Sampler (documented choice; SF-V's code is not used): scheduler sigmas ``[sigma, 0]``;
    the initial latent is ``ε · init_noise_sigma`` (``√(σ² + 1)`` under SVD's "leading" timestep
    spacing, 1e-6 relative to σ at σ = 700), one UNet call at ``c_noise = ¼·ln σ``, and the Euler
    step to σ = 0 equals the v-prediction's denoised estimate ``c_skip·x + c_out·F``.
    """

    def _schedule_kwargs(self) -> dict[str, Any]:
        return {"sigmas": [float(self.options.sigma), 0.0]}  # type: ignore[attr-defined]
