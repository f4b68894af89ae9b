"""What a model is asked for and what it must answer: the model adapter protocol.

A :class:`GenerationRequest` names one video to generate; a :class:`VideoGenerator` turns a list of
requests into a list of :class:`~vdmbench.video.Video` and describes itself with a
:class:`ModelCard`. Same request + same seed ⇒ same video (bit-identical on CPU).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable

import torch

from vdmbench.record_schema import ModelCard
from vdmbench.video import Video, check_video, video_sha256

__all__ = ["DTYPES", "AdapterFactory", "GenerationRequest", "ModelCard", "VideoGenerator",
           "request_seeds_sha256", "requests_to_json", "torch_dtype"]

#: the ``dtype`` names a suite's model entry (and a recipe's teacher) may give → torch dtypes;
#: the one such map (adapters, pipelines, the distillation trainer, the latent cache)
DTYPES: dict[str, torch.dtype] = {"float32": torch.float32, "float16": torch.float16,
                                  "bfloat16": torch.bfloat16}


def torch_dtype(name: str, what: str) -> torch.dtype:
    """The torch dtype named ``name``; an unknown name is a ``ConfigError`` naming ``what``
    (e.g. ``"model 'teacher'"``) and the known names."""
    if name not in DTYPES:
        from vdmbench.errors import ConfigError

        raise ConfigError(f"{what}: dtype {name!r} is not one of {', '.join(DTYPES)}",
                          field="dtype")
    return DTYPES[name]


@dataclass(frozen=True, eq=False)
class GenerationRequest:
    """One video to generate.

    ``image``: the conditioning frame for image-to-video, uint8 ``(H, W, 3)``; ``prompt`` for
    text-to-video. ``frames`` × (``height``, ``width``) pixels at ``fps``. ``seed`` fixes the noise.
    """

    id: str
    seed: int
    frames: int
    height: int
    width: int
    fps: float
    prompt: str | None = None
    image: torch.Tensor | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.image is not None:
            check_video(self.image.unsqueeze(0), f"request {self.id}: conditioning image")

    def key_material(self) -> dict[str, Any]:
        """Everything that determines the output, as JSON-able data (image by its hash)."""
        d = {k: v for k, v in asdict(self).items() if k != "image"}
        d["image_sha256"] = None if self.image is None else video_sha256(self.image)
        return d

    def content_hash(self) -> str:
        """sha256 of :meth:`key_material` (stable across processes)."""
        blob = json.dumps(self.key_material(), sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()


def request_seeds_sha256(requests: Sequence[GenerationRequest]) -> str:
    """sha256 of the requests' seeds in order (a record's ``seeds.request_seeds_sha256``)."""
    return hashlib.sha256(",".join(str(r.seed) for r in requests).encode()).hexdigest()


def requests_to_json(requests: Sequence[GenerationRequest]) -> list[dict[str, Any]]:
    """The requests as JSON data (a run's ``requests.json``): each one's key material (its
    image by hash) and ``content_hash``, which keys its videos in the cache."""
    return [{**r.key_material(), "content_hash": r.content_hash()} for r in requests]


@runtime_checkable
class VideoGenerator(Protocol):
    """The model adapter protocol (three methods).

    - ``generate(requests)``: one :class:`Video` per request, in order; uint8 ``(T, H, W, 3)``
      with ``T = request.frames`` and ``(H, W) = (request.height, request.width)``.
    - ``describe()``: the :class:`ModelCard`.
    - ``components(request)``: named zero-argument callables that run one part of generating the
      request (e.g. ``"encode"``, ``"denoise"`` = one denoiser step with CFG counted,
      ``"decode"``), each on inputs prepared once, so that speed can be split per component.
      ``"denoise"`` is repeated ``describe().steps`` times per video. An optional ``"video"``
      entry generates the whole video at batch 1 and is what the runner times as per-video
      latency (otherwise it times ``generate([request])``).

    Adapters that can be trained or accelerated also have ``denoiser()`` → a
    :class:`~vdmbench.diffusion.denoiser.DenoiserSpec` (the UNet, its preconditioning and
    sampler, how to build a conditioning batch, every ``nn.Module`` component), and their class
    a ``teacher(weights, device, *, frames, options, dtype)`` classmethod that loads only what
    training needs (see docs/architecture.md).
    """

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Video]: ...

    def describe(self) -> ModelCard: ...

    def components(self, request: GenerationRequest) -> dict[str, Callable[[], object]]: ...


class AdapterFactory(Protocol):
    """A registered model adapter: ``Options`` (a pydantic model, ``extra="forbid"``) validates the
    suite's ``options:`` mapping; ``load`` builds the generator named ``name`` from ``weights``
    (a path, ``${ENV}`` allowed; None = the adapter's built-in model) on ``device``, sampling
    with ``steps`` (None = the adapter's default) in ``dtype`` (float32/float16/bfloat16)."""

    Options: ClassVar[type]

    @classmethod
    def load(cls, name: str, weights: str | None, options: Any, device: str,
             steps: int | None = None, dtype: str = "float32") -> VideoGenerator: ...
