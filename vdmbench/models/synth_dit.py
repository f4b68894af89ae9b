"""The registered ``synth-dit-t2v`` adapter: the tiny random video DiT of
:mod:`vdmbench.models.synth_dit_pipeline` behind the adapter protocol. Its ``transformer()`` is
what diffusers' cache transforms hook (``baselines/dit_cache.py``); ``denoiser()`` hands out
:class:`~vdmbench.models.synth_dit_denoiser.SynthDiTDenoiser`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import Any

import torch

from vdmbench.errors import ConfigError
from vdmbench.generation import GenerationRequest, ModelCard
from vdmbench.models.synth_dit_config import SynthDiTT2VConfig, SynthDiTT2VOptions
from vdmbench.models.synth_dit_denoiser import SynthDiTDenoiser
from vdmbench.models.synth_dit_pipeline import ADAPTER_NAME, SynthDiTPipeline, load_pipeline
from vdmbench.models.synth_t2v import PromptedSynthGeneration
from vdmbench.video import from_unit_float


class SynthDiTT2VAdapter(PromptedSynthGeneration, SynthDiTT2VConfig):
    """Registered ``synth-dit-t2v``. ``weights``: a model directory (None = the shipped random
    model, ``vdmbench/assets/synth_dit_t2v``) or a student directory (``vdmbench compress``).
    Requests must ask for the model's shape (``sampler.json``: 8×16×16) and carry a prompt."""

    adapter_label = "synth-dit-t2v"

    def __init__(self, name: str, pipe: SynthDiTPipeline, options: SynthDiTT2VOptions, steps: int,
                 dtype: str, sha256: str, weights: str | None = None) -> None:
        self.name, self.pipe, self.options = name, pipe, options
        self.steps, self.dtype, self.weights, self._sha = steps, dtype, weights, sha256

    @classmethod
    def load(cls, name: str, weights: str | None, options: Any, device: str,
             steps: int | None = None, dtype: str = "float32") -> SynthDiTT2VAdapter:
        """A model directory (None = the shipped one) or a student directory of it
        (``compression.json``: a depth-pruned transformer on the teacher's other parts); float32
        only."""
        if dtype != "float32":
            raise ConfigError(f"synth-dit-t2v runs in float32 only, not {dtype}", field="dtype")
        pipe, res, sha = load_pipeline(weights, device)
        opts = options if isinstance(options, cls.Options) else cls.Options.model_validate(
            options or {})
        return cls(name, pipe, opts, steps or pipe.sampler.steps, dtype, sha,
                   None if weights is None else str(res.chain[0]))

    @classmethod
    def teacher(cls, weights: str | None, device: str = "cpu", *, frames: int | None = None,
                options: Any = None, dtype: str = "float32") -> SynthDiTDenoiser:
        """The denoiser of a model directory; ``frames`` must be None or the model's own."""
        adapter = cls.load(ADAPTER_NAME, weights, options, device, dtype=dtype)
        s = adapter.pipe.sampler
        if frames is not None and frames != s.frames:
            raise ConfigError(f"synth-dit-t2v makes {s.frames}-frame clips (its sampler.json), "
                              f"not {frames}", field="data.frames")
        return adapter.denoiser()

    def transformer(self) -> Any:
        """The ``WanTransformer3DModel`` (a diffusers ``CacheMixin``)."""
        return self.pipe.transformer

    def denoiser(self) -> SynthDiTDenoiser:
        return SynthDiTDenoiser(self.pipe, str(self.pipe.device), weights=self.weights,
                                guidance_scale=self.options.guidance_scale)

    def describe(self) -> ModelCard:
        s = self.pipe.sampler
        params = {"transformer": sum(p.numel() for p in self.pipe.transformer.parameters()),
                  "text_encoder": sum(p.numel() for p in self.pipe.text_encoder.parameters())}
        return ModelCard(name=self.name, adapter=ADAPTER_NAME, params=params, dtype=self.dtype,
                         steps=self.steps, frames=s.frames, height=s.height, width=s.width,
                         weights_sha256=self._sha, cfg=self._scale() != 1.0,
                         sampler={**asdict(s), "guidance_scale": self._scale(),
                                  "solver": "flow-match-euler", "steps": self.steps})

    def components(self, request: GenerationRequest) -> dict[str, Callable[[], object]]:
        self._check(request)
        pipe = self.pipe
        cond = pipe.encode([request.prompt or ""])
        uncond = pipe.encode([""]) if self._scale() != 1.0 else None
        x = pipe.noise([request.seed])
        t = torch.tensor(1000.0)
        return {
            "text_encode": lambda: pipe.encode([request.prompt or ""]),
            "denoise": lambda: pipe.velocity(x, t, cond, uncond, self._scale()),
            "decode": lambda: from_unit_float(x.clamp(-1, 1).permute(0, 2, 3, 4, 1)),
        }
