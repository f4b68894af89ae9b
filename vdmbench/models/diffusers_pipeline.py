"""``diffusers``: any local diffusers video pipeline folder as a model.

``weights`` is a folder written by ``save_pretrained`` (``model_index.json`` + component folders;
``${ENV}`` allowed). It is loaded offline with the class ``model_index.json`` names
(``from_pretrained(folder, local_files_only=True, use_safetensors=True, variant=…,
torch_dtype=…)``); nothing is downloaded and only safetensors weights are read. Image-to-video or
text-to-video follows from the class (:data:`I2V_PIPELINES`, :data:`T2V_PIPELINES`; any other
class: image-to-video if its ``__call__`` takes ``image``) and must match the suite's ``task``.

Each request becomes one call: ``prompt`` (where the pipeline takes one), ``image`` (a PIL image of
the conditioning frame, I2V), ``num_frames``, ``height``, ``width``, the fps argument the pipeline
has (``fps``, ``frame_rate`` or ``target_fps``), ``num_inference_steps`` = the model's ``steps``,
``generator = torch.Generator("cpu").manual_seed(seed)``, ``output_type="np"``; then the suite's
``call_kwargs`` (checked against the pipeline's ``__call__`` signature before a run). The video is
``round(255 · frames)``, cut to the request's frames and resized to its size where the pipeline
made more frames or another size (options ``num_frames``/``height``/``width`` set what it makes).

Per-component timing (:meth:`DiffusersAdapter.components`) runs the pipeline once with
recording wrappers on its modules and replays what they were called with: ``text_encode`` (every
``text_encoder*`` call), ``image_encode`` (``image_encoder``), ``vae_encode``/``decode``
(``vae.encode``/``vae.decode``) and ``denoise`` (the ``unet``/``transformer`` calls of one step:
all of them over ``steps``, CFG included). ``denoiser()`` hands out the denoiser where its
convention is known (:data:`DENOISER_CONVENTIONS`: SVD); elsewhere transforms that need it refuse.
``transformer()`` hands out a DiT pipeline's ``transformer`` for the transforms that need only
that module (diffusers' cache methods, ``pab``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from typing import Any

import torch

from vdmbench.errors import (
    ConfigError,
    InvalidRequestError,
    UnsupportedError,
    WeightsNotFoundError,
)
from vdmbench.generation import GenerationRequest, ModelCard, torch_dtype
from vdmbench.models.diffusers_pipeline_config import (
    DENOISER_CONVENTIONS,
    DiffusersConfig,
    DiffusersOptions,
    call_parameters,
    check_call_kwargs,
    pipeline_class,
    pipeline_class_name,
    pipeline_folder,
    task_of,
)
from vdmbench.paths import sha256_tree
from vdmbench.video import Video, from_unit_float, resize_frames, to_unit_float

_FPS_ARGS = {"fps": int, "frame_rate": float, "target_fps": int}
_DENOISERS = ("unet", "transformer", "transformer_2")


# ----------------------------------------------------------------------------- the generator


def _clone(x: Any) -> Any:
    if isinstance(x, torch.Tensor):
        return x.detach().clone()
    if isinstance(x, (list, tuple)):
        return type(x)(_clone(v) for v in x)
    if isinstance(x, dict):
        return {k: _clone(v) for k, v in x.items()}
    return x


def pipeline_hash(pipe: Any) -> str:
    """sha256 of a loaded pipeline: class, every module's state (names, dtypes, bytes) and the
    scheduler's config (for a pipeline object that was not loaded from a folder)."""
    from vdmbench.diffusion.denoiser import state_hash

    h = hashlib.sha256(type(pipe).__name__.encode())
    for name, comp in sorted(pipe.components.items()):
        if isinstance(comp, torch.nn.Module):
            h.update(f"{name}={state_hash(comp)}".encode())
        elif hasattr(comp, "config"):
            h.update(f"{name}={json.dumps(dict(comp.config), sort_keys=True, default=str)}"
                     .encode())
    return h.hexdigest()


class DiffusersAdapter(DiffusersConfig):
    """``diffusers``: a loaded diffusers video pipeline as a
    :class:`~vdmbench.generation.VideoGenerator` (see the module docstring). :meth:`load` builds it
    from a folder; ``vdmbench.evaluate(pipeline=…)`` from a pipeline object."""


    def __init__(self, name: str, pipe: Any, options: DiffusersOptions, device: str,
                 steps: int | None, dtype: str, weights_sha256: str,
                 adapter: str = "diffusers", origin: str | None = None) -> None:
        check_call_kwargs(type(pipe), options.call_kwargs)
        self.name, self.pipe, self.options, self.adapter = name, pipe, options, adapter
        self.device = torch.device(device)
        self.dtype, self.weights_sha256, self.origin = dtype, weights_sha256, origin
        self.params, _ = call_parameters(type(pipe))
        self.task = task_of(type(pipe))
        default = self.params.get("num_inference_steps")
        if steps is None and (default is None or not isinstance(default.default, int)):
            raise ConfigError(f"model '{name}': {type(pipe).__name__} has no default "
                              f"num_inference_steps; set steps")
        self.steps = int(steps if steps is not None else default.default)  # type: ignore[union-attr]
        if hasattr(pipe, "set_progress_bar_config"):
            pipe.set_progress_bar_config(disable=True)
        self._card: ModelCard | None = None

    # -- construction -------------------------------------------------------------------------


    @classmethod
    def load(cls, name: str, weights: str | None, options: Any, device: str,
             steps: int | None = None, dtype: str = "float32") -> DiffusersAdapter:
        if not isinstance(options, DiffusersOptions):
            options = DiffusersOptions.model_validate(options or {})
        dt = torch_dtype(dtype, f"model '{name}'")
        folder = pipeline_folder(weights, name)
        pipe_cls = pipeline_class(pipeline_class_name(folder))
        try:
            pipe = pipe_cls.from_pretrained(folder, local_files_only=True, use_safetensors=True,
                                            variant=options.variant, torch_dtype=dt)
        except (OSError, ValueError) as e:
            raise WeightsNotFoundError(f"model '{name}': cannot load {pipe_cls.__name__} from "
                                       f"{folder} (offline, safetensors only, variant "
                                       f"{options.variant}): {e}") from None
        pipe.to(device)
        sha = sha256_tree(folder, ("*.json", "*.txt", "*.model", "*.safetensors"))
        return cls(name, pipe, options, device, steps, dtype, sha,
                                  origin=str(folder))

    # -- the call ------------------------------------------------------------------------------

    def call_kwargs(self, r: GenerationRequest) -> dict[str, Any]:
        """The keyword arguments of the pipeline call for request ``r``."""
        o, p = self.options, self.params
        kw: dict[str, Any] = {}
        if "prompt" in p and r.prompt is not None:
            kw["prompt"] = r.prompt
        if self.task == "i2v":
            if r.image is None:
                raise InvalidRequestError(f"request {r.id}: {type(self.pipe).__name__} is "
                                          f"image-to-video and needs a conditioning image")
            import PIL.Image

            kw["image"] = PIL.Image.fromarray(r.image.detach().cpu().numpy())
        elif r.prompt is None:
            raise InvalidRequestError(f"request {r.id}: {type(self.pipe).__name__} is "
                                      f"text-to-video and needs a prompt")
        for key in ("num_frames", "video_length"):
            if key in p:
                kw[key] = o.num_frames or r.frames
        if "height" in p:
            kw["height"] = o.height or r.height
        if "width" in p:
            kw["width"] = o.width or r.width
        for key, kind in _FPS_ARGS.items():
            if key in p:
                kw[key] = kind(round(r.fps)) if kind is int else float(r.fps)
        if "num_inference_steps" in p:
            kw["num_inference_steps"] = self.steps
        kw["generator"] = torch.Generator("cpu").manual_seed(int(r.seed))
        kw["output_type"] = "np"
        kw.update(o.call_kwargs)
        return kw

    @torch.no_grad()
    def _video(self, r: GenerationRequest) -> Video:
        import numpy as np

        out = self.pipe(**self.call_kwargs(r))
        frames = out.frames if hasattr(out, "frames") else out[0]
        x = torch.from_numpy(np.asarray(frames[0], dtype=np.float32))  # (F, H, W, 3) in [0, 1]
        if x.ndim != 4 or x.shape[-1] != 3:
            raise UnsupportedError(f"model '{self.name}': {type(self.pipe).__name__} returned "
                                   f"frames of shape {tuple(x.shape)}, not (F, H, W, 3)")
        if x.shape[0] < r.frames:
            raise InvalidRequestError(
                f"model '{self.name}': {type(self.pipe).__name__} made {x.shape[0]} frames for "
                f"request {r.id}, which asks for {r.frames}; set options.num_frames to a count "
                f"the pipeline accepts")
        video = (x[:r.frames] * 255.0).round().clamp(0, 255).to(torch.uint8)
        if tuple(video.shape[1:3]) != (r.height, r.width):
            y = to_unit_float(video).permute(0, 3, 1, 2)
            y = resize_frames(y, (r.height, r.width), self.options.output_resize)
            video = from_unit_float(y.permute(0, 2, 3, 1))
        return Video(video.contiguous(), float(r.fps))

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Video]:
        """One call per request, each with its own CPU generator: same request + seed ⇒ same
        video, whatever else is in the batch."""
        return [self._video(r) for r in requests]

    # -- description ---------------------------------------------------------------------------

    def _modules(self) -> dict[str, torch.nn.Module]:
        return {k: v for k, v in self.pipe.components.items() if isinstance(v, torch.nn.Module)}

    def describe(self) -> ModelCard:
        if self._card is None:
            o = self.options
            guidance = o.call_kwargs.get("guidance_scale",
                                         getattr(self.params.get("guidance_scale"), "default",
                                                 None))
            scheduler = self.pipe.components.get("scheduler")
            self._card = ModelCard(
                name=self.name, adapter=self.adapter,
                params={k: int(sum(p.numel() for p in m.parameters()))
                        for k, m in self._modules().items()},
                dtype=self.dtype, steps=self.steps, frames=o.num_frames or 0,
                height=o.height or 0, width=o.width or 0, weights_sha256=self.weights_sha256,
                cfg=isinstance(guidance, (int, float)) and guidance > 1,
                sampler={"pipeline": type(self.pipe).__name__, "task": self.task,
                         "scheduler": type(scheduler).__name__ if scheduler else None,
                         "call_kwargs": o.call_kwargs, "variant": o.variant,
                         "origin": self.origin})
        return self._card

    def transformer(self) -> Any:
        """The pipeline's ``transformer`` component (video DiTs: Wan, CogVideoX, LTX,
        HunyuanVideo), or None: what diffusers' cache transforms (``baselines/dit_cache.py``)
        hook, where no denoiser convention is known."""
        module = self.pipe.components.get("transformer")
        return module if isinstance(module, torch.nn.Module) else None

    def denoiser(self) -> Any:
        """The denoiser with its convention (:data:`DENOISER_CONVENTIONS`); UnsupportedError
        for a pipeline whose convention is not known (transforms that need it refuse)."""
        make = DENOISER_CONVENTIONS.get(type(self.pipe).__name__)
        if make is None:
            raise UnsupportedError(
                f"model '{self.name}': the denoiser convention of {type(self.pipe).__name__} is "
                f"not known to vdmbench (known: {', '.join(DENOISER_CONVENTIONS)})")
        return make(self)

    # -- per-component timing ------------------------------------------------------------------

    def _recorded_call(self, request: GenerationRequest) -> dict[str, list[tuple]]:
        """Run the pipeline once for ``request`` with recording wrappers on its modules:
        ``{component: [(callable, args, kwargs), …]}`` in call order."""
        calls: dict[str, list[tuple]] = {}
        targets: list[tuple[str, Any, str, Callable[..., Any]]] = []
        for attr, module in self._modules().items():
            if attr.startswith("text_encoder"):
                targets.append(("text_encode", module, "forward", module))
            elif attr == "image_encoder":
                targets.append(("image_encode", module, "forward", module))
            elif attr in _DENOISERS:
                targets.append(("denoise", module, "forward", module))
            elif attr == "vae":
                for method, comp in (("encode", "vae_encode"), ("decode", "decode")):
                    if hasattr(module, method):
                        targets.append((comp, module, method, getattr(module, method)))

        def recorder(comp: str, original: Callable[..., Any], replay: Callable[..., Any]
                     ) -> Callable[..., Any]:
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                calls.setdefault(comp, []).append((replay, _clone(args), _clone(kwargs)))
                return original(*args, **kwargs)
            return wrapper

        patched = []
        try:
            for comp, module, method, replay in targets:
                if method in vars(module):
                    continue  # already wrapped by someone else: leave it alone
                original = getattr(module, method)
                setattr(module, method, recorder(comp, original, replay))
                patched.append((module, method))
            self._video(request)
        finally:
            for module, method in patched:
                delattr(module, method)
        return calls

    def components(self, request: GenerationRequest) -> dict[str, Callable[[], object]]:
        """Named callables replaying what one generation of ``request`` called (module doc);
        ``denoise`` only where the denoiser calls divide evenly into ``steps``."""
        calls = self._recorded_call(request)
        den = calls.pop("denoise", [])
        if den and len(den) % self.steps == 0:
            calls["denoise"] = den[:len(den) // self.steps]

        def replay(items: list[tuple]) -> Callable[[], object]:
            @torch.no_grad()
            def run() -> object:
                out = None
                for fn, args, kwargs in items:
                    out = fn(*args, **kwargs)
                return out
            return run

        return {comp: replay(items) for comp, items in calls.items()}


# ------------------------------------------------------------------------------------ helpers


