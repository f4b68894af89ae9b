"""Where the components of an SVD-family model come from, and how they load (offline).

=========================  =====================================  =================================
component                  class                                   files looked for
=========================  =====================================  =================================
``unet``                   ``UNetSpatioTemporalConditionModel``    ``config.json`` + safetensors
``vae``                    ``AutoencoderKLTemporalDecoder``        ``config.json`` + safetensors
``image_encoder``          ``CLIPVisionModelWithProjection``       ``config.json`` + safetensors
``feature_extractor``      ``CLIPImageProcessor``                  ``preprocessor_config.json``
``scheduler``              ``EulerDiscreteScheduler``              ``scheduler_config.json``
=========================  =====================================  =================================

Components are searched in a chain of roots: the weights folder (a full pipeline folder, a
student folder written by ``vdmbench compress`` or a bare UNet folder), then the ``base_weights``
named by its ``compression.json`` (and theirs, in turn), then the ``base`` option (and its chain).
The first root holding a component wins. :func:`resolve_components` finds the folders (reading
JSON only), :func:`load_component` loads one; the adapters are in :mod:`vdmbench.models.svd`,
tiny and real-size random pipelines in :mod:`vdmbench.models.svd_random`.
"""

from __future__ import annotations

import hashlib
import importlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from vdmbench.errors import ConfigError, WeightsNotFoundError
from vdmbench.paths import expand_path, require_dir, sha256_tree, weight_variants

if TYPE_CHECKING:  # the module imports no torch: the adapters' checks read it (no weights)
    import torch

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


class ComponentOptions(BaseModel):
    """Where components are looked for (the part of the adapters' options that
    :func:`resolve_components` reads)."""

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


def resolve_components(model: str, weights: str | None, options: ComponentOptions,
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


def load_source(src: ComponentSource, dtype: torch.dtype, model: str) -> Any:
    kind = COMPONENTS[src.name]
    if src.class_target is not None:
        cls = _import_class(src.class_target, src.name)
    else:
        lib = importlib.import_module(kind.library)
        cls = image_processor_class() if src.name == "feature_extractor" \
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


def image_processor_class() -> type:
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
                   dtype: torch.dtype | None = None) -> Any:
    """One component (``unet``, ``vae``, …) of an SVD-family model folder, resolved along the
    same chain as the adapters resolve it (variants and ``base`` from ``options``: a
    :class:`ComponentOptions`, an adapter's options or a mapping of those keys), loaded offline
    in ``dtype`` (None: float32; eval mode)."""
    if dtype is None:
        import torch

        dtype = torch.float32
    if not isinstance(options, ComponentOptions):
        options = ComponentOptions.model_validate(
            {k: v for k, v in dict(options or {}).items() if k in ComponentOptions.model_fields})
    src = resolve_components(model, weights, options, names=(component,))[component]
    obj = load_source(src, dtype, model)
    return obj.eval() if hasattr(obj, "eval") else obj  # processors/schedulers have no eval


def weights_hash(sources: dict[str, ComponentSource]) -> str:
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


def count_params(module: torch.nn.Module | None) -> int:
    return 0 if module is None else int(sum(p.numel() for p in module.parameters()))
