"""What ``vdmbench validate`` knows of the ``diffusers`` model without importing torch: its
options, the facts of pipeline classes (read from ``model_index.json`` and the class's call
signature) and the check before a run (:mod:`vdmbench.registry`, "config"; the check imports
diffusers to read the pipeline class). The adapter
(:class:`~vdmbench.models.diffusers_pipeline.DiffusersAdapter`) subclasses
:class:`DiffusersConfig`.
"""

from __future__ import annotations

import difflib
import inspect
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from vdmbench.errors import OptionError, UnsupportedError, WeightsNotFoundError
from vdmbench.paths import expand_path

I2V_PIPELINES = ("StableVideoDiffusionPipeline", "I2VGenXLPipeline",
                 "CogVideoXImageToVideoPipeline", "WanImageToVideoPipeline",
                 "LTXImageToVideoPipeline", "HunyuanVideoImageToVideoPipeline",
                 "HunyuanSkyreelsImageToVideoPipeline", "SkyReelsV2ImageToVideoPipeline",
                 "LTXConditionPipeline", "PIAPipeline")
T2V_PIPELINES = ("CogVideoXPipeline", "WanPipeline", "LTXPipeline", "HunyuanVideoPipeline",
                 "AnimateDiffPipeline", "TextToVideoSDPipeline", "MochiPipeline",
                 "AllegroPipeline", "LattePipeline", "SkyReelsV2Pipeline",
                 "CogVideoXFunControlPipeline", "AnimateDiffSDXLPipeline")
#: arguments the adapter sets from the request and the model entry (not allowed in call_kwargs)
SET_BY_REQUEST = ("prompt", "image", "num_frames", "video_length", "height", "width",
                  "num_inference_steps", "generator", "output_type", "return_dict", "fps",
                  "frame_rate", "target_fps")


class DiffusersOptions(BaseModel):
    """Options of the ``diffusers`` model (the pipeline folder is ``weights``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    variant: str | None = Field(None, description="weight file variant, e.g. fp16 "
                                                  "(diffusion_pytorch_model.fp16.safetensors)")
    call_kwargs: dict[str, Any] = Field(default_factory=dict,
                                        description="more keyword arguments of the pipeline "
                                                    "call (checked against its signature)")
    num_frames: int | None = Field(None, gt=0, description="frames the pipeline makes "
                                   "(default: the request's); the first request.frames are kept")
    height: int | None = Field(None, gt=0, description="height it makes (default: request's)")
    width: int | None = Field(None, gt=0, description="width it makes (default: request's)")
    output_resize: Literal["squash_bilinear", "short_side_center_crop"] = Field(
        "squash_bilinear", description="how frames are resized to the request's size")


# ------------------------------------------------------------------------ pipeline class facts


def pipeline_class_name(folder: Path) -> str:
    """``_class_name`` of the folder's ``model_index.json`` (WeightsNotFoundError if absent)."""
    index = folder / "model_index.json"
    if not index.is_file():
        raise WeightsNotFoundError(f"{folder}: no model_index.json there; the diffusers model "
                                   f"needs a pipeline folder written by save_pretrained")
    try:
        name = json.loads(index.read_text(encoding="utf-8")).get("_class_name")
    except (OSError, json.JSONDecodeError) as e:
        raise WeightsNotFoundError(f"{index}: cannot read ({e})") from None
    if not isinstance(name, str):
        raise WeightsNotFoundError(f"{index}: no _class_name")
    return name


def pipeline_class(name: str) -> Any:
    import diffusers

    cls = getattr(diffusers, name, None)
    if cls is None or not hasattr(cls, "from_pretrained"):
        raise UnsupportedError(f"pipeline class {name} is not in this diffusers "
                               f"({diffusers.__version__})")
    return cls


def call_parameters(cls: Any) -> tuple[dict[str, inspect.Parameter], bool]:
    """The ``__call__`` parameters of a pipeline class and whether it takes ``**kwargs``."""
    params = dict(inspect.signature(cls.__call__).parameters)
    params.pop("self", None)
    var_kw = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    return {k: p for k, p in params.items() if p.kind is not inspect.Parameter.VAR_KEYWORD}, var_kw


def task_of(cls: Any) -> str:
    """``"i2v"`` or ``"t2v"`` for a pipeline class."""
    if cls.__name__ in I2V_PIPELINES:
        return "i2v"
    if cls.__name__ in T2V_PIPELINES:
        return "t2v"
    params, _ = call_parameters(cls)
    return "i2v" if "image" in params else "t2v"


def check_call_kwargs(cls: Any, call_kwargs: dict[str, Any]) -> None:
    """Every key a parameter of ``cls.__call__`` the adapter does not set itself; OptionError
    names the key (``loc`` ``("options", "call_kwargs", key)``)."""
    params, var_kw = call_parameters(cls)
    for key in call_kwargs:
        if key in SET_BY_REQUEST:
            raise OptionError(f"'{key}' is set from the request and the model entry (steps, "
                              f"options num_frames/height/width); leave it out of call_kwargs",
                              loc=("options", "call_kwargs", key))
        if key not in params and not var_kw:
            allowed = [k for k in params if k not in SET_BY_REQUEST]
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            raise OptionError(f"unknown key '{key}'.{hint} {cls.__name__}.__call__ takes "
                              f"{', '.join(allowed)}", loc=("options", "call_kwargs", key))


def _svd_denoiser(gen: Any) -> Any:
    from vdmbench.models.svd_denoiser import SVDDenoiser

    p = gen.pipe
    return SVDDenoiser(p.unet, str(gen.device), frames=gen.options.num_frames, weights=None,
                       name=gen.adapter, modules={"vae": p.vae, "image_encoder": p.image_encoder})


#: pipeline class → the DenoiserSpec of a loaded generator (its denoiser's convention)
DENOISER_CONVENTIONS: dict[str, Callable[[Any], Any]] = {
    "StableVideoDiffusionPipeline": _svd_denoiser,
}


def pipeline_folder(weights: str | None, name: str) -> Path:
    """The pipeline folder ``weights`` names (WeightsNotFoundError where there is none)."""
    if weights is None:
        raise WeightsNotFoundError(f"model '{name}': the diffusers model needs weights: the "
                                   f"pipeline folder (save_pretrained layout)")
    folder = expand_path(weights, f"model '{name}' weights")
    if not folder.is_dir():
        raise WeightsNotFoundError(f"model '{name}': pipeline folder {folder} not found "
                                   f"(nothing is downloaded)")
    return folder


class DiffusersConfig:
    """The ``diffusers`` model's config: options and :meth:`check`; it hands out a denoiser
    where its pipeline's convention is known (:data:`DENOISER_CONVENTIONS`)."""

    Options: ClassVar[type[BaseModel]] = DiffusersOptions
    #: ``denoiser()`` answers for the pipelines of :data:`DENOISER_CONVENTIONS` (None for
    #: others; :meth:`check` refuses transforms that need it there)
    has_denoiser: ClassVar[bool] = True
    #: a DiT pipeline hands out its ``transformer`` (the cache transforms check the loaded one)
    has_transformer: ClassVar[bool] = True

    @classmethod
    def check(cls, spec: Any, options: DiffusersOptions, suite: Any) -> None:
        """Before a run (JSON and signatures only): the folder and its pipeline class, the
        suite's task, ``call_kwargs`` against the signature, transforms that need a denoiser."""
        folder = pipeline_folder(spec.weights, spec.name)
        pipe_cls = pipeline_class(pipeline_class_name(folder))
        task = task_of(pipe_cls)
        if task != suite.task:
            raise OptionError(f"model '{spec.name}': {pipe_cls.__name__} is {task} and the "
                              f"suite's task is {suite.task}", loc=("weights",))
        check_call_kwargs(pipe_cls, options.call_kwargs)
        if pipe_cls.__name__ not in DENOISER_CONVENTIONS:
            from vdmbench.catalog import TRANSFORMS

            for j, t in enumerate(spec.transforms):
                try:
                    needs = getattr(TRANSFORMS.config(t.name), "needs_denoiser", True)
                except ImportError:
                    continue
                if needs:
                    raise OptionError(
                        f"transform '{t.name}' cannot apply to model '{spec.name}': the "
                        f"denoiser convention of {pipe_cls.__name__} is not known to vdmbench "
                        f"(known: {', '.join(DENOISER_CONVENTIONS)})",
                        loc=("transforms", j, "name"))
