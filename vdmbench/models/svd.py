"""Stable Video Diffusion (image-to-video) and SF-V (its one-step version) as model adapters.

Both adapters assemble diffusers' ``StableVideoDiffusionPipeline`` from local, diffusers-format
component folders (``save_pretrained`` layout) and never download anything:

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
import hashlib
import importlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field, model_validator

from vdmbench.errors import ConfigError, InvalidRequestError, WeightsNotFoundError
from vdmbench.generation import GenerationRequest, ModelCard
from vdmbench.models.svd_denoiser import SVDDenoiser
from vdmbench.paths import expand_path, require_dir, sha256_tree, weight_variants
from vdmbench.video import Video, from_bcthw, from_unit_float, resize_frames, to_unit_float

__all__ = ["SVDAdapter", "SFVAdapter", "SVDOptions", "SFVOptions", "ComponentSource",
           "resolve_components", "random_svd_pipeline", "COMPONENTS",
           "SVD_SCHEDULER_CONFIG"]

_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
_MAX_CHAIN = 8


@dataclass(frozen=True)
class _ComponentKind:
    cls_name: str
    library: Literal["diffusers", "transformers"]
    marker: str
    weights_stem: str | None


#: the pipeline's components: class, the file that marks the folder, the weight file's stem
COMPONENTS: dict[str, _ComponentKind] = {
    "unet": _ComponentKind("UNetSpatioTemporalConditionModel", "diffusers", "config.json",
                           "diffusion_pytorch_model"),
    "vae": _ComponentKind("AutoencoderKLTemporalDecoder", "diffusers", "config.json",
                          "diffusion_pytorch_model"),
    "image_encoder": _ComponentKind("CLIPVisionModelWithProjection", "transformers",
                                    "config.json", "model"),
    "feature_extractor": _ComponentKind("CLIPImageProcessor", "transformers",
                                        "preprocessor_config.json", None),
    "scheduler": _ComponentKind("EulerDiscreteScheduler", "diffusers", "scheduler_config.json",
                                None),
}


# ------------------------------------------------------------------------------------ options


class _CommonOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    base: str | None = Field(
        None, description="last-resort folder (or hf:org/name) for components that neither the "
                          "weights folder nor its compression.json base_weights chain has; "
                          "${ENV} allowed")
    variant: str | None = Field(
        None, description="weight file variant, e.g. 'fp16' → *.fp16.safetensors (falls back to "
                          "the plain file where a folder has no such variant)")
    hf_cache_dir: str | None = Field(None, description="Hugging Face cache for hf: weights "
                                                       "(default: the hub's default cache)")
    num_frames: int | None = Field(None, gt=0, description="frames generated (default: the "
                                   "request's); the first request.frames are returned")
    height: int | None = Field(None, gt=0, description="generation height in pixels, a "
                               "multiple of 8 (default: the request's)")
    width: int | None = Field(None, gt=0, description="generation width in pixels, a multiple "
                              "of 8 (default: the request's)")
    output_resize: Literal["squash_bilinear", "short_side_center_crop"] = Field(
        "squash_bilinear", description="how frames are resized to the request's size when "
                                       "height/width differ from it")
    fps: int | None = Field(None, gt=1, description="fps micro-conditioning (the UNet sees "
                            "fps − 1); default: the request's fps rounded")
    motion_bucket_id: int = Field(127, ge=0)
    noise_aug_strength: float = Field(0.02, ge=0.0,
                                      description="noise added to the conditioning frame")
    decode_chunk_size: int | None = Field(None, gt=0, description="frames per VAE decode call "
                                          "(default: all frames at once)")

    @model_validator(mode="after")
    def _multiple_of_8(self) -> _CommonOptions:
        for name in ("height", "width"):
            v = getattr(self, name)
            if v is not None and v % 8:
                raise ValueError(f"{name} must be a multiple of 8, got {v}")
        return self


class SVDOptions(_CommonOptions):
    """Options of ``svd`` (the suite's ``options:``); steps come from the model's ``steps:``."""

    min_guidance_scale: float = Field(1.0, ge=0.0, description="CFG scale of the first frame")
    max_guidance_scale: float = Field(3.0, ge=0.0, description="CFG scale of the last frame; "
                                      "CFG (a doubled UNet batch) is on when > 1")

    @model_validator(mode="after")
    def _guidance_order(self) -> SVDOptions:
        if self.min_guidance_scale > self.max_guidance_scale:
            raise ValueError(f"min_guidance_scale {self.min_guidance_scale} exceeds "
                             f"max_guidance_scale {self.max_guidance_scale}")
        return self


class SFVOptions(_CommonOptions):
    """Options of ``sfv``: one UNet forward, no CFG, initial noise level ``sigma``."""

    sigma: float = Field(700.0, gt=0.0, description="noise level of the initial latent "
                         "(EDM σ; SVD's σ_max is 700). SF-V's own value is unconfirmed")


# ------------------------------------------------------------------------- weight resolution


@dataclass(frozen=True)
class ComponentSource:
    """Where one component is loaded from: ``folder``, which chain root gave it (``origin``:
    ``"weights"`` or ``"base"``/``"base:<n>"``), the weight file variant used (or None)."""

    name: str
    folder: Path
    origin: str
    variant: str | None = None
    class_target: str | None = None


@dataclass
class _Root:
    path: Path
    label: str
    bare_unet: bool = False
    classes: dict[str, str] = field(default_factory=dict)


def _resolve_root(value: str, what: str, hf_cache_dir: str | None) -> Path:
    """A local folder, or ``hf:org/name[@rev]`` looked up in the offline Hugging Face cache."""
    if value.startswith("hf:"):
        spec = value[3:]
        repo, _, revision = spec.partition("@")
        try:
            from huggingface_hub import snapshot_download

            cache = str(expand_path(hf_cache_dir, "hf_cache_dir")) if hf_cache_dir else None
            folder = snapshot_download(repo, revision=revision or None, cache_dir=cache,
                                       local_files_only=True)
        except Exception as e:  # LocalEntryNotFoundError, invalid repo id, …
            where = hf_cache_dir or "the default Hugging Face cache (HF_HUB_CACHE)"
            raise WeightsNotFoundError(
                f"{what}: '{repo}' is not in {where} ({type(e).__name__}: {e}). Download it "
                f"beforehand (e.g. `huggingface-cli download {repo}`) or give a local "
                f"folder") from None
        return Path(folder)
    return require_dir(value, what, "Give a diffusers-format model folder (model_index.json "
                                    "with unet/, vae/, image_encoder/, feature_extractor/, "
                                    "scheduler/ sub-folders), or a student folder with "
                                    "compression.json")


def _read_json(path: Path, what: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise WeightsNotFoundError(f"{what}: cannot read {path}: {e}") from None
    if not isinstance(data, dict):
        raise WeightsNotFoundError(f"{what}: {path} must hold a JSON object")
    return data


def _is_bare_model_folder(path: Path) -> bool:
    cfg = path / "config.json"
    if (path / "model_index.json").is_file() or not cfg.is_file():
        return False
    try:
        return json.loads(cfg.read_text()).get("_class_name") == COMPONENTS["unet"].cls_name
    except (OSError, json.JSONDecodeError):
        return False


def _root_chain(weights: str, base: str | None, hf_cache_dir: str | None,
                model: str) -> list[_Root]:
    """Roots in search order: the weights folder, the chain of ``compression.json``
    ``base_weights`` it starts (relative paths are relative to the folder holding that file),
    then the ``base`` option and its own chain."""
    roots: list[_Root] = []
    pending: list[tuple[str, str, Path | None]] = [(weights, "weights", None)]
    if base is not None:
        pending.append((base, "base", None))
    depth = 0
    while pending:
        value, label, relative_to = pending.pop(0)
        what = f"model '{model}': {label} folder"
        if relative_to is not None and not value.startswith("hf:"):
            p = expand_path(value, what)
            value = str(p if p.is_absolute() else relative_to / p)
        path = _resolve_root(value, what, hf_cache_dir).resolve()
        if any(r.path == path for r in roots):
            continue
        if len(roots) >= _MAX_CHAIN:
            raise ConfigError(f"model '{model}': more than {_MAX_CHAIN} chained base folders "
                              f"(compression.json base_weights)")
        root = _Root(path, label, bare_unet=_is_bare_model_folder(path))
        cj = path / "compression.json"
        if cj.is_file():
            meta = _read_json(cj, f"model '{model}'")
            classes = meta.get("classes", {})
            if not isinstance(classes, dict):
                raise ConfigError(f"{cj}: 'classes' must map component names to 'module:attr'")
            root.classes = {str(k): str(v) for k, v in classes.items()}
            bw = meta.get("base_weights")
            if bw is not None:
                depth += 1
                pending.insert(0, (str(bw), f"base_weights#{depth}", path))
        roots.append(root)
    return roots


def _weight_file(folder: Path, stem: str, variant: str | None) -> tuple[Path | None, str | None]:
    """The safetensors file (or sharded index) of a component: (path, variant used)."""
    names: list[tuple[str, str | None]] = []
    if variant:
        names += [(f"{stem}.{variant}.safetensors", variant),
                  (f"{stem}.safetensors.index.{variant}.json", variant)]
    names += [(f"{stem}.safetensors", None), (f"{stem}.safetensors.index.json", None)]
    for name, v in names:
        if (folder / name).is_file():
            return folder / name, v
    return None, None


def _missing_weights_message(model: str, name: str, kind: _ComponentKind, folder: Path,
                             variant: str | None) -> str:
    """Why a component folder's weight file was not found, naming the variant files that are
    there and the suite key (``options.variant``) that selects them."""
    stem = kind.weights_stem or ""
    v = f".{variant}" if variant else ""
    msg = (f"model '{model}': component '{name}' ({kind.cls_name}): "
           f"{folder / (stem + v + '.safetensors')} not found (its config is there)")
    present = weight_variants(folder, stem)
    if present:
        files = ", ".join(present.values())
        choices = " or ".join(f"'variant: {k}'" for k in present)
        return (f"{msg}; the folder has {files}: set {choices} in the options of model "
                f"'{model}' in the suite (models[].options.variant)")
    return (f"{msg}. Put the safetensors weights written by save_pretrained there (.bin files "
            f"are not loaded)")


def resolve_components(model: str, weights: str | None, options: _CommonOptions,
                       names: Sequence[str] = tuple(COMPONENTS)) -> dict[str, ComponentSource]:
    """Find the folder of each component in ``names`` along the root chain; raises
    :class:`WeightsNotFoundError` naming the component and every place it was looked for."""
    if weights is None:
        raise ConfigError(f"model '{model}': 'weights' is required (a diffusers-format SVD "
                          f"folder, e.g. ${{SVD_XT_DIR}})")
    roots = _root_chain(weights, options.base, options.hf_cache_dir, model)
    out: dict[str, ComponentSource] = {}
    for name in names:
        kind = COMPONENTS[name]
        looked: list[str] = []
        for root in roots:
            folder = root.path if (name == "unet" and root.bare_unet) else root.path / name
            marker = folder / kind.marker
            if not marker.is_file():
                looked.append(str(marker))
                continue
            variant = None
            if kind.weights_stem is not None:
                wf, variant = _weight_file(folder, kind.weights_stem, options.variant)
                if wf is None:
                    raise WeightsNotFoundError(_missing_weights_message(
                        model, name, kind, folder, options.variant))
            out[name] = ComponentSource(name, folder, root.label, variant,
                                        root.classes.get(name))
            break
        else:
            raise WeightsNotFoundError(
                f"model '{model}': component '{name}' ({kind.cls_name}) not found; looked for "
                f"{', '.join(looked)}. Put a diffusers-format '{name}/' folder (as "
                f"save_pretrained writes it) there, or name a base model folder holding it "
                f"(the 'base' option or compression.json 'base_weights')")
    return out


def _import_class(target: str, component: str) -> type:
    from vdmbench.models.student_dir import import_class

    return import_class(target, component)


def _load_component(src: ComponentSource, dtype: torch.dtype, model: str) -> Any:
    kind = COMPONENTS[src.name]
    if src.class_target is not None:
        cls = _import_class(src.class_target, src.name)
    else:
        lib = importlib.import_module(kind.library)
        cls = _image_processor_class() if src.name == "feature_extractor" \
            else getattr(lib, kind.cls_name)
        declared = _read_json(src.folder / kind.marker, f"model '{model}'").get("_class_name")
        if kind.library == "diffusers" and declared not in (None, kind.cls_name):
            raise ConfigError(f"model '{model}': {src.folder / kind.marker} declares class "
                              f"{declared!r}, expected {kind.cls_name!r} (a custom class must be "
                              f"named in compression.json 'classes')")
    try:
        if kind.weights_stem is None:  # scheduler, feature extractor: configuration only
            return cls.from_pretrained(str(src.folder), local_files_only=True)
        kwargs: dict[str, Any] = {"local_files_only": True, "use_safetensors": True,
                                  "variant": src.variant}
        kwargs["dtype" if kind.library == "transformers" else "torch_dtype"] = dtype
        return cls.from_pretrained(str(src.folder), **kwargs)
    except (OSError, ValueError) as e:
        raise WeightsNotFoundError(f"model '{model}': component '{src.name}' cannot be loaded "
                                   f"from {src.folder}: {e}") from None


def _image_processor_class() -> type:
    """``CLIPImageProcessor``, or — without torchvision — the PIL class transformers would fall
    back to anyway (``CLIPImageProcessorPil``), taken directly so that its fallback notice is not
    printed. The same preprocessing either way the package is set up."""
    import importlib.util

    import transformers

    if importlib.util.find_spec("torchvision") is None:
        pil = getattr(transformers, "CLIPImageProcessorPil", None)
        if pil is not None:
            return pil
    return transformers.CLIPImageProcessor


def load_component(model: str, weights: str, component: str, options: Any = None,
                   dtype: torch.dtype = torch.float32) -> Any:
    """One component (``unet``, ``vae``, …) of an SVD-family model folder, resolved along the
    same chain as the adapters resolve it (variants and ``base`` from ``options``, an
    ``SFVOptions`` mapping), loaded offline in ``dtype`` (eval mode)."""
    if not isinstance(options, _CommonOptions):
        options = SFVOptions.model_validate(options or {})
    src = resolve_components(model, weights, options, names=(component,))[component]
    return _load_component(src, dtype, model).eval()


def _weights_hash(sources: dict[str, ComponentSource]) -> str:
    h = hashlib.sha256()
    for name in sorted(sources):
        s = sources[name]
        stem = COMPONENTS[name].weights_stem
        if stem is not None:
            wf, _ = _weight_file(s.folder, stem, s.variant)
            patterns: tuple[str, ...] = ("*.json",) + ((wf.name,) if wf else ())
            if wf is not None and wf.name.endswith(".json"):  # sharded: the shards too
                shards = _read_json(wf, f"component '{name}'").get("weight_map", {})
                patterns += tuple(sorted(set(shards.values())))
        else:
            patterns = ("*.json",)
        h.update(f"{name}={sha256_tree(s.folder, patterns)}\n".encode())
    return h.hexdigest()


def _count(module: torch.nn.Module | None) -> int:
    return 0 if module is None else int(sum(p.numel() for p in module.parameters()))


# ------------------------------------------------------------------------------ the adapter


class SVDAdapter:
    """``svd``: diffusers' StableVideoDiffusionPipeline from local weights (see module doc)."""

    Options: ClassVar[type[BaseModel]] = SVDOptions
    adapter_name: ClassVar[str] = "svd"
    default_steps: ClassVar[int] = 25

    def __init__(self, name: str, pipe: Any, sources: dict[str, ComponentSource],
                 options: _CommonOptions, device: str, steps: int, dtype: str) -> None:
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
    def _check_steps(cls, steps: int | None) -> int:
        return cls.default_steps if steps is None else int(steps)

    @classmethod
    def check(cls, spec: Any, options: _CommonOptions, suite: Any) -> None:
        """Before a run (no weights loaded): ``steps``, ``num_frames`` against the dataset's
        frames, and every component's folder and weight file (JSON read only)."""
        cls._check_steps(spec.steps)
        frames = suite.dataset.frames
        if options.num_frames is not None and options.num_frames < frames:
            raise ConfigError(f"model '{spec.name}': num_frames {options.num_frames} is fewer "
                              f"than dataset.frames {frames}")
        resolve_components(spec.name, spec.weights, options)

    @classmethod
    def load(cls, name: str, weights: str | None, options: Any, device: str,
             steps: int | None = None, dtype: str = "float32") -> SVDAdapter:
        """Resolve and load the components (offline), build the pipeline on ``device``.

        ``options``: an ``Options`` instance or a mapping; ``steps``: denoising steps;
        ``dtype``: float32 / float16 / bfloat16.
        """
        if not isinstance(options, cls.Options):
            options = cls.Options.model_validate(options or {})
        n_steps = cls._check_steps(steps)
        if dtype not in _DTYPES:
            raise ConfigError(f"model '{name}': dtype {dtype!r} is not one of "
                              f"{', '.join(_DTYPES)}")
        from diffusers import StableVideoDiffusionPipeline

        sources = resolve_components(name, weights, options)
        torch_dtype = _DTYPES[dtype]
        parts = {k: _load_component(s, torch_dtype, name) for k, s in sources.items()}
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
        ``component(name)`` from the same folders. Training data are seeded Gaussian latent
        clips of ``frames`` (default 14) × 16 × 16."""
        if weights is None:
            raise WeightsNotFoundError(
                f"{cls.adapter_name}: no weights given. Pass the teacher's folder (--weights DIR "
                f"on the command line): a diffusers SVD/SF-V folder, a student folder or a bare "
                f"UNet folder (config.json + diffusion_pytorch_model[.fp16].safetensors); "
                f"nothing is downloaded")
        if not isinstance(options, cls.Options):
            options = cls.Options.model_validate(options or {})
        if dtype not in _DTYPES:
            raise ConfigError(f"model '{cls.adapter_name}': dtype {dtype!r} is not one of "
                              f"{', '.join(_DTYPES)}")
        name = cls.adapter_name
        unet = load_component(name, weights, "unet", options, _DTYPES[dtype]).to(device)

        def load_other(component: str) -> torch.nn.Module:
            return load_component(name, weights, component, options)

        root = str(expand_path(weights, f"{name} weights").resolve()) if weights else None
        return SVDDenoiser(unet, device, frames=frames or 14, size=16, weights=root, name=name,
                           loader=load_other)

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
            decoder = _count(getattr(p.vae, "decoder", None))
            params = {"unet": _count(p.unet), "vae_encoder": _count(p.vae) - decoder,
                      "vae_decoder": decoder, "image_encoder": _count(p.image_encoder)}
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
                weights_sha256=_weights_hash(self.sources), cfg=self.cfg, sampler=sampler)
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


class SFVAdapter(SVDAdapter):
    """``sfv``: the SVD pipeline with an SF-V UNet, one forward pass, no CFG.

    Sampler (documented choice; SF-V's code is not used): scheduler sigmas ``[sigma, 0]``;
    the initial latent is ``ε · init_noise_sigma`` (``√(σ² + 1)`` under SVD's "leading" timestep
    spacing, 1e-6 relative to σ at σ = 700), one UNet call at ``c_noise = ¼·ln σ``, and the Euler
    step to σ = 0 equals the v-prediction's denoised estimate ``c_skip·x + c_out·F``.
    """

    Options: ClassVar[type[BaseModel]] = SFVOptions
    adapter_name: ClassVar[str] = "sfv"
    default_steps: ClassVar[int] = 1

    @classmethod
    def _check_steps(cls, steps: int | None) -> int:
        if steps not in (None, 1):
            raise ConfigError(f"sfv samples in one UNet forward; steps must be 1 (or left out), "
                              f"got {steps}")
        return 1

    def _schedule_kwargs(self) -> dict[str, Any]:
        return {"sigmas": [float(self.options.sigma), 0.0]}  # type: ignore[attr-defined]


# ---------------------------------------------------------------- random-weight architectures

#: SVD's scheduler configuration (EDM σ ∈ [0.002, 700], Karras spacing, v-prediction)
SVD_SCHEDULER_CONFIG: dict[str, Any] = {
    "beta_start": 0.00085, "beta_end": 0.012, "beta_schedule": "scaled_linear",
    "interpolation_type": "linear", "num_train_timesteps": 1000,
    "prediction_type": "v_prediction", "sigma_max": 700.0, "sigma_min": 0.002,
    "steps_offset": 1, "timestep_spacing": "leading", "timestep_type": "continuous",
    "use_karras_sigmas": True,
}


def random_svd_pipeline(size: Literal["real", "tiny"] = "tiny", num_frames: int = 14,
                        seed: int = 0, unet_layers_per_block: int | tuple[int, ...] = 2) -> Any:
    """A ``StableVideoDiffusionPipeline`` with random weights (float32, CPU).

    ``real``: SVD's architecture (UNet channels (320, 640, 1280, 1280), heads (5, 10, 20, 20),
    cross-attention 1024, time-id embedding 256; VAE (128, 256, 512, 512), 2 layers per block;
    CLIP ViT-H/14 image encoder, projection 1024) — for speed, which does not depend on weights.
    ``tiny``: the same block types with 32/64 channels, a 2-level VAE (scale factor 2) and a
    2-layer CLIP (image size 224, patch 32), about 2M parameters in all — for tests.
    """
    from diffusers import (
        AutoencoderKLTemporalDecoder,
        EulerDiscreteScheduler,
        StableVideoDiffusionPipeline,
        UNetSpatioTemporalConditionModel,
    )
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    torch.manual_seed(seed)
    if size == "real":
        unet = UNetSpatioTemporalConditionModel(sample_size=96, num_frames=num_frames,
                                                layers_per_block=unet_layers_per_block)
        vae = AutoencoderKLTemporalDecoder(block_out_channels=(128, 256, 512, 512),
                                           down_block_types=("DownEncoderBlock2D",) * 4,
                                           layers_per_block=2, sample_size=768)
        clip = CLIPVisionConfig(hidden_size=1280, intermediate_size=5120, num_attention_heads=16,
                                num_hidden_layers=32, patch_size=14, image_size=224,
                                projection_dim=1024, hidden_act="gelu", layer_norm_eps=1e-5)
    elif size == "tiny":
        unet = UNetSpatioTemporalConditionModel(
            sample_size=8, num_frames=num_frames,
            down_block_types=("CrossAttnDownBlockSpatioTemporal", "DownBlockSpatioTemporal"),
            up_block_types=("UpBlockSpatioTemporal", "CrossAttnUpBlockSpatioTemporal"),
            block_out_channels=(32, 64), addition_time_embed_dim=8,
            projection_class_embeddings_input_dim=24, layers_per_block=unet_layers_per_block,
            cross_attention_dim=32, num_attention_heads=(2, 4))
        vae = AutoencoderKLTemporalDecoder(block_out_channels=(32, 32),
                                           down_block_types=("DownEncoderBlock2D",) * 2,
                                           layers_per_block=1, sample_size=16)
        clip = CLIPVisionConfig(hidden_size=32, intermediate_size=37, num_attention_heads=4,
                                num_hidden_layers=2, patch_size=32, image_size=224,
                                projection_dim=32)
    else:
        raise ValueError(f"size must be 'real' or 'tiny', got {size!r}")
    image_encoder = CLIPVisionModelWithProjection(clip)
    feature_extractor = _image_processor_class()(crop_size=224, size={"shortest_edge": 224})
    scheduler = EulerDiscreteScheduler(**SVD_SCHEDULER_CONFIG)
    return StableVideoDiffusionPipeline(vae=vae, image_encoder=image_encoder.eval(),
                                        unet=unet.eval(), scheduler=scheduler,
                                        feature_extractor=feature_extractor)
