"""VAE decoder pruning for latent I2V models (SVD / SF-V's ``AutoencoderKLTemporalDecoder``).

Three cuts, applied to the decoder only (the encoder is kept as it is):

1. the decoder's mid block (two spatio-temporal ResBlocks + single-head attention) becomes a
   parameter-free identity (:class:`IdentityDecoderMidBlock`);
2. up blocks keep only their first ``k`` resnets (default: the last, full-resolution up block keeps
   1 of its ``layers_per_block + 1``);
3. channels are pruned with Torch-Pruning's DepGraph (``tp.pruner.MetaPruner``, group L2 magnitude
   importance, local ratio). Torch-Pruning treats a ``GroupNorm`` with ``G`` groups as ``G`` channel
   groups and removes the same number of channels from each, so every norm keeps ``G`` groups of
   equal size (``round_to`` is therefore not used: it would fight that grouping). ``conv_out`` and
   ``time_conv_out`` (3 RGB channels) are never pruned. A kept mid block's attention keeps its
   inner (q/k/v) width, because diffusers' attention processor derives the head size from ``k``.

Save format (``save_pruned_vae`` / ``PrunedAutoencoderKLTemporalDecoder.save_pretrained``)::

    vae/config.json                        the original diffusers config, _class_name
                                           "PrunedAutoencoderKLTemporalDecoder", plus a
                                           "vdmbench_pruned" section (see below)
    vae/diffusion_pytorch_model.safetensors   the pruned state dict

``vdmbench_pruned``: ``format`` ("vdmbench-pruned-vae-1"), ``identity`` (module names replaced by
identities), ``up_block_layers`` ({up block index: resnets kept}), ``modules`` ({name: {"type",
channel counts}} for every Conv/GroupNorm/Linear whose width changed), ``attributes`` ({name:
{attr: int}} for diffusers blocks that store their widths, e.g. ``Upsample2D.channels``),
``channel_ratio`` and parameter counts. :func:`load_pruned_vae` builds the original architecture
from the config, applies the section and loads the weights strictly (any missing, unexpected or
mis-shaped key is named in the error).

:func:`finetune_decoder` distils the pruned decoder from the teacher decoder: L1 to the teacher's
decoded frames on the same latents, plus a patch-discriminator hinge loss (teacher frames real,
student frames fake) and an optional perceptual distance.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from diffusers import AutoencoderKLTemporalDecoder
from safetensors.torch import load_file, save_file
from torch import nn

from compression.plan import atomic_write_text
from compression.student import read_component_config
from vdmbench.errors import ConfigError, WeightsNotFoundError

PRUNED_FORMAT = "vdmbench-pruned-vae-1"
CONFIG_KEY = "vdmbench_pruned"
WEIGHTS_NAME = "diffusion_pytorch_model.safetensors"

__all__ = ["IdentityDecoderMidBlock", "PrunedAutoencoderKLTemporalDecoder", "prune_decoder",
           "save_pruned_vae", "load_pruned_vae", "finetune_decoder", "FinetuneResult",
           "PatchDiscriminator", "decoder_params", "decode", "LPIPSVGG", "load_lpips_vgg",
           "PRUNED_FORMAT", "CONFIG_KEY"]


class IdentityDecoderMidBlock(nn.Module):
    """Stands in for a removed ``MidBlockTemporalDecoder``: identity, no parameters."""

    def forward(self, hidden_states: torch.Tensor, image_only_indicator: Any = None
                ) -> torch.Tensor:
        return hidden_states


class PrunedAutoencoderKLTemporalDecoder(AutoencoderKLTemporalDecoder):
    """``AutoencoderKLTemporalDecoder`` with a cut / channel-pruned decoder.

    ``forward``/``encode``/``decode`` are the parent's; ``decode(z (B·F, C, h, w), num_frames)``
    → (B·F, 3, 8h, 8w) for SVD's 4-level VAE. ``save_pretrained`` and ``from_pretrained`` use the
    pruned format of this module (so diffusers' pipelines and the ``svd`` adapter load it when
    ``compression.json`` names this class under ``classes.vae``).
    """

    pruned_spec: dict[str, Any]

    def save_pretrained(self, save_directory: str | os.PathLike[str], *args: Any,
                        **kwargs: Any) -> None:  # type: ignore[override]
        save_pruned_vae(self, save_directory)

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | os.PathLike[str],
                        *args: Any, **kwargs: Any) -> PrunedAutoencoderKLTemporalDecoder:  # type: ignore[override]
        """Load with :func:`load_pruned_vae`; accepts ``torch_dtype`` and ignores diffusers'
        hub keywords (``local_files_only``, ``use_safetensors``, ``variant`` must be None)."""
        if kwargs.get("variant"):
            raise WeightsNotFoundError(f"pruned VAE at {pretrained_model_name_or_path}: weight "
                                       f"variants are not supported (variant="
                                       f"{kwargs['variant']!r}); it has only {WEIGHTS_NAME}")
        return load_pruned_vae(pretrained_model_name_or_path, torch_dtype=kwargs.get("torch_dtype"))


# ------------------------------------------------------------------------------------ helpers


def decoder_params(vae: nn.Module) -> int:
    """Number of decoder parameters (``vae.decoder``)."""
    return int(sum(p.numel() for p in vae.decoder.parameters()))


def decode(vae: nn.Module, latents: torch.Tensor, num_frames: int) -> torch.Tensor:
    """``vae.decode`` of (B·F, C, h, w) latents (already divided by the scaling factor) →
    (B·F, 3, H, W) frames in [-1, 1] (unclamped)."""
    return vae.decode(latents, num_frames=num_frames).sample


def _set_submodule(root: nn.Module, name: str, module: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    parent = root.get_submodule(parent_name) if parent_name else root
    parent._modules[child] = module  # noqa: SLF001 (ModuleList and attributes alike)


def _widths(m: nn.Module) -> dict[str, int] | None:
    """The constructor widths of a prunable leaf module (None for other modules)."""
    if isinstance(m, nn.modules.conv._ConvNd):  # noqa: SLF001
        return {"in_channels": m.in_channels, "out_channels": m.out_channels}
    if isinstance(m, nn.GroupNorm):
        return {"num_channels": m.num_channels}
    if isinstance(m, nn.Linear):
        return {"in_features": m.in_features, "out_features": m.out_features}
    return None


def _rebuilt(m: nn.Module, widths: Mapping[str, int], name: str) -> nn.Module:
    """A freshly initialised module like ``m`` with the given widths."""
    if isinstance(m, nn.modules.conv._ConvNd) and not m.transposed:  # noqa: SLF001
        return type(m)(int(widths["in_channels"]), int(widths["out_channels"]), m.kernel_size,
                       stride=m.stride, padding=m.padding, dilation=m.dilation, groups=m.groups,
                       bias=m.bias is not None, padding_mode=m.padding_mode)
    if isinstance(m, nn.GroupNorm):
        return nn.GroupNorm(m.num_groups, int(widths["num_channels"]), eps=m.eps, affine=m.affine)
    if isinstance(m, nn.Linear):
        return nn.Linear(int(widths["in_features"]), int(widths["out_features"]),
                         bias=m.bias is not None)
    raise ConfigError(f"pruned VAE: cannot rebuild module '{name}' of type {type(m).__name__}",
                      field=f"{CONFIG_KEY}.modules.{name}")


#: diffusers blocks that store their widths as attributes: attribute → (child module, its width)
_WIDTH_ATTRS: dict[str, dict[str, tuple[str, str]]] = {
    "Upsample2D": {"channels": ("conv", "in_channels"), "out_channels": ("conv", "out_channels")},
    "ResnetBlock2D": {"in_channels": ("conv1", "in_channels"),
                      "out_channels": ("conv2", "out_channels")},
    "TemporalResnetBlock": {"in_channels": ("conv1", "in_channels"),
                            "out_channels": ("conv2", "out_channels")},
}


def _sync_width_attrs(decoder: nn.Module) -> None:
    """Make the width attributes of diffusers blocks agree with their (pruned) convolutions."""
    for m in decoder.modules():
        spec = _WIDTH_ATTRS.get(type(m).__name__)
        if not spec:
            continue
        for attr, (child, width) in spec.items():
            sub = getattr(m, child, None)
            if sub is not None and hasattr(m, attr):
                setattr(m, attr, int(getattr(sub, width)))


class _DecoderForTracing(nn.Module):
    """``decoder(z, image_only_indicator, num_frames)`` with a fixed frame count (for DepGraph)."""

    def __init__(self, decoder: nn.Module, num_frames: int) -> None:
        super().__init__()
        self.decoder = decoder
        self.num_frames = num_frames

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        ind = torch.zeros(z.shape[0] // self.num_frames, self.num_frames, dtype=z.dtype,
                          device=z.device)
        return self.decoder(z, image_only_indicator=ind, num_frames=self.num_frames)


def _apply_cuts(vae: nn.Module, drop_mid_block: bool, up_block_layers: Mapping[int, int]
                ) -> list[str]:
    """Replace the mid block by an identity and truncate up blocks; returns the identity names."""
    dec = vae.decoder
    identity: list[str] = []
    if drop_mid_block:
        dec.mid_block = IdentityDecoderMidBlock()
        identity.append("decoder.mid_block")
    n_up = len(dec.up_blocks)
    for idx, keep in up_block_layers.items():
        i = int(idx)
        if not 0 <= i < n_up:
            raise ConfigError(f"up block {i} does not exist (the decoder has {n_up})",
                              field=f"{CONFIG_KEY}.up_block_layers")
        have = len(dec.up_blocks[i].resnets)
        if not 1 <= int(keep) <= have:
            raise ConfigError(f"up block {i}: cannot keep {keep} of its {have} resnets "
                              f"(1 … {have})", field=f"{CONFIG_KEY}.up_block_layers")
        dec.up_blocks[i].resnets = nn.ModuleList(list(dec.up_blocks[i].resnets)[:int(keep)])
    return identity


# ------------------------------------------------------------------------------------ pruning


def prune_decoder(vae: AutoencoderKLTemporalDecoder, *, drop_mid_block: bool = True,
                  up_block_layers: Mapping[int, int] | None = None, channel_ratio: float = 0.75,
                  example_latents: torch.Tensor | None = None, num_frames: int = 2
                  ) -> PrunedAutoencoderKLTemporalDecoder:
    """A pruned copy of ``vae`` (``vae`` itself is not modified).

    ``up_block_layers``: {up block index: resnets kept}; None = the last up block keeps 1
    (``{}`` keeps every resnet). ``channel_ratio``: fraction of decoder channels *kept* per
    dependency group (0.75: SVD's (128, 256, 512, 512) → (96, 192, 384, 384)); 1 = no channel
    pruning. Groups too small to prune at that ratio with their GroupNorm grouping stay whole.
    ``example_latents``: (B·F, latent_channels, h, w) for tracing (default: seeded N(0, 1),
    ``num_frames`` × 8 × 8); ``num_frames`` must divide its first dimension.
    """
    import torch_pruning as tp

    if not 0.0 < channel_ratio <= 1.0:
        raise ConfigError(f"channel_ratio must be in (0, 1] (fraction of channels kept), got "
                          f"{channel_ratio}", field="vae.channel_ratio")
    n_up = len(vae.decoder.up_blocks)
    ubl = {n_up - 1: 1} if up_block_layers is None else {int(k): int(v)
                                                         for k, v in up_block_layers.items()}
    student = PrunedAutoencoderKLTemporalDecoder.from_config(vae.config)
    student.load_state_dict(vae.state_dict())
    nn.Module.to(student, dtype=torch.float32).eval()
    original = {n: _widths(m) for n, m in student.named_modules()}
    before = decoder_params(student)
    identity = _apply_cuts(student, drop_mid_block, ubl)
    dec = student.decoder

    if channel_ratio < 1.0:
        if example_latents is None:
            g = torch.Generator().manual_seed(0)
            example_latents = torch.randn(num_frames, int(vae.config.latent_channels), 8, 8,
                                          generator=g)
        if example_latents.ndim != 4 or example_latents.shape[0] % num_frames:
            raise ConfigError(f"example_latents must be (B·F, C, h, w) with F={num_frames} "
                              f"dividing B·F, got {tuple(example_latents.shape)}")
        traced = _DecoderForTracing(dec, num_frames)
        ignored: list[nn.Module] = [dec.conv_out, dec.time_conv_out]
        if not drop_mid_block:
            for attn in dec.mid_block.attentions:  # keep q/k/v/out inner widths (see module doc)
                ignored += [attn.to_q, attn.to_k, attn.to_v]
        with warnings.catch_warnings():
            # AlphaBlender's scalar mix_factor is an "unwrapped" (1,) parameter: nothing to prune
            warnings.filterwarnings("ignore", message=".*[Uu]nwrapped parameters.*")
            pruner = tp.pruner.MetaPruner(
                traced, example_latents.float(),
                importance=tp.importance.GroupMagnitudeImportance(p=2),
                pruning_ratio=1.0 - channel_ratio, ignored_layers=ignored, round_to=None,
                global_pruning=False)
            pruner.step()
        _sync_width_attrs(dec)

    modules: dict[str, dict[str, Any]] = {}
    for name, m in student.named_modules():
        w = _widths(m)
        if w is not None and original.get(name) is not None and w != original[name]:
            modules[name] = {"type": type(m).__name__, **w}
    attributes: dict[str, dict[str, int]] = {}
    for name, m in student.named_modules():
        spec = _WIDTH_ATTRS.get(type(m).__name__, {})
        changed = {a: int(getattr(m, a)) for a, (child, _) in spec.items()
                   if hasattr(m, a) and f"{name}.{child}" in modules}
        if changed:
            attributes[name] = changed
    student.pruned_spec = {
        "format": PRUNED_FORMAT,
        "identity": identity,
        "up_block_layers": {str(k): v for k, v in sorted(ubl.items())},
        "channel_ratio": channel_ratio,
        "modules": modules,
        "attributes": attributes,
        "decoder_params_before": before,
        "decoder_params_after": decoder_params(student),
    }
    return student


# -------------------------------------------------------------------------------- save / load


def save_pruned_vae(vae: PrunedAutoencoderKLTemporalDecoder, path: str | os.PathLike[str]
                    ) -> Path:
    """Write ``path/config.json`` (diffusers config + ``vdmbench_pruned``) and the safetensors
    state dict; returns ``path``."""
    spec = getattr(vae, "pruned_spec", None)
    if not spec:
        raise ConfigError("save_pruned_vae: this VAE was not made by prune_decoder / "
                          "load_pruned_vae (no pruned_spec)")
    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    cfg = {k: v for k, v in dict(vae.config).items() if not k.startswith("_")}
    cfg = {"_class_name": PrunedAutoencoderKLTemporalDecoder.__name__,
           "_diffusers_version": dict(vae.config).get("_diffusers_version", ""), **cfg,
           CONFIG_KEY: spec}
    state = {k: v.detach().contiguous().cpu() for k, v in vae.state_dict().items()}
    tmp = out / f".{WEIGHTS_NAME}.tmp"
    save_file(state, str(tmp), metadata={"format": "pt"})
    os.replace(tmp, out / WEIGHTS_NAME)
    atomic_write_text(out / "config.json", json.dumps(cfg, indent=2, sort_keys=False) + "\n")
    return out


def _spec_error(cfg_file: Path, msg: str, key: str) -> ConfigError:
    return ConfigError(msg, file=str(cfg_file), field=f"{CONFIG_KEY}.{key}" if key else CONFIG_KEY)


def load_pruned_vae(path: str | os.PathLike[str], torch_dtype: torch.dtype | None = None,
                    device: str | torch.device = "cpu") -> PrunedAutoencoderKLTemporalDecoder:
    """Rebuild a pruned VAE from ``path`` (its ``vae/`` folder or a folder containing one) and load
    its weights strictly. Errors name the file and every mismatched key."""
    p, cfg = read_component_config(
        path, "vae", "pruned VAE", "the vae/ folder written by save_pruned_vae / vdmbench compress")
    cfg_file = p / "config.json"
    if not isinstance(cfg, dict) or not isinstance(cfg.get(CONFIG_KEY), dict):
        raise _spec_error(cfg_file, f"no '{CONFIG_KEY}' section: not a pruned VAE (load a plain "
                          f"one with AutoencoderKLTemporalDecoder.from_pretrained)", "")
    spec = cfg[CONFIG_KEY]
    if spec.get("format") != PRUNED_FORMAT:
        raise _spec_error(cfg_file, f"unsupported format {spec.get('format')!r} (this version "
                          f"reads {PRUNED_FORMAT!r})", "format")
    wfile = p / WEIGHTS_NAME
    if not wfile.is_file():
        raise WeightsNotFoundError(f"pruned VAE: {wfile} not found (its config is there); put "
                                   f"the safetensors file written by save_pruned_vae there")
    base_cfg = {k: v for k, v in cfg.items() if k != CONFIG_KEY and not k.startswith("_")}
    try:
        vae = PrunedAutoencoderKLTemporalDecoder.from_config(base_cfg)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"cannot build the base VAE: {e}", file=str(cfg_file)) from None
    identity = spec.get("identity", [])
    unknown = [n for n in identity if n != "decoder.mid_block"]
    if unknown:
        raise _spec_error(cfg_file, f"only decoder.mid_block can be an identity, got {unknown}",
                          "identity")
    try:
        ubl = {int(k): int(v) for k, v in spec.get("up_block_layers", {}).items()}
    except (TypeError, ValueError, AttributeError):
        raise _spec_error(cfg_file, "must map up block indices to resnet counts",
                          "up_block_layers") from None
    try:
        _apply_cuts(vae, "decoder.mid_block" in identity, ubl)
    except ConfigError as e:
        raise ConfigError(str(e), file=str(cfg_file), field=e.field) from None
    for name, w in spec.get("modules", {}).items():
        try:
            old = vae.get_submodule(name)
        except AttributeError:
            raise _spec_error(cfg_file, f"module '{name}' does not exist in the architecture",
                              f"modules.{name}") from None
        if type(old).__name__ != w.get("type"):
            raise _spec_error(cfg_file, f"module '{name}' is a {type(old).__name__}, the file says "
                              f"{w.get('type')}", f"modules.{name}")
        _set_submodule(vae, name, _rebuilt(old, w, name))
    for name, attrs in spec.get("attributes", {}).items():
        m = vae.get_submodule(name)
        for a, v in attrs.items():
            if not hasattr(m, a):
                raise _spec_error(cfg_file, f"'{name}' has no attribute '{a}'",
                                  f"attributes.{name}")
            setattr(m, a, int(v))
    state = load_file(str(wfile))
    own = vae.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    shapes = sorted(k for k in set(own) & set(state) if own[k].shape != state[k].shape)
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"missing {missing[:8]}")
        if unexpected:
            parts.append(f"unexpected {unexpected[:8]}")
        if shapes:
            parts.append("shape mismatch " + ", ".join(
                f"{k}: file {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
                for k in shapes[:8]))
        raise ConfigError(f"weights do not match the pruned architecture: {'; '.join(parts)}",
                          file=str(wfile))
    vae.load_state_dict(state, strict=True)
    vae.pruned_spec = spec
    nn.Module.to(vae, device=device, dtype=torch_dtype)
    return vae.eval()


# ---------------------------------------------------------------------------------- fine-tune


class PatchDiscriminator(nn.Module):
    """PatchGAN-style frame discriminator: (N, 3, H, W) in [-1, 1] → (N, 1, H/4, W/4) logits."""

    def __init__(self, channels: int = 32) -> None:
        super().__init__()
        c = channels
        self.net = nn.Sequential(
            nn.Conv2d(3, c, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(c, 2 * c, 4, 2, 1), nn.GroupNorm(min(8, 2 * c), 2 * c), nn.LeakyReLU(0.2),
            nn.Conv2d(2 * c, 1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


@dataclass
class FinetuneResult:
    """``log``: one dict per step (step, loss, rec, adv_g, adv_d, perceptual)."""

    steps: int
    log: list[dict[str, float]] = field(default_factory=list)


def finetune_decoder(teacher_vae: nn.Module, student_vae: nn.Module,
                     latents_iter: Iterable[torch.Tensor], steps: int, lr: float,
                     adv_weight: float,
                     perceptual: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
                     *, perceptual_weight: float = 1.0, num_frames: int = 2,
                     disc_lr: float | None = None, disc_channels: int = 32,
                     grad_clip: float | None = 1.0, seed: int = 0,
                     progress: Callable[[dict[str, float]], None] | None = None
                     ) -> FinetuneResult:
    """Distil ``student_vae``'s decoder from ``teacher_vae``'s (in place; only decoder parameters
    are trained). Each latent batch is (B·F, C, h, w) with ``F = num_frames``.

    Per step: ``rec = mean|D_s(z) − D_t(z)|`` (L1 on frames in [-1, 1]);
    ``L_G = rec + adv_weight·(−mean PD(D_s(z))) + perceptual_weight·perceptual(D_s(z), D_t(z))``;
    the patch discriminator ``PD`` gets the hinge loss with teacher frames real and student frames
    fake (skipped when ``adv_weight`` is 0). Seeded (``seed``); runs on the student's device.
    """
    if steps < 0:
        raise ConfigError(f"finetune steps must be ≥ 0, got {steps}", field="vae.finetune_steps")
    dev = next(student_vae.parameters()).device
    teacher_vae.eval().requires_grad_(False)
    student_vae.requires_grad_(False)
    student_vae.decoder.requires_grad_(True)
    student_vae.train()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        disc = PatchDiscriminator(disc_channels).to(dev)
    opt_g = torch.optim.Adam([p for p in student_vae.decoder.parameters()], lr=lr,
                             betas=(0.5, 0.9))
    opt_d = torch.optim.Adam(disc.parameters(), lr=disc_lr or lr, betas=(0.5, 0.9))
    res = FinetuneResult(steps=0)
    it = iter(latents_iter)
    for step in range(steps):
        try:
            z = next(it).to(dev, dtype=torch.float32)
        except StopIteration:
            raise ConfigError(f"latents_iter ran out after {step} of {steps} steps") from None
        with torch.no_grad():
            target = decode(teacher_vae, z, num_frames).float()
        out = decode(student_vae, z, num_frames)
        rec = (out - target).abs().mean()
        loss = rec
        row = {"step": float(step + 1), "rec": rec.item()}
        if adv_weight > 0:
            adv_g = -disc(out).mean()
            loss = loss + adv_weight * adv_g
            row["adv_g"] = adv_g.item()
        if perceptual is not None and perceptual_weight > 0:
            per = perceptual(out, target)
            loss = loss + perceptual_weight * per
            row["perceptual"] = per.item()
        opt_g.zero_grad(set_to_none=True)
        loss.backward()
        if grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(student_vae.decoder.parameters(), grad_clip)
        opt_g.step()
        if adv_weight > 0:
            d_loss = (F.relu(1.0 - disc(target)).mean()
                      + F.relu(1.0 + disc(out.detach())).mean())
            opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            opt_d.step()
            row["adv_d"] = d_loss.item()
        row["loss"] = loss.item()
        if not math.isfinite(row["loss"]):
            raise FloatingPointError(f"VAE fine-tune: non-finite loss at step {step + 1}")
        res.log.append(row)
        res.steps = step + 1
        if progress is not None:
            progress(row)
    student_vae.eval().requires_grad_(False)
    return res


# --------------------------------------------------------------------------------- perceptual

#: VGG16 ``features`` conv indices (torchvision numbering) and the LPIPS taps (after these ReLUs)
_VGG16_CFG: tuple[int | str, ...] = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M",
                                     512, 512, 512, "M", 512, 512, 512)
_LPIPS_TAPS = (3, 8, 15, 22, 29)
_LPIPS_SHIFT = (-0.030, -0.088, -0.188)
_LPIPS_SCALE = (0.458, 0.448, 0.450)


class _LinHead(nn.Module):
    """LPIPS linear head: ``model`` = (Dropout, 1×1 conv C → 1 without bias)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.model = nn.Sequential(nn.Dropout(0.0), nn.Conv2d(channels, 1, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class LPIPSVGG(nn.Module):
    """LPIPS distance with a VGG16 trunk: ``forward(x, y)`` on (N, 3, H, W) in [-1, 1] → mean
    distance (scalar). State-dict keys: ``features.{i}.weight|bias`` (torchvision's VGG16 names)
    and ``lin{k}.model.1.weight`` (the LPIPS package's linear heads, (1, C_k, 1, 1))."""

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in = 3
        for v in _VGG16_CFG:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(c_in, int(v), 3, padding=1), nn.ReLU(inplace=False)]
                c_in = int(v)
        self.features = nn.Sequential(*layers)
        for k, c in enumerate((64, 128, 256, 512, 512)):
            self.add_module(f"lin{k}", _LinHead(c))
        self.register_buffer("shift", torch.tensor(_LPIPS_SHIFT).view(1, 3, 1, 1),
                             persistent=False)
        self.register_buffer("scale", torch.tensor(_LPIPS_SCALE).view(1, 3, 1, 1),
                             persistent=False)

    def _taps(self, x: torch.Tensor) -> list[torch.Tensor]:
        out = []
        h = (x - self.shift) / self.scale
        for i, layer in enumerate(self.features):
            h = layer(h)
            if i in _LPIPS_TAPS:
                out.append(h / (h.pow(2).sum(dim=1, keepdim=True).sqrt() + 1e-10))
            if i == _LPIPS_TAPS[-1]:
                break
        return out

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        d = x.new_zeros(())
        for k, (fx, fy) in enumerate(zip(self._taps(x), self._taps(y), strict=True)):
            d = d + getattr(self, f"lin{k}")((fx - fy).pow(2)).mean()
        return d


def load_lpips_vgg(path: str | os.PathLike[str]) -> LPIPSVGG:
    """An :class:`LPIPSVGG` (frozen, eval) from one safetensors file holding torchvision's VGG16
    ``features.*`` weights and the LPIPS ``lin{k}.model.1.weight`` heads (merge the two state dicts
    and save them with ``safetensors.torch.save_file``). Loaded strictly; nothing is downloaded."""
    from vdmbench.paths import expand_path

    p = expand_path(path, "vae.perceptual_weights")
    if not p.is_file():
        raise WeightsNotFoundError(
            f"perceptual network not found at {p}; put a safetensors file there with VGG16 "
            f"'features.*' (torchvision names) and LPIPS 'lin0..lin4.model.1.weight' tensors, or "
            f"set vae.perceptual: 0")
    net = LPIPSVGG()
    state = load_file(str(p))
    own = net.state_dict()
    # the trunk stops at the last LPIPS tap: VGG16's classifier / later keys are ignored
    state = {k: v for k, v in state.items() if k in own or not k.startswith("features.")}
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    shapes = sorted(k for k in set(own) & set(state) if own[k].shape != state[k].shape)
    if missing or unexpected or shapes:
        raise ConfigError(f"perceptual weights do not match LPIPS-VGG16: missing {missing[:6]}, "
                          f"unexpected {unexpected[:6]}, mis-shaped {shapes[:6]}", file=str(p))
    net.load_state_dict(state, strict=True)
    return net.eval().requires_grad_(False)
