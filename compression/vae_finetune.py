"""Fine-tuning a pruned VAE decoder against its teacher (:func:`finetune_decoder`).

L1 to the teacher's decoded frames on the same latents, plus a patch-discriminator hinge loss
(teacher frames real, student frames fake) and an optional perceptual distance (LPIPS-VGG,
:func:`load_lpips_vgg`, from a local weights file). When the latents come with the real frames
they encode (a video dataset's clips), an L1 reconstruction of those frames is added and the
discriminator takes the real frames as real.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch import nn

from vdmbench.errors import ConfigError, WeightsNotFoundError
from vdmbench.models.pruned_vae import decode


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
                     progress: Callable[[dict[str, float]], None] | None = None,
                     real_weight: float = 1.0) -> FinetuneResult:
    """Distil ``student_vae``'s decoder from ``teacher_vae``'s (in place; only decoder parameters
    are trained). Each item of ``latents_iter`` is a latent batch (B·F, C, h, w) with
    ``F = num_frames``, or a pair (latents, real frames (B·F, 3, H, W) in [-1, 1]).

    Per step: ``rec = mean|D_s(z) − D_t(z)|`` (L1 on frames in [-1, 1]);
    ``L_G = rec + real_weight·mean|D_s(z) − x| + adv_weight·(−mean PD(D_s(z)))
    + perceptual_weight·perceptual(D_s(z), x or D_t(z))`` (the ``x`` terms with real frames);
    the patch discriminator ``PD`` gets the hinge loss with the real frames (else the teacher's)
    real and student frames fake (skipped when ``adv_weight`` is 0). Seeded (``seed``); runs on
    the student's device.
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
            item = next(it)
        except StopIteration:
            raise ConfigError(f"latents_iter ran out after {step} of {steps} steps") from None
        z, real = item if isinstance(item, (tuple, list)) else (item, None)
        z = z.to(dev, dtype=torch.float32)
        with torch.no_grad():
            target = decode(teacher_vae, z, num_frames).float()
        out = decode(student_vae, z, num_frames)
        rec = (out - target).abs().mean()
        loss = rec
        row = {"step": float(step + 1), "rec": rec.item()}
        if real is not None:
            real = real.to(dev, dtype=torch.float32)
            rec_real = (out - real).abs().mean()
            loss = loss + real_weight * rec_real
            row["rec_real"] = rec_real.item()
            target = real  # the perceptual distance and the discriminator see real frames
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
