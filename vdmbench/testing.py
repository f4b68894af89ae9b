"""Test-only parts that let the tests run the whole pipeline in seconds on a CPU.

- :class:`TestPatternDataset` (``test-patterns``): squares moving over a gradient, from a seed.
- :class:`TestGenerator` (``test-generator``): an image-to-video "model" that moves the
  conditioning frame and adds seeded noise; its ``work`` option sets the size of a matmul done per
  denoising step, so slower and faster variants are really slower and faster.
- :class:`MeanAbsDiffToTeacher` (``mean_abs_diff_to_teacher``): mean |student − teacher| in pixel
  units (0–255) over all videos; a metric that needs the teacher's videos.

None of these measure anything about real models; suites built on them exercise the harness.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, ClassVar

import torch
from pydantic import BaseModel

from vdmbench.data.base import VideoDataset
from vdmbench.errors import InvalidRequestError, MetricError, UnsupportedError
from vdmbench.generation import GenerationRequest, ModelCard
from vdmbench.metrics.base import MetricValue
from vdmbench.testing_config import (
    MeanAbsDiffConfig,
    RandomSVDConfig,
    ScaleOutputConfig,
    TestGeneratorConfig,
    TestGeneratorOptions,
)
from vdmbench.video import Video, stack_videos


def _seed_of(*parts: object) -> int:
    blob = "|".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.sha256(blob).digest()[:8], "little") & 0x7FFF_FFFF_FFFF_FFFF


def render_pattern(index: int, frames: int, height: int, width: int, seed: int) -> torch.Tensor:
    """A square moving over a gradient: uint8 ``(T, H, W, 3)``, deterministic from the args."""
    g = torch.Generator().manual_seed(_seed_of("pattern", seed, index))
    color = torch.randint(64, 256, (3,), generator=g, dtype=torch.int64)
    side = max(2, min(height, width) // 4)
    y0 = int(torch.randint(0, max(1, height - side), (1,), generator=g))
    x0 = int(torch.randint(0, max(1, width - side), (1,), generator=g))
    vy, vx = (int(v) for v in torch.randint(-2, 3, (2,), generator=g))
    ys = torch.linspace(0, 96, height).view(height, 1, 1)
    xs = torch.linspace(0, 96, width).view(1, width, 1)
    background = (ys + xs).expand(height, width, 3).clone()
    out = torch.empty(frames, height, width, 3, dtype=torch.uint8)
    for t in range(frames):
        frame = background.clone()
        y = (y0 + vy * t) % max(1, height - side)
        x = (x0 + vx * t) % max(1, width - side)
        frame[y:y + side, x:x + side] = color.float()
        out[t] = frame.round().clamp(0, 255).to(torch.uint8)
    return out


class TestPatternDataset(VideoDataset):
    """``spec.num_videos`` moving-square videos; requests carry their first frame."""

    def _video(self, index: int) -> torch.Tensor:
        s = self.spec
        return render_pattern(index, s.frames, s.height, s.width, _seed_of(s.seed, s.split))

    def requests(self) -> list[GenerationRequest]:
        s = self.spec
        return [GenerationRequest(
            id=f"pattern-{s.split}-{i:05d}", seed=_seed_of("request", s.seed, i) % (2**31),
            frames=s.frames, height=s.height, width=s.width, fps=s.fps,
            prompt=f"moving square {i}", image=self._video(i)[0]) for i in range(s.num_videos)]

    def reference_videos(self, batch_size: int = 16) -> Iterator[list[Video]]:
        batch: list[Video] = []
        for i in range(self.spec.num_videos):
            batch.append(Video(self._video(i), self.spec.fps))
            if len(batch) == batch_size:
                yield batch
                batch = []
        if batch:
            yield batch

    def manifest_hash(self) -> str:
        s = self.spec
        blob = f"test-patterns-v1|{s.split}|{s.num_videos}|{s.frames}|{s.height}|{s.width}|{s.seed}"
        return hashlib.sha256(blob.encode()).hexdigest()


class TestGenerator(TestGeneratorConfig):
    """A seeded, CPU-only stand-in for an I2V model (see the module docstring)."""

    def __init__(self, name: str, options: TestGeneratorOptions, steps: int, dtype: str
                 ) -> None:
        self.name, self.options, self.steps, self.dtype = name, options, steps, dtype
        self._weight = torch.randn(options.work, options.work,
                                   generator=torch.Generator().manual_seed(0))

    @classmethod
    def load(cls, name: str, weights: str | None, options: Any, device: str,
             steps: int | None = None, dtype: str = "float32") -> TestGenerator:
        return cls(name, options, steps or 4, dtype)

    def _denoise_step(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(x @ self._weight) @ self._weight.T

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Video]:
        out = []
        for r in requests:
            if r.image is None:
                raise InvalidRequestError(
                    f"request {r.id}: test-generator needs a conditioning image")
            g = torch.Generator().manual_seed(r.seed)
            x = torch.randn(self.options.work, self.options.work, generator=g)
            for _ in range(self.steps):
                x = self._denoise_step(x)
            base = r.image.float()
            frames = torch.stack([torch.roll(base, shifts=self.options.shift * t, dims=1)
                                  for t in range(r.frames)])
            noise = torch.randn(frames.shape, generator=g) * self.options.noise
            video = (frames + noise).round().clamp(0, 255).to(torch.uint8)
            if self.options.sleep_s:
                time.sleep(self.options.sleep_s)
            out.append(Video(video, r.fps))
        return out

    def describe(self) -> ModelCard:
        return ModelCard(
            name=self.name, adapter="test-generator", params={"denoiser": self._weight.numel()},
            dtype=self.dtype, steps=self.steps, frames=0, height=0, width=0,
            weights_sha256=hashlib.sha256(self._weight.numpy().tobytes()).hexdigest(),
            sampler=self.options.model_dump())

    def components(self, request: GenerationRequest) -> dict[str, Callable[[], object]]:
        x = torch.randn(self.options.work, self.options.work,
                        generator=torch.Generator().manual_seed(request.seed))
        image = request.image if request.image is not None else torch.zeros(1, 1, 3)
        return {"encode": lambda: image.float().mean(),
                "denoise": lambda: self._denoise_step(x),
                "decode": lambda: x.clamp(-1, 1).mul(127.5).add(127.5).to(torch.uint8)}


class MeanAbsDiffToTeacher(MeanAbsDiffConfig):
    """Mean absolute pixel difference (0–255) between a model's and the teacher's videos."""

    version: ClassVar[str] = "1"
    higher_is_better: ClassVar[bool] = False

    def __init__(self, options: BaseModel, context: Any) -> None:
        super().__init__(options, context)
        self._sum = 0.0
        self._n = 0

    def update(self, videos: Sequence[Video], requests: Sequence[GenerationRequest],
               teacher_videos: Sequence[Video] | None = None) -> None:
        if teacher_videos is None:
            raise MetricError(f"{self.name} needs the teacher's videos")
        names = [r.id for r in requests]
        a = stack_videos(videos, names).double()
        b = stack_videos(teacher_videos, names).double()
        self._sum += float((a - b).abs().mean(dim=(1, 2, 3, 4)).sum())
        self._n += len(videos)

    def compute(self) -> MetricValue:
        if self._n == 0:
            raise MetricError(f"{self.name}: no videos")
        return MetricValue(value=self._sum / self._n, n=self._n)


class ScaleOutputTransform(ScaleOutputConfig):
    """Test transform ``test-scale-output``: a forward hook that maps the output of the
    adapter's denoiser UNet to ``output · factor + offset``; removing the hook restores the model
    exactly. Two of them do not commute (which shows the order they are applied in)."""

    def _attach(self, generator: Any) -> tuple[Any, dict[str, Any]]:
        spec = self.denoiser(generator)
        factor = float(self.options.factor)  # type: ignore[attr-defined]
        offset = float(self.options.offset)  # type: ignore[attr-defined]

        def affine(x: torch.Tensor) -> torch.Tensor:
            return x * factor + offset if offset else x * factor

        def hook(module: Any, args: Any, kwargs: Any, out: Any) -> Any:
            if isinstance(out, tuple):
                return (affine(out[0]), *out[1:])
            if isinstance(out, torch.Tensor):
                return affine(out)
            out.sample = affine(out.sample)
            return out

        handle = spec.unet.register_forward_hook(hook, with_kwargs=True)
        return handle.remove, {"hooked": type(spec.unet).__name__}


class RandomSVDTeacher(RandomSVDConfig):
    """``random-svd``: a tiny random SVD-architecture UNet
    (:func:`~vdmbench.models.svd_denoiser.random_svd_unet`, 4 frames of 8×8 latents) as a teacher
    for ``vdmbench analyze``/``compress`` tests. It generates no videos."""

    @classmethod
    def load(cls, name: str, weights: str | None, options: Any, device: str,
             steps: int | None = None, dtype: str = "float32") -> Any:
        raise UnsupportedError(f"model '{name}': random-svd is a teacher for analyze/compress "
                               f"tests only; it generates no videos")

    @classmethod
    def teacher(cls, weights: str | None, device: str = "cpu", *, frames: int | None = None,
                options: Any = None, dtype: str = "float32") -> Any:
        """The random UNet with the SVD convention. Its clips have the UNet's own 4 frames
        (``frames`` is part of the common signature and not used)."""
        from vdmbench.models.svd_denoiser import SVDDenoiser, random_svd_unet

        spec = SVDDenoiser(random_svd_unet().to(device), device, name="random-svd")
        spec.noise_by_default = True  # a test model: Gaussian latents without asking
        return spec
