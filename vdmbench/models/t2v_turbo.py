"""The registered ``t2v-turbo-v2`` adapter: T2V-Turbo-v2 (:mod:`vdmbench.models.t2v_turbo_pipeline`:
the pipeline, its weights and sampler) behind the adapter protocol; what it hands to acceleration
is :class:`~vdmbench.models.t2v_turbo_denoiser.T2VTurboDenoiser`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from vdmbench.errors import ConfigError, InvalidRequestError, WeightsNotFoundError
from vdmbench.generation import GenerationRequest, ModelCard, torch_dtype
from vdmbench.models.lvdm_convert import read_state_dict
from vdmbench.models.t2v_turbo_config import T2VTurboConfig, T2VTurboOptions
from vdmbench.models.t2v_turbo_denoiser import T2VTurboDenoiser
from vdmbench.models.t2v_turbo_pipeline import (
    ALLOWED_STEPS,
    OpenCLIPText,
    T2VTurboPipeline,
    TurboSampler,
    import_open_clip,
    load_turbo_unet,
    load_vae,
)
from vdmbench.paths import expand_path, require_dir, require_file, sha256_file, sha256_tree
from vdmbench.video import Video


class T2VTurboAdapter(T2VTurboConfig):
    """Registered ``t2v-turbo-v2`` adapter (see the module docstring)."""

    def __init__(self, name: str, pipe: T2VTurboPipeline, options: T2VTurboOptions, dtype: str,
                 files: list[Path]) -> None:
        self.name, self.pipe, self.options, self.dtype = name, pipe, options, dtype
        self._files = files
        self._sha: str | None = None

    @classmethod
    def load(cls, name: str, weights: str | None, options: Any, device: str,
             steps: int | None = None, dtype: str = "float32") -> T2VTurboAdapter:
        opts = options if isinstance(options, cls.Options) else cls.Options.model_validate(
            options or {})
        steps = steps or 4
        tdtype = torch_dtype(dtype, f"model '{name}'")
        if steps not in ALLOWED_STEPS:
            raise ConfigError(f"t2v-turbo-v2 samples in {', '.join(map(str, ALLOWED_STEPS))} "
                              f"steps, not {steps}", field="steps")
        if weights is None:
            raise WeightsNotFoundError("t2v-turbo-v2: set 'weights' to a directory holding "
                                       f"{opts.base_checkpoint} and {opts.unet}")
        root = require_dir(weights, "t2v-turbo-v2 weights",
                           "set T2V_TURBO_V2_DIR to the folder with VideoCrafter2's model.ckpt "
                           "and T2V-Turbo-v2's unet_mg.pt")

        def rel(p: str) -> Path:
            q = expand_path(p, "t2v-turbo-v2 option")
            return q if q.is_absolute() else root / q

        base_path = require_file(rel(opts.base_checkpoint), "t2v-turbo-v2 base checkpoint",
                                 "VideoCrafter2's model.ckpt (VAE and text encoder)")
        unet_path = rel(opts.unet)
        if not unet_path.exists():
            raise WeightsNotFoundError(f"t2v-turbo-v2 UNet: {unet_path} not found (T2V-Turbo-v2's "
                                       f"unet_mg.pt, or a student's save_pretrained folder)")
        te_path = require_file(rel(opts.text_encoder), "t2v-turbo-v2 text encoder") \
            if opts.text_encoder else None
        import_open_clip()  # fail early, before reading gigabytes
        base = read_state_dict(base_path)
        vae = load_vae(base, str(base_path)).to(device, tdtype)
        if te_path is None:
            prefix = "cond_stage_model.model."
            te_state = {k[len(prefix):]: v for k, v in base.items() if k.startswith(prefix)}
            te_source = f"{base_path} (cond_stage_model.model.*)"
        else:
            te_state, te_source = read_state_dict(te_path), str(te_path)
        text = OpenCLIPText(te_state, te_source, device, tdtype)
        del base
        unet = load_turbo_unet(unet_path, tdtype).to(device)
        sampler = TurboSampler(steps=steps, lcm_origin_steps=opts.lcm_origin_steps,
                               guidance_scale=opts.guidance_scale, motion_gs=opts.motion_gs,
                               motion_percentage=opts.motion_percentage, fps=opts.fps)
        pipe = T2VTurboPipeline(unet, vae, text, sampler, device, tdtype,
                                motion_guidance=unet.motion_cond_proj is not None)
        files = [base_path, unet_path] + ([te_path] if te_path else [])
        return cls(name, pipe, opts, dtype, files)

    @classmethod
    def teacher(cls, weights: str | None, device: str = "cpu", *, frames: int | None = None,
                options: Any = None, dtype: str = "float32") -> T2VTurboDenoiser:
        """The teacher of ``vdmbench analyze`` / ``compress --model t2v-turbo-v2 --weights DIR``:
        the pipeline loaded as for generation (its VAE and OpenCLIP text encoder encode the
        training clips into the latent cache; its UNet is distilled), in T2V-Turbo's conventions;
        clips of ``frames`` (default: the ``frames`` option) × ``height`` × ``width``."""
        adapter = cls.load("t2v-turbo-v2", weights, options, device, dtype=dtype)
        o = adapter.options
        return T2VTurboDenoiser(adapter.pipe, str(adapter.pipe.device), frames=frames or o.frames,
                                height=o.height, width=o.width, weights=weights)

    def denoiser(self) -> T2VTurboDenoiser:
        """The loaded pipeline's UNet with T2V-Turbo's conventions
        (:class:`~vdmbench.models.t2v_turbo_denoiser.T2VTurboDenoiser`), for transforms."""
        o = self.options
        return T2VTurboDenoiser(self.pipe, str(self.pipe.device), frames=o.frames,
                                height=o.height, width=o.width)

    def _check(self, r: GenerationRequest) -> None:
        o = self.options
        if r.prompt is None:
            raise InvalidRequestError(f"request {r.id}: t2v-turbo-v2 needs a text prompt")
        if (r.frames, r.height, r.width) != (o.frames, o.height, o.width):
            raise InvalidRequestError(f"request {r.id}: t2v-turbo-v2 generates {o.frames}×"
                                    f"{o.height}×{o.width}, asked for {r.frames}×{r.height}×"
                                    f"{r.width}")

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Video]:
        for r in requests:
            self._check(r)
        if not requests:
            return []
        o = self.options
        frames = self.pipe.generate([r.prompt or "" for r in requests], [r.seed for r in requests],
                                    o.frames, o.height, o.width)
        return [Video(frames[i], r.fps) for i, r in enumerate(requests)]

    def describe(self) -> ModelCard:
        if self._sha is None:
            import hashlib

            h = hashlib.sha256()
            for f in self._files:
                h.update((sha256_tree(f) if f.is_dir() else sha256_file(f)).encode())
            self._sha = h.hexdigest()
        p = self.pipe
        params = {"unet": sum(x.numel() for x in p.unet.parameters()),
                  "vae": sum(x.numel() for x in p.vae.parameters())}
        if isinstance(p.encode_text, OpenCLIPText):
            params["text_encoder"] = sum(x.numel() for x in p.encode_text.model.parameters())
        o = self.options
        return ModelCard(name=self.name, adapter="t2v-turbo-v2", params=params, dtype=self.dtype,
                         steps=p.sampler.steps, frames=o.frames, height=o.height, width=o.width,
                         weights_sha256=self._sha, cfg=False,
                         sampler={**asdict(p.sampler), "timesteps": p.sampler.timesteps(),
                                  "guidance": "distilled (w embedding), 1 UNet call per step",
                                  "motion_guidance": p.motion_guidance})

    def components(self, request: GenerationRequest) -> dict[str, Callable[[], object]]:
        self._check(request)
        p, o = self.pipe, self.options
        ctx = p.encode_text([request.prompt or ""]).to(p.device, p.dtype)
        g = torch.Generator().manual_seed(request.seed)
        lat = torch.randn((1, p.unet.config.in_channels, o.frames, o.height // 8, o.width // 8),
                          generator=g).to(p.device, p.dtype)
        t = p.sampler.timesteps()[0]
        return {"text_encode": lambda: p.encode_text([request.prompt or ""]),
                "denoise": lambda: p.unet_step(lat, t, ctx),
                "decode": lambda: p.decode(lat)}
