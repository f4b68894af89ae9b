"""The registered ``synth-t2v`` adapter: the pipeline of :mod:`vdmbench.models.synth_t2v_pipeline`
(the model, its directory format, its sampler) behind the adapter protocol; what it hands to
training and acceleration is :class:`~vdmbench.models.synth_t2v_denoiser.SynthT2VDenoiser`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any

import torch

from vdmbench.errors import ConfigError, InvalidRequestError
from vdmbench.generation import GenerationRequest, ModelCard
from vdmbench.models.student_dir import ResolvedModel
from vdmbench.models.synth_t2v_config import SynthT2VConfig, SynthT2VOptions
from vdmbench.models.synth_t2v_denoiser import SynthT2VDenoiser
from vdmbench.models.synth_t2v_pipeline import (
    ADAPTER_NAME,
    SynthT2VPipeline,
    load_pipeline,
)
from vdmbench.paths import expand_path
from vdmbench.video import Video, from_unit_float


class PromptedSynthGeneration:
    """Request checks and batched generation shared by the synthetic text-to-video adapters
    (``synth-t2v``, ``synth-dit-t2v``): each request carries a prompt and asks for the model's
    own shape (``pipe.sampler``: frames, height, width); one trajectory per call, every request
    from its own seed. Needs ``adapter_label``, ``pipe``, ``options.guidance_scale``, ``steps``."""

    adapter_label: str = ""
    pipe: Any
    options: Any
    steps: int

    def _check(self, r: GenerationRequest) -> None:
        s = self.pipe.sampler
        if r.prompt is None:
            raise InvalidRequestError(f"request {r.id}: {self.adapter_label} needs a text prompt")
        if (r.frames, r.height, r.width) != (s.frames, s.height, s.width):
            raise InvalidRequestError(
                f"request {r.id}: {self.adapter_label} generates {s.frames}×{s.height}×{s.width} "
                f"videos, asked for {r.frames}×{r.height}×{r.width}")

    def _scale(self) -> float:
        g = self.options.guidance_scale
        return self.pipe.sampler.guidance_scale if g is None else g

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Video]:
        for r in requests:
            self._check(r)
        if not requests:
            return []
        frames = self.pipe.generate([r.prompt or "" for r in requests],
                                    [r.seed for r in requests], self.steps, self._scale())
        return [Video(frames[i], r.fps) for i, r in enumerate(requests)]


class SynthT2VAdapter(PromptedSynthGeneration, SynthT2VConfig):
    """Registered ``synth-t2v`` adapter. ``weights``: a model directory (default: the shipped
    teacher) or a student directory (``vdmbench compress --model synth-t2v``). Requests must
    ask for the trained shape (``sampler.json``) and carry a prompt."""

    adapter_label = "synth-t2v"

    def __init__(self, name: str, pipe: SynthT2VPipeline, options: SynthT2VOptions, steps: int,
                 dtype: str, resolved: ResolvedModel, weights: str | None = None) -> None:
        self.name, self.pipe, self.options = name, pipe, options
        self.steps, self.dtype, self.resolved = steps, dtype, resolved
        self.weights_dir = resolved.chain[0]
        self.weights = weights
        self._sha = resolved.weights_sha256()

    @classmethod
    def load(cls, name: str, weights: str | None, options: Any, device: str,
             steps: int | None = None, dtype: str = "float32") -> SynthT2VAdapter:
        """A model or student directory (None = the shipped teacher); float32 only."""
        if dtype != "float32":
            raise ConfigError(f"synth-t2v runs in float32 only, not {dtype}", field="dtype")
        pipe, res = load_pipeline(weights, device)
        opts = options if isinstance(options, cls.Options) else cls.Options.model_validate(
            options or {})
        w = None if weights is None else str(expand_path(weights, "synth-t2v weights").resolve())
        return cls(name, pipe, opts, steps or pipe.sampler.steps, dtype, res, w)

    @classmethod
    def teacher(cls, weights: str | None, device: str = "cpu", *, frames: int | None = None,
                options: Any = None, dtype: str = "float32") -> SynthT2VDenoiser:
        """The denoiser of a model directory (None = the shipped teacher) for analysis and
        distillation; ``frames`` must be None or the model's own."""
        adapter = cls.load(ADAPTER_NAME, weights, options, device, dtype=dtype)
        s = adapter.pipe.sampler
        if frames is not None and frames != s.frames:
            raise ConfigError(f"synth-t2v trains on {s.frames}-frame clips (its sampler.json), "
                              f"not {frames}", field="data.frames")
        return adapter.denoiser()

    def denoiser(self) -> SynthT2VDenoiser:
        """What training and acceleration need (see :class:`SynthT2VDenoiser`); its sampler uses
        this adapter's guidance scale."""
        return SynthT2VDenoiser(self.pipe, str(self.pipe.device), weights=self.weights,
                                guidance_scale=self.options.guidance_scale)

    def describe(self) -> ModelCard:
        s = self.pipe.sampler
        params = {"unet": sum(p.numel() for p in self.pipe.unet.parameters()),
                  "text_encoder": sum(p.numel() for p in self.pipe.text_encoder.parameters())}
        return ModelCard(name=self.name, adapter="synth-t2v", params=params, dtype=self.dtype,
                         steps=self.steps, frames=s.frames, height=s.height, width=s.width,
                         weights_sha256=self._sha, cfg=self._scale() != 1.0,
                         sampler={**asdict(s), "guidance_scale": self._scale(),
                                  "solver": "heun", "steps": self.steps})

    def components(self, request: GenerationRequest) -> dict[str, Callable[[], object]]:
        self._check(request)
        pipe, s = self.pipe, self.pipe.sampler
        cond = pipe.encode([request.prompt or ""])
        uncond = pipe.encode([""]) if self._scale() != 1.0 else None
        x = pipe.noise([request.seed]) * s.sigma_max
        sigma = torch.full((1,), s.sigma_max, device=pipe.device)
        return {
            "text_encode": lambda: pipe.encode([request.prompt or ""]),
            # one Heun step: 2 guided denoiser calls (the sampler's last step makes only 1)
            "denoise": lambda: (pipe.guided(x, sigma, cond, uncond, self._scale()),
                                pipe.guided(x, sigma, cond, uncond, self._scale())),
            "decode": lambda: from_unit_float(x.permute(0, 2, 3, 4, 1)),
        }

