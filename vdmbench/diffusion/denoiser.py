"""What an adapter hands to training and acceleration: :class:`DenoiserSpec`.

Analysis (``vdmbench analyze``), distillation (``vdmbench compress``) and every transform or
baseline see a model's denoiser only through this object, which the model adapter builds
(``adapter.denoiser()`` on a loaded generator, ``AdapterClass.teacher(weights, device)`` for a
teacher to compress):

- ``unet``: the denoiser module; ``modules``: every ``nn.Module`` component by name (``unet``,
  ``vae``, ``image_encoder``, …: what transforms may hook);
- ``batch(n, seed, split)``: a training / calibration batch, ``{"x0": (B, F, C, H, W) float, …}``
  (``x0`` in the model's space: pixels in [-1, 1] for the synthetic models, latents for SVD);
- ``encode_inputs(x_noisy, σ, batch)``: the UNet's keyword arguments (the conditioning batch);
- ``precondition(x_noisy, σ, raw)`` and ``denoise(unet, x_noisy, σ, batch)``: ``D(x; σ)``;
- ``sample(unet, batch, seed, steps)``: a full sample from seeded noise with the model's sampler;
- ``to_video(x0)``: uint8 (B, F, H, W, 3), or ``None`` in latent space;
- ``train_sigmas`` / ``loss_weight``: the model's own training objective (L_task);
- ``timestep(σ)``: the UNet's timestep input for σ (what step-range options of transforms use).

Training on real videos (:mod:`vdmbench.training_data`): ``clip_encoder(data)`` encodes a
dataset's clips into what ``batch`` returns (latents, image or text conditioning) with the
model's own components; once the encoded clips are attached (``train_data``: a
:class:`~vdmbench.training_data.cache.CachedClips`), ``batch`` draws from them
(:meth:`DenoiserSpec.cached_batch`).
"""

from __future__ import annotations

import contextlib
import hashlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import torch
from torch import nn

from vdmbench.diffusion.edm import edm_loss_weight, euler_step, karras_sigmas
from vdmbench.errors import UnsupportedError


def state_hash(model: nn.Module) -> str:
    """sha256 over a module's state dict (names, shapes, dtypes, bytes), sorted by name."""
    h = hashlib.sha256()
    for key, t in sorted(model.state_dict().items()):
        h.update(key.encode())
        h.update(str((tuple(t.shape), str(t.dtype))).encode())
        h.update(t.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes()
                 if t.numel() else b"")
    return h.hexdigest()


class DenoiserSpec(ABC):
    """A model's denoiser and its conventions (see the module docstring).

    ``name``: the adapter's registered name; ``weights``: the resolved weights path (None = the
    adapter's shipped model); ``sha256``: :func:`state_hash` of ``unet`` when the spec was made.
    """

    name: str = "denoiser"
    #: the registered dataset its own training clips come from (the synthetic adapters:
    #: ``synthmotion``, rendered in ``batch``); None: it trains on an attached dataset
    clip_dataset: str | None = None
    #: train on seeded Gaussian latents when no dataset is named (the ``random-svd`` test model
    #: only; a real model needs ``noise`` named explicitly)
    noise_by_default: bool = False
    #: encoded training clips (:class:`~vdmbench.training_data.cache.CachedClips`) ``batch``
    #: draws from, and the same clips' uint8 frames (the VAE decoder stage's real frames)
    train_data: Any = None
    train_frames: Any = None
    sigma_min: float = 0.002
    sigma_max: float = 80.0
    sigma_data: float = 1.0
    p_mean: float = -1.2
    p_std: float = 1.2
    default_steps: int = 8

    def __init__(self, unet: nn.Module, device: str = "cpu", *, weights: str | None = None,
                 modules: dict[str, nn.Module] | None = None, name: str | None = None,
                 loader: Callable[[str], nn.Module] | None = None) -> None:
        if name is not None:
            self.name = name
        self.unet = unet
        self.device = device
        self.weights = weights
        self.modules: dict[str, nn.Module] = {"unet": unet, **(modules or {})}
        self._sha256: str | None = None
        self._loader = loader

    def release_denoiser(self) -> None:
        """Drop this spec's reference to the UNet (to free its memory once training is done);
        ``batch`` and ``component`` keep working, everything that runs the UNet does not."""
        self.sha256  # noqa: B018 (computed while the UNet is still there)
        self.modules.pop("unet", None)
        self.unet = None  # type: ignore[assignment]

    def component(self, name: str) -> nn.Module:
        """Another component of the model (e.g. ``"vae"`` for decoder pruning): from
        ``modules``, else loaded on demand from the model's folders; raises
        :class:`~vdmbench.errors.UnsupportedError` where the model has none."""
        if name in self.modules:
            return self.modules[name]
        if self._loader is None:
            raise UnsupportedError(f"model '{self.name}' has no '{name}' component")
        self.modules[name] = self._loader(name)
        return self.modules[name]

    @property
    def sha256(self) -> str:
        """:func:`state_hash` of the UNet (computed once, on first use)."""
        if self._sha256 is None:
            self._sha256 = state_hash(self.unet)
        return self._sha256

    @abstractmethod
    def batch(self, n: int, seed: int, split: str = "train") -> dict[str, torch.Tensor]: ...

    def clip_encoder(self, data: Any, storage: torch.dtype = torch.float16) -> Any:
        """A :class:`~vdmbench.training_data.cache.ClipEncoder` of this model for clips of
        ``data`` (a :class:`~vdmbench.training_data.spec.TrainingDataSpec`); models that train
        on no videos raise :class:`UnsupportedError`."""
        raise UnsupportedError(f"model '{self.name}' does not encode videos for training")

    def draw(self, n: int, seed: int) -> list[int]:
        """Indices of ``n`` attached clips drawn (with replacement) by ``seed``."""
        g = torch.Generator().manual_seed(seed)
        return torch.randint(0, len(self.train_data), (n,), generator=g).tolist()

    def cached_batch(self, n: int, seed: int) -> dict[str, torch.Tensor]:
        """``n`` attached clips drawn by ``seed``: every cached field, floats as float32, on
        ``device`` (``{"x0": (B, F, C, h, w), …}``)."""
        out = self.train_data.get(self.draw(n, seed))
        return {k: (v.float() if v.is_floating_point() else v).to(self.device)
                for k, v in out.items()}

    @abstractmethod
    def encode_inputs(self, x_noisy: torch.Tensor, sigma: torch.Tensor,
                      batch: dict[str, torch.Tensor]) -> dict[str, Any]: ...

    @abstractmethod
    def precondition(self, x_noisy: torch.Tensor, sigma: torch.Tensor, raw: torch.Tensor
                     ) -> torch.Tensor: ...

    def timestep(self, sigma: torch.Tensor) -> torch.Tensor:
        """The UNet's timestep input for σ (EDM's c_noise = ¼·ln σ unless overridden)."""
        return 0.25 * sigma.log()

    def to_video(self, x0: torch.Tensor) -> torch.Tensor | None:
        """uint8 (B, F, H, W, 3) frames of ``x0``, or None when ``x0`` is not pixels."""
        return None

    def denoise(self, unet: nn.Module, x_noisy: torch.Tensor, sigma: torch.Tensor,
                batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """``D(x; σ)``: (B, F, C, H, W); ``sigma`` (B,)."""
        raw = unet(**self.encode_inputs(x_noisy, sigma, batch), return_dict=False)[0]
        return self.precondition(x_noisy, sigma, raw)

    def train_sigmas(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """σ ~ log-normal(P_mean, P_std): (n,)."""
        z = torch.randn(n, generator=generator)
        return (self.p_mean + self.p_std * z).exp()

    def loss_weight(self, sigma: torch.Tensor) -> torch.Tensor:
        """λ(σ) of the model's denoising objective (EDM with ``sigma_data``)."""
        return edm_loss_weight(sigma, self.sigma_data)

    def noise(self, batch: dict[str, torch.Tensor], seed: int) -> torch.Tensor:
        g = torch.Generator().manual_seed(seed)
        return torch.randn(batch["x0"].shape, generator=g).to(batch["x0"])

    @torch.no_grad()
    def sample(self, unet: nn.Module, batch: dict[str, torch.Tensor], seed: int,
               steps: int | None = None) -> torch.Tensor:
        """Euler sampling (Karras σ's, float64 schedule) from seeded noise; x0 (B, F, C, H, W)."""
        sig = karras_sigmas(steps or self.default_steps, self.sigma_min, self.sigma_max,
                            dtype=torch.float64)
        x = self.noise(batch, seed) * float(sig[0])
        b = x.shape[0]
        for k in range(len(sig) - 1):
            s = torch.full((b,), float(sig[k]), dtype=x.dtype, device=x.device)
            x = euler_step(x, self.denoise(unet, x, s, batch), float(sig[k]), float(sig[k + 1]))
        return x


P = TypeVar("P")


@contextlib.contextmanager
def unet_swapped(pipe: P, unet: nn.Module) -> Iterator[P]:
    """``pipe`` (anything with a ``unet`` attribute) with ``pipe.unet`` replaced by ``unet``
    inside the block, restored after it — to run a pipeline's own sampler with a student."""
    old = pipe.unet  # type: ignore[attr-defined]
    pipe.unet = unet  # type: ignore[attr-defined]
    try:
        yield pipe
    finally:
        pipe.unet = old  # type: ignore[attr-defined]


def broadcast(v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """``v`` (B,) reshaped to broadcast against ``like`` (B, …), in ``like``'s dtype/device."""
    return v.reshape(-1, *([1] * (like.ndim - 1))).to(like)
