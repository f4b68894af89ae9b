"""The ``synth-i2v`` model adapter: the synthetic world's tiny I2V teacher or a student of it.

The model itself (architecture, EDM sampler, loading) is :mod:`vdmbench.models.synth_i2v_pipeline`;
what the adapter hands to training and acceleration is
:class:`~vdmbench.models.synth_i2v_denoiser.SynthI2VDenoiser`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from typing import Any, ClassVar

import torch
from diffusers import UNetSpatioTemporalConditionModel
from pydantic import ValidationError

from vdmbench.errors import ConfigError, VdmbenchError
from vdmbench.generation import GenerationRequest, ModelCard, torch_dtype
from vdmbench.models.student_dir import ResolvedModel
from vdmbench.models.synth_i2v_config import SynthI2VConfig, SynthI2VOptions
from vdmbench.models.synth_i2v_denoiser import SynthI2VDenoiser
from vdmbench.models.synth_i2v_pipeline import (
    ADAPTER_NAME,
    TEACHER_DIR,
    WEIGHTS_FILE,
    FirstFrameEncoder,
    SamplerConfig,
    SynthI2VPipeline,
    count_params,
    load_pipeline,
    load_teacher_unet,
    resolve_model_dir,
    save_model_dir,
    teacher_unet_config,
)
from vdmbench.paths import expand_path
from vdmbench.video import Video, video_to_uint8


class SynthI2VAdapter(SynthI2VConfig):
    """The ``synth-i2v`` model adapter (a :class:`~vdmbench.generation.VideoGenerator`; options
    and class facts in :class:`~vdmbench.models.synth_i2v_config.SynthI2VConfig`)."""

    #: what differs in the latent world's adapter (a subclass): its registered name, how a model
    #: directory loads, and which options override ``sampler.json``
    adapter_name: ClassVar[str] = ADAPTER_NAME
    load_pipeline: ClassVar[Callable[..., Any]] = staticmethod(load_pipeline)
    sampler_overrides: ClassVar[tuple[str, ...]] = ("sigma_min", "sigma_max", "rho")

    def __init__(self, name: str, pipeline: SynthI2VPipeline, resolved: ResolvedModel,
                 options: SynthI2VOptions, device: str, dtype: str, steps: int,
                 weights: str | None = None) -> None:
        self.name, self.pipeline, self.resolved = name, pipeline, resolved
        self.options, self.device, self.dtype_name = options, device, dtype
        self.steps, self.weights = steps, weights

    @classmethod
    def load(cls, name: str, weights: str | None, options: Any, device: str,
             steps: int | None = None, dtype: str = "float32") -> SynthI2VAdapter:
        """Load a model directory (``weights`` None = the shipped teacher; see
        :func:`resolve_model_dir`). ``steps`` None = ``sampler.json``'s; ``dtype`` one of
        float32/float16/bfloat16."""
        if isinstance(options, cls.Options):
            opts = options
        else:
            try:
                opts = cls.Options.model_validate(options or {})
            except ValidationError as e:
                raise ConfigError(f"model {name!r}: invalid options: {e}", field="options") from e
        dt = torch_dtype(dtype, f"model {name!r}")
        if steps is not None and steps < 1:
            raise ConfigError(f"model {name!r}: steps must be ≥ 1, got {steps}", field="steps")
        pipe, res = cls.load_pipeline(weights, device, dt)
        overrides = {k: v for k in cls.sampler_overrides if (v := getattr(opts, k)) is not None}
        pipe.sampler = replace(pipe.sampler, **overrides)
        s = pipe.sampler
        if not 0 < s.sigma_min < s.sigma_max:
            raise ConfigError(f"model {name!r}: need sigma_min < sigma_max, got "
                              f"{s.sigma_min}, {s.sigma_max}", field="options")
        w = None if weights is None else str(
            expand_path(weights, f"{cls.adapter_name} weights").resolve())
        return cls(name, pipe, res, opts, device, dtype, steps or s.steps, w)

    @classmethod
    def teacher(cls, weights: str | None, device: str = "cpu", *, frames: int | None = None,
                options: Any = None, dtype: str = "float32") -> SynthI2VDenoiser:
        """The denoiser of a model directory (None = the shipped teacher) for analysis and
        distillation; ``frames`` must be None or the model's own (its clips are rendered at the
        shape of ``sampler.json``)."""
        adapter = cls.load(cls.adapter_name, weights, options, device, dtype=dtype)
        s = adapter.pipeline.sampler
        if frames is not None and frames != s.frames:
            raise ConfigError(f"{cls.adapter_name} trains on {s.frames}-frame clips (its "
                              f"sampler.json), "
                              f"not {frames}", field="data.frames")
        return adapter.denoiser()

    def denoiser(self) -> SynthI2VDenoiser:
        """What training and acceleration need (see :class:`SynthI2VDenoiser`)."""
        return SynthI2VDenoiser(self.pipeline, str(self.device), weights=self.weights)

    # -- protocol ----------------------------------------------------------------------------

    def _check(self, req: GenerationRequest) -> int:
        """Validate ``req`` against the model; return its motion bucket id."""
        s = self.pipeline.sampler
        if req.image is None:
            raise VdmbenchError(f"request {req.id}: synth-i2v needs a conditioning image")
        want = (s.frames, s.height, s.width)
        got = (req.frames, req.height, req.width)
        if got != want or tuple(req.image.shape[:2]) != (s.height, s.width):
            raise VdmbenchError(
                f"request {req.id}: synth-i2v supports {s.frames} frames of {s.height}×{s.width} "
                f"only, got {req.frames} frames of {req.height}×{req.width} "
                f"(image {tuple(req.image.shape)})")
        if not self.options.motion_from_request or "motion_class" not in req.extra:
            return s.null_motion_bucket
        m = req.extra["motion_class"]
        if isinstance(m, bool) or not isinstance(m, int) or not 0 <= m < s.num_motion_classes:
            raise VdmbenchError(f"request {req.id}: extra['motion_class'] must be an int in "
                                f"[0, {s.num_motion_classes}), got {m!r}")
        return m

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Video]:
        """One uint8 ``(T, H, W, 3)`` video per request, in order, sampled in batches of
        ``options.batch_size`` (padded, see :class:`SynthI2VOptions`); the noise of each request
        comes from ``request.seed`` alone."""
        buckets = [self._check(r) for r in requests]
        out: list[Video] = []
        bs = self.options.batch_size
        for k in range(0, len(requests), bs):
            chunk = list(requests[k:k + bs])
            motion = buckets[k:k + bs]
            pad = bs - len(chunk) if self.options.pad_batches else 0
            images = torch.stack([r.image for r in chunk] + [chunk[-1].image] * pad)
            gens = [torch.Generator().manual_seed(int(r.seed)) for r in chunk + [chunk[-1]] * pad]
            x = self.pipeline.sample(images, motion + [motion[-1]] * pad, steps=self.steps,
                                     generators=gens)
            frames = video_to_uint8(x[:len(chunk)])
            out += [Video(frames[i], float(r.fps)) for i, r in enumerate(chunk)]
        return out

    def weights_sha256(self) -> str:
        return self.resolved.weights_sha256()

    def describe(self) -> ModelCard:
        s = self.pipeline.sampler
        sampler = {"name": "euler", "schedule": "karras", **asdict(s), "steps": self.steps}
        return ModelCard(
            name=self.name, adapter=ADAPTER_NAME,
            params={"unet": count_params(self.pipeline.unet),
                    "image_encoder": count_params(self.pipeline.image_encoder)},
            dtype=self.dtype_name, steps=self.steps, frames=s.frames, height=s.height,
            width=s.width, weights_sha256=self.weights_sha256(), cfg=False, sampler=sampler)

    def components(self, request: GenerationRequest) -> dict[str, Callable[[], object]]:
        """``encode`` (first-frame encoder), ``denoise`` (one preconditioned UNet step at σ_max)
        and ``decode`` (final sample → uint8 video), each on inputs prepared once; ``video``: the
        whole video at batch 1 without padding (what the runner times as per-video latency)."""
        bucket = self._check(request)
        pipe, s = self.pipeline, self.pipeline.sampler
        cond = pipe.prepare_images(request.image.unsqueeze(0))
        with torch.no_grad():
            context = pipe.encode(cond, [bucket])
        ids = pipe.added_time_ids([bucket])
        gen = torch.Generator().manual_seed(int(request.seed))
        sig = pipe.sigmas(self.steps).to(pipe.device)
        x = (pipe.initial_noise(1, s.frames, s.height, s.width, [gen]).to(pipe.device)
             * sig[0]).to(pipe.dtype)
        final = x / sig[0]

        @torch.no_grad()
        def encode() -> torch.Tensor:
            return pipe.encode(cond, [bucket])

        @torch.no_grad()
        def denoise() -> torch.Tensor:
            return pipe.denoise(x, sig[0], cond, context, ids)

        def decode() -> torch.Tensor:
            return video_to_uint8(final)

        def video() -> torch.Tensor:  # the whole video at batch 1, unpadded: per-video latency
            g = torch.Generator().manual_seed(int(request.seed))
            with torch.no_grad():
                return video_to_uint8(pipe.sample(request.image.unsqueeze(0), [bucket],
                                                  steps=self.steps, generators=[g]))

        return {"encode": encode, "denoise": denoise, "decode": decode, "video": video}

def build_random_model(seed: int = 0, sampler: SamplerConfig | None = None,
                       channels: Sequence[int] = (32, 32, 32, 32),
                       heads: Sequence[int] = (2, 2, 2, 2), cross_attention_dim: int = 32,
                       encoder_channels: tuple[int, ...] = (32, 64, 64),
                       motion_context: bool = True) -> SynthI2VPipeline:
    """A randomly initialised pipeline (seeded) with the teacher's architecture by default;
    ``motion_context``: the context token also embeds the motion bucket."""
    sampler = sampler or SamplerConfig()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        unet = UNetSpatioTemporalConditionModel.from_config(
            teacher_unet_config(channels, heads, cross_attention_dim, sampler.frames))
        enc = FirstFrameEncoder(3, tuple(encoder_channels), cross_attention_dim,
                                sampler.null_motion_bucket + 1 if motion_context else 0)
    return SynthI2VPipeline(unet.eval(), enc.eval(), sampler)


def random_like(pipeline: SynthI2VPipeline, seed: int = 0) -> SynthI2VPipeline:
    """A randomly initialised (seeded) pipeline with the same configs as ``pipeline``."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        unet = UNetSpatioTemporalConditionModel.from_config(pipeline.unet.config)
        enc = FirstFrameEncoder.from_config(pipeline.image_encoder.config)
    return SynthI2VPipeline(unet.eval(), enc.eval(), pipeline.sampler)


__all__ = [
    "ADAPTER_NAME", "TEACHER_DIR", "WEIGHTS_FILE", "FirstFrameEncoder", "SamplerConfig",
    "SynthI2VAdapter", "SynthI2VOptions", "SynthI2VPipeline", "build_random_model", "load_pipeline",
    "load_teacher_unet", "random_like", "resolve_model_dir", "save_model_dir",
    "teacher_unet_config", "video_to_uint8",
]
