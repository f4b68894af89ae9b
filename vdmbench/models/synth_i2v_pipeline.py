"""The synthetic world's tiny image-to-video model: SVD's UNet in pixel space, EDM sampling.

This module holds the model (architecture, sampler settings, pipeline, loading and saving);
:mod:`vdmbench.models.synth_i2v` is its adapter, :mod:`vdmbench.models.synth_i2v_denoiser` what
it hands to training and acceleration.

Architecture (the same classes as Stable Video Diffusion, so pruning, distillation and kernels
written for SVD run on it unchanged):

- ``unet``: diffusers :class:`~diffusers.UNetSpatioTemporalConditionModel` with 4 resolution
  levels (D.0–D.3 / U.0–U.3, SVD's block types), ``layers_per_block=2``, in pixel space:
  input = noisy video (3 channels) concatenated with the conditioning first frame (3 channels,
  repeated over frames) → ``in_channels=6``, ``out_channels=3``.
- ``image_encoder``: :class:`FirstFrameEncoder`, a small CNN mapping the conditioning frame to a
  one-token context ``(B, 1, cross_attention_dim)`` (SVD's CLIP image embedding plays this role).
- SVD's ``added_time_ids`` = (fps id, motion bucket id, noise augmentation strength) are kept;
  the SynthMotion motion class (``request.extra["motion_class"]``) is the motion bucket id, and
  ``null_motion_bucket`` (trained by class dropout) stands for "motion not given".
- EDM preconditioning (σ_data = 0.5): ``D(x; σ) = c_skip·x + c_out·F(c_in·x, c_noise)`` with
  ``c_noise = ln(σ)/4`` as in SVD, and an Euler sampler on a Karras σ schedule.

Pixel values are floats in [-1, 1]; videos are ``(B, T, 3, H, W)`` (diffusers' layout) inside
and canonical uint8 ``(T, H, W, 3)`` :class:`~vdmbench.video.Video` outside.

A model directory holds ``unet/`` and ``image_encoder/`` (diffusers ``save_pretrained``:
``config.json`` + ``diffusion_pytorch_model.safetensors``) and ``sampler.json``. A student
directory (written by ``compression/``) may hold only some of them plus ``compression.json``
whose ``base_weights`` names the directory the others come from (null = the shipped teacher).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn
from diffusers import UNetSpatioTemporalConditionModel
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from safetensors.torch import load_file

from vdmbench.diffusion.edm import edm_loss_weight, edm_scalings, karras_sigmas
from vdmbench.errors import ConfigError, VdmbenchError, WeightsNotFoundError
from vdmbench.models.student_dir import (
    ResolvedModel,
    load_student_unet,
    read_json,
    walk_chain,
)
from vdmbench.paths import expand_path, variant_note
from vdmbench.video import to_unit_float

ADAPTER_NAME = "synth-i2v"
#: the shipped teacher (EMA weights), inside the package
TEACHER_DIR = Path(__file__).resolve().parent.parent / "assets" / "synth_i2v_teacher"
WEIGHTS_FILE = "diffusion_pytorch_model.safetensors"
COMPONENTS = ("unet", "image_encoder")


# ----------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class SamplerConfig:
    """Sampler and conditioning settings (``sampler.json`` of a model directory).

    ``frames``/``height``/``width``: the only video shape the model was trained for.
    σ values are in pixel units of the [-1, 1] range. ``fps_id`` and ``noise_aug_strength`` are
    the first and third ``added_time_ids`` (constant in training); ``null_motion_bucket`` is the
    motion bucket used when a request carries no motion class.
    """

    frames: int = 8
    height: int = 16
    width: int = 16
    steps: int = 8
    sigma_min: float = 0.002
    sigma_max: float = 20.0
    rho: float = 7.0
    sigma_data: float = 0.5
    fps_id: float = 7.0
    noise_aug_strength: float = 0.0
    num_motion_classes: int = 11
    null_motion_bucket: int = 11

    @classmethod
    def from_json(cls, path: Path) -> SamplerConfig:
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise ConfigError(f"cannot read sampler settings: {e}", file=str(path)) from e
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown keys {unknown} (known: {sorted(known)})", file=str(path))
        return cls(**data)

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=2, sort_keys=True) + "\n")


def teacher_unet_config(channels: Sequence[int] = (32, 32, 32, 32),
                        heads: Sequence[int] = (2, 2, 2, 2), cross_attention_dim: int = 32,
                        frames: int = 8) -> dict[str, Any]:
    """The teacher's ``UNetSpatioTemporalConditionModel`` config (SVD block types, 4 levels).

    Channels must be multiples of 32 (the block GroupNorms use 32 groups)."""
    return {
        "sample_size": None, "in_channels": 6, "out_channels": 3,
        "down_block_types": ["CrossAttnDownBlockSpatioTemporal"] * 3 + ["DownBlockSpatioTemporal"],
        "up_block_types": ["UpBlockSpatioTemporal"] + ["CrossAttnUpBlockSpatioTemporal"] * 3,
        "block_out_channels": list(channels), "addition_time_embed_dim": 32,
        "projection_class_embeddings_input_dim": 96, "layers_per_block": 2,
        "cross_attention_dim": cross_attention_dim, "transformer_layers_per_block": 1,
        "num_attention_heads": list(heads), "num_frames": frames,
    }


class FirstFrameEncoder(ModelMixin, ConfigMixin):
    """The conditioning frame (and motion bucket) → a one-token cross-attention context.

    Input: float ``(B, 3, H, W)`` in [-1, 1] and, when ``num_motion_buckets`` > 0, int64
    motion buckets ``(B,)``. Output: ``(B, 1, cross_attention_dim)``. Three stride-2 3×3
    convolutions with SiLU, global average pooling, a linear layer, plus a learned embedding of
    the motion bucket, then a LayerNorm. (The bucket also reaches the UNet through
    ``added_time_ids``, as in SVD; see docs/synthetic_teacher.md for why the context carries it
    too.)
    """

    @register_to_config
    def __init__(self, in_channels: int = 3, channels: tuple[int, ...] = (32, 64, 64),
                 cross_attention_dim: int = 32, num_motion_buckets: int = 0) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_prev = in_channels
        for c in channels:
            layers += [nn.Conv2d(c_prev, c, 3, stride=2, padding=1), nn.SiLU()]
            c_prev = c
        self.convs = nn.Sequential(*layers)
        self.proj = nn.Linear(c_prev, cross_attention_dim)
        self.motion = (nn.Embedding(num_motion_buckets, cross_attention_dim)
                       if num_motion_buckets > 0 else None)
        self.norm = nn.LayerNorm(cross_attention_dim)

    def forward(self, image: torch.Tensor, motion_bucket: torch.Tensor | None = None
                ) -> torch.Tensor:
        h = self.proj(self.convs(image).mean(dim=(2, 3)))
        if self.motion is not None:
            if motion_bucket is None:
                raise VdmbenchError("this image encoder embeds the motion bucket: pass "
                                    "motion_bucket (B,) int64")
            h = h + self.motion(motion_bucket.to(h.device, torch.int64).reshape(-1)).to(h.dtype)
        return self.norm(h).unsqueeze(1)


def count_params(module: nn.Module) -> int:
    return int(sum(p.numel() for p in module.parameters()))


# ----------------------------------------------------------------------------- pipeline


class SynthI2VPipeline:
    """UNet + first-frame encoder + sampler settings; sampling and the EDM training loss.

    Used by the adapter, by ``vdmbench.synth.train`` and by distillation code. All tensors are on
    the device/dtype of ``unet``; noise is drawn on the CPU from the given generators (so a seed
    gives the same noise on every device).
    """

    def __init__(self, unet: nn.Module, image_encoder: nn.Module, sampler: SamplerConfig) -> None:
        self.unet = unet
        self.image_encoder = image_encoder
        self.sampler = sampler

    @property
    def device(self) -> torch.device:
        return next(self.unet.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return next(self.unet.parameters()).dtype

    # -- conditioning ------------------------------------------------------------------------

    def prepare_images(self, images: torch.Tensor) -> torch.Tensor:
        """Conditioning frames → float ``(B, 3, H, W)`` in [-1, 1] on the model's device.

        ``images``: uint8 ``(B, H, W, 3)`` (canonical) or float ``(B, 3, H, W)`` in [-1, 1]."""
        if images.dtype == torch.uint8:
            if images.ndim != 4 or images.shape[-1] != 3:
                raise VdmbenchError(f"conditioning images: expected uint8 (B, H, W, 3), "
                                    f"got {tuple(images.shape)}")
            images = to_unit_float(images).permute(0, 3, 1, 2)
        elif images.ndim != 4 or images.shape[1] != 3:
            raise VdmbenchError(f"conditioning images: expected float (B, 3, H, W), "
                                f"got {tuple(images.shape)}")
        return images.to(self.device, self.dtype).contiguous()

    def encode(self, cond: torch.Tensor,
               motion_classes: Sequence[int] | torch.Tensor | None = None) -> torch.Tensor:
        """Prepared frames ``(B, 3, H, W)`` (and B motion buckets, used when the encoder
        embeds them) → context ``(B, 1, cross_attention_dim)``."""
        enc = self.image_encoder
        p = next(enc.parameters())
        bucket = None
        if getattr(enc, "motion", None) is not None:
            if motion_classes is None:
                raise VdmbenchError("encode: this teacher's context embeds the motion bucket; "
                                    "pass motion_classes")
            bucket = torch.as_tensor(motion_classes, dtype=torch.int64).reshape(-1).to(p.device)
        return enc(cond.to(p.device, p.dtype), bucket).to(self.dtype)

    def added_time_ids(self, motion_classes: Sequence[int] | torch.Tensor) -> torch.Tensor:
        """``(B, 3)`` = (fps id, motion bucket id, noise augmentation strength) per sample."""
        m = torch.as_tensor(motion_classes, dtype=torch.float32).reshape(-1)
        s = self.sampler
        ids = torch.stack([torch.full_like(m, s.fps_id), m,
                           torch.full_like(m, s.noise_aug_strength)], dim=1)
        return ids.to(self.device, self.dtype)

    # -- one denoiser evaluation -------------------------------------------------------------

    def denoise(self, x: torch.Tensor, sigma: torch.Tensor, cond: torch.Tensor,
                context: torch.Tensor, time_ids: torch.Tensor) -> torch.Tensor:
        """EDM denoiser ``D(x; σ)``: noisy videos ``x`` ``(B, T, 3, H, W)``, σ ``(B,)`` (or a
        scalar tensor), conditioning frames ``(B, 3, H, W)``, context ``(B, 1, D)``,
        time ids ``(B, 3)`` → denoised videos ``(B, T, 3, H, W)`` (one UNet evaluation)."""
        b, t = x.shape[:2]
        sigma = sigma.to(x.device, torch.float32).reshape(-1).expand(b)
        c_skip, c_out, c_in, c_noise = edm_scalings(sigma, self.sampler.sigma_data)
        bc = (-1, 1, 1, 1, 1)
        cond_frames = cond.unsqueeze(1).expand(b, t, *cond.shape[1:])
        inp = torch.cat([(c_in.view(bc) * x.float()).to(x.dtype), cond_frames], dim=2)
        out = self.unet(inp, c_noise.to(x.dtype), encoder_hidden_states=context,
                        added_time_ids=time_ids, return_dict=False)[0]
        return (c_skip.view(bc) * x.float() + c_out.view(bc) * out.float()).to(x.dtype)

    # -- sampling ----------------------------------------------------------------------------

    def sigmas(self, steps: int | None = None) -> torch.Tensor:
        s = self.sampler
        return karras_sigmas(steps or s.steps, s.sigma_min, s.sigma_max, s.rho)

    def initial_noise(self, batch: int, num_frames: int, height: int, width: int,
                      generators: Sequence[torch.Generator] | None) -> torch.Tensor:
        """Unit Gaussian noise ``(B, T, 3, H, W)`` drawn on the CPU, one generator per sample."""
        shape = (num_frames, 3, height, width)
        if generators is None:
            return torch.randn(batch, *shape)
        if len(generators) != batch:
            raise VdmbenchError(f"need one generator per sample: {len(generators)} for {batch}")
        return torch.stack([torch.randn(shape, generator=g) for g in generators])

    @torch.no_grad()
    def sample(self, images: torch.Tensor, motion_classes: Sequence[int] | torch.Tensor,
               num_frames: int | None = None, steps: int | None = None,
               generators: Sequence[torch.Generator] | None = None,
               noise: torch.Tensor | None = None) -> torch.Tensor:
        """Generate videos with the Euler sampler on the Karras schedule.

        ``images``: uint8 ``(B, H, W, 3)`` or float ``(B, 3, H, W)`` in [-1, 1];
        ``motion_classes``: B ints (``sampler.null_motion_bucket`` = not given);
        ``num_frames``/``steps`` default to the sampler settings; ``generators``: one CPU
        ``torch.Generator`` per sample (or ``noise``: unit Gaussian ``(B, T, 3, H, W)``).
        Returns float ``(B, T, 3, H, W)`` in about [-1, 1] (not clamped), model dtype.
        """
        cond = self.prepare_images(images)
        b, _, h, w = cond.shape
        t = num_frames or self.sampler.frames
        if noise is None:
            noise = self.initial_noise(b, t, h, w, generators)
        sig = self.sigmas(steps).to(self.device)
        x = (noise.to(self.device, torch.float32) * sig[0]).to(self.dtype)
        context = self.encode(cond, motion_classes)
        ids = self.added_time_ids(motion_classes)
        for i in range(len(sig) - 1):
            denoised = self.denoise(x, sig[i], cond, context, ids)
            d = (x.float() - denoised.float()) / sig[i]
            x = (x.float() + (sig[i + 1] - sig[i]) * d).to(self.dtype)
        return x

    # -- training ----------------------------------------------------------------------------

    def loss(self, videos: torch.Tensor, motion_classes: torch.Tensor, p_mean: float,
             p_std: float, generator: torch.Generator | None = None) -> torch.Tensor:
        """EDM training loss (scalar): ``videos`` float ``(B, T, 3, H, W)`` in [-1, 1] whose
        frame 0 is the conditioning frame; σ ~ logNormal(p_mean, p_std); weight λ(σ)."""
        b = videos.shape[0]
        dev = videos.device
        rnd = torch.randn(b, generator=generator).to(dev)
        sigma = (rnd * p_std + p_mean).exp()
        n = torch.randn(videos.shape, generator=generator).to(dev)
        cond = videos[:, 0]
        noisy = videos + sigma.view(-1, 1, 1, 1, 1) * n
        denoised = self.denoise(noisy, sigma, cond, self.encode(cond, motion_classes),
                                self.added_time_ids(motion_classes))
        per = ((denoised.float() - videos.float()) ** 2).mean(dim=(1, 2, 3, 4))
        return (edm_loss_weight(sigma, self.sampler.sigma_data) * per).mean()


# ----------------------------------------------------------------------------- loading


def _component_files(directory: Path, component: str) -> tuple[Path, Path]:
    return directory / component / "config.json", directory / component / WEIGHTS_FILE


def _load_module(cls: type[ModelMixin], directory: Path, component: str) -> nn.Module:
    """Build ``cls`` from ``<directory>/<component>/config.json`` and load its safetensors
    weights strictly (every key and shape must match)."""
    cfg_path, w_path = _component_files(directory, component)
    hint = (f"Put the {component} (diffusers save_pretrained: config.json + {WEIGHTS_FILE}) "
            f"under {directory / component}")
    for p in (cfg_path, w_path):
        if not p.is_file():
            raise WeightsNotFoundError(f"{component}: file not found at {p}"
                                       f"{variant_note(p)}. {hint}")
    config = read_json(cfg_path, component)
    try:
        module = cls.from_config(config)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{component}: invalid config: {e}", file=str(cfg_path)) from e
    state = load_file(str(w_path))
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as e:
        raise ConfigError(f"{component}: weights do not match config: {e}",
                          file=str(w_path)) from e
    return module.eval().requires_grad_(False)


def resolve_model_dir(weights: str | Path | None) -> ResolvedModel:
    """Follow ``compression.json`` → ``base_weights`` links until every component is found
    (see :func:`vdmbench.models.student_dir.walk_chain`).

    ``weights`` None = the shipped teacher. A relative ``base_weights`` is relative to the
    directory holding that ``compression.json``; null = the shipped teacher."""
    parts = {**{c: c for c in COMPONENTS}, "sampler": "sampler.json"}
    sources, chain, unet_class = walk_chain(
        weights, TEACHER_DIR, ADAPTER_NAME, parts,
        "give a model directory with unet/, image_encoder/ and sampler.json, or a student "
        "directory with compression.json")
    last = chain[-1]
    for comp in COMPONENTS:
        if comp not in sources:
            cfg, _ = _component_files(last, comp)
            raise WeightsNotFoundError(
                f"{comp}: file not found at {cfg} (looked in {', '.join(map(str, chain))}). "
                f"Put the {comp} (config.json + {WEIGHTS_FILE}) there")
    if "sampler" not in sources:
        raise WeightsNotFoundError(
            f"sampler settings: file not found at {last / 'sampler.json'} (looked in "
            f"{', '.join(map(str, chain))})")
    return ResolvedModel(sources, sources["sampler"] / "sampler.json", chain, unet_class)


def load_pipeline(weights: str | Path | None = None, device: str = "cpu",
                  dtype: torch.dtype = torch.float32) -> tuple[SynthI2VPipeline, ResolvedModel]:
    """Load a teacher or student directory (see :func:`resolve_model_dir`) as a pipeline."""
    res = resolve_model_dir(weights)
    if res.unet_class:
        unet = load_student_unet(res.sources["unet"] / "unet", res.unet_class,
                                 res.sources["unet"] / "compression.json")
        unet = unet.eval().requires_grad_(False)
    else:
        unet = _load_module(UNetSpatioTemporalConditionModel, res.sources["unet"], "unet")
    enc = _load_module(FirstFrameEncoder, res.sources["image_encoder"], "image_encoder")
    sampler = SamplerConfig.from_json(res.sampler_file)
    for module in (unet, enc):
        if dtype == torch.float32:  # no dtype argument: diffusers warns on any cast
            module.to(device)
        else:
            module.to(device=device, dtype=dtype)
    return SynthI2VPipeline(unet, enc, sampler), res


def load_teacher_unet(path: str | Path | None = None) -> UNetSpatioTemporalConditionModel:
    """The UNet of a model directory (``None`` = the shipped teacher), float32 on the CPU."""
    directory = TEACHER_DIR if path is None else expand_path(path, "synth-i2v weights")
    return _load_module(UNetSpatioTemporalConditionModel, directory, "unet")


def save_model_dir(directory: str | Path, unet: nn.Module, image_encoder: nn.Module,
                   sampler: SamplerConfig, dtype: torch.dtype = torch.float32) -> Path:
    """Write a complete model directory (unet/, image_encoder/, sampler.json); weights are
    stored in ``dtype`` (loading casts them back to the model's dtype)."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    for name, module in (("unet", unet), ("image_encoder", image_encoder)):
        if dtype != torch.float32:
            module = copy.deepcopy(module).to(dtype)
        module.save_pretrained(out / name, safe_serialization=True)
    sampler.save(out / "sampler.json")
    return out
