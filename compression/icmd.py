"""ICMD losses: Individual Content Distillation (ICD) and Multi-frame Content Adversarial (MCA).

- **ICD**: ``L_ICD = Σ_l mean_frames ‖f_l^s − f_l^t‖²`` where ``f_l`` is the output of tap ``l``
  (default: every down and up block, matched by name, so by resolution level) with frames in the
  batch dimension ``(B·F, C, H, W)``; the per-frame squared L2 is averaged over C·H·W.
- **MCA**: a discriminator on frozen teacher *encoder* features (``conv_in`` and the down blocks,
  one feature map after each down block; :func:`encoder_features` reads them from a diffusers
  ``UNetSpatioTemporalConditionModel`` or a ``VideoCrafter2UNet``) of samples re-noised to
  σ' ~ log-normal. Each level has a
  *spatial* head (2D convs on ``(B·F, C, H, W)``: frames folded into the batch) and a *temporal*
  head (1D convs over frames on ``(B·H·W, C, F)``: space folded into the batch). Hinge loss:
  teacher samples are real, student samples fake; the student's loss is ``−mean D(fake)``.

Video transformers (:mod:`compression.dit_icmd`): ICD taps are the block outputs (student block
↔ the teacher block it was copied from: :class:`FeatureTaps` takes a tap → module map); the MCA
heads read the frozen teacher's early blocks' tokens laid out as ``(B·F', D, H', W')``
(:func:`mca_features`, :func:`mca_channels` dispatch on the teacher).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from diffusers import UNetSpatioTemporalConditionModel
from torch import nn

from compression.dit_icmd import dit_encoder_features, grid_supported, inner_dim, mca_blocks
from compression.dit_units import dit_units
from vdmbench.errors import ConfigError
from vdmbench.models.pruned_dit import is_transformer
from vdmbench.models.videocrafter2_unet import VideoCrafter2UNet


def default_taps(unet: nn.Module) -> list[str]:
    """Outputs of every down and up block: ``down_blocks.i``, ``up_blocks.j``; of a video
    transformer, every block (``blocks.i`` / ``transformer_blocks.i`` …)."""
    if is_transformer(unet):
        return [u.modules[0] for u in dit_units(unet)]
    return ([f"down_blocks.{i}" for i in range(len(unet.down_blocks))]
            + [f"up_blocks.{j}" for j in range(len(unet.up_blocks))])


class FeatureTaps:
    """Forward hooks that record the outputs of named modules (first element of a tuple).

    ``names``: module names, or a map tap name → module name (a teacher's taps named after the
    student modules they are compared with). Use as a context manager; ``features`` maps tap
    name → tensor of the last forward.
    """

    def __init__(self, model: nn.Module, names: Sequence[str] | Mapping[str, str]) -> None:
        self.model = model
        self.names = dict(names) if isinstance(names, Mapping) else {n: n for n in names}
        self.features: dict[str, torch.Tensor] = {}
        self._handles: list[Any] = []

    def __enter__(self) -> FeatureTaps:
        for name, path in self.names.items():
            try:
                mod = self.model.get_submodule(path)
            except AttributeError:
                raise ConfigError(f"ICD tap '{path}' is not a module of "
                                  f"{type(self.model).__name__}") from None
            self._handles.append(mod.register_forward_hook(self._hook(name)))
        return self

    def _hook(self, name: str) -> Any:
        def fn(_m: nn.Module, _i: Any, out: Any) -> None:
            self.features[name] = out[0] if isinstance(out, tuple) else out
        return fn

    def __exit__(self, *exc: Any) -> None:
        for h in self._handles:
            h.remove()
        self._handles.clear()


def icd_loss(student: dict[str, torch.Tensor], teacher: dict[str, torch.Tensor]) -> torch.Tensor:
    """Sum over taps of the mean over frames of the per-frame mean squared difference."""
    total: torch.Tensor | None = None
    for name, ft in teacher.items():
        fs = student[name]
        if fs.shape != ft.shape:
            raise ConfigError(f"ICD tap '{name}': student {tuple(fs.shape)} and teacher "
                              f"{tuple(ft.shape)} features differ in shape")
        per_frame = ((fs.float() - ft.float().detach()) ** 2).flatten(1).mean(dim=1)
        total = per_frame.mean() if total is None else total + per_frame.mean()
    if total is None:
        raise ConfigError("ICD: no taps")
    return total


#: the UNet classes whose encoder :func:`encoder_features` reads (subclasses included)
MCA_UNETS: tuple[type[nn.Module], ...] = (UNetSpatioTemporalConditionModel, VideoCrafter2UNet)


def check_mca_teacher(unet: nn.Module) -> None:
    """Raise a :class:`ConfigError` (field ``loss.lambda_mca``) unless :func:`mca_features` can
    read the encoder of ``unet`` (an instance of one of :data:`MCA_UNETS`, or a video transformer
    whose token grid :func:`compression.dit_icmd.token_grid` knows)."""
    if is_transformer(unet):
        if not grid_supported(unet):
            raise ConfigError(f"the MCA term reads a transformer's early-block tokens on their "
                              f"frame grid, which is known for Wan, CogVideoX, LTX-Video and "
                              f"HunyuanVideo transformers, not {type(unet).__name__}; set "
                              f"lambda_mca: 0", field="loss.lambda_mca")
        return
    if not isinstance(unet, MCA_UNETS):
        names = " or ".join(c.__name__ for c in MCA_UNETS)
        raise ConfigError(f"the MCA term reads the teacher's encoder, which is implemented for "
                          f"{names} teachers only, not {type(unet).__name__}; set lambda_mca: 0",
                          field="loss.lambda_mca")


def _svd_encoder_features(unet: nn.Module, sample: torch.Tensor,
                          timestep: torch.Tensor | float, encoder_hidden_states: torch.Tensor,
                          added_time_ids: torch.Tensor) -> list[torch.Tensor]:
    """Run only the embedding, ``conv_in`` and the down blocks of a
    ``UNetSpatioTemporalConditionModel``; ``sample`` (B, F, C, H, W); returns the output of each
    down block, (B·F, C, h, w)."""
    b, f = sample.shape[:2]
    t = timestep if torch.is_tensor(timestep) else torch.tensor([timestep])
    t = t.reshape(-1).to(sample.device).expand(b)
    emb = unet.time_embedding(unet.time_proj(t).to(sample.dtype))
    add = unet.add_time_proj(added_time_ids.flatten()).reshape(b, -1).to(emb.dtype)
    emb = (emb + unet.add_embedding(add)).repeat_interleave(f, dim=0)
    ctx = encoder_hidden_states.repeat_interleave(f, dim=0)
    h = unet.conv_in(sample.flatten(0, 1))
    indicator = torch.zeros(b, f, dtype=h.dtype, device=h.device)
    feats = []
    for block in unet.down_blocks:
        if getattr(block, "has_cross_attention", False):
            h, _ = block(hidden_states=h, temb=emb, encoder_hidden_states=ctx,
                         image_only_indicator=indicator)
        else:
            h, _ = block(hidden_states=h, temb=emb, image_only_indicator=indicator)
        feats.append(h)
    return feats


def encoder_features(unet: nn.Module, sample: torch.Tensor, timestep: torch.Tensor | float,
                     encoder_hidden_states: torch.Tensor,
                     added_time_ids: torch.Tensor | None = None, **kwargs: Any
                     ) -> list[torch.Tensor]:
    """The output of each down block of ``unet``'s encoder, ``(B·F, C_i, h_i, w_i)`` with the
    frames of a video contiguous, for the keyword arguments of ``unet``'s forward (a family's
    ``encode_inputs``); the mid and up blocks are not run.

    - ``UNetSpatioTemporalConditionModel``: ``sample`` (B, F, C, H, W), ``added_time_ids``
      (B, 3) required, no other arguments; the embedding, ``conv_in`` and the down blocks.
    - ``VideoCrafter2UNet``: ``sample`` (B, C, F, H, W), no ``added_time_ids``; ``kwargs``
      (``fps``, ``timestep_cond``, ``motion_cond``) go to :meth:`VideoCrafter2UNet.encode`, the
      encoder half of its forward.
    """
    check_mca_teacher(unet)
    if isinstance(unet, VideoCrafter2UNet):
        if added_time_ids is not None:
            raise ConfigError("encoder_features: a VideoCrafter2UNet takes no added_time_ids")
        return unet.encode(sample, timestep, encoder_hidden_states, **kwargs).down_outputs
    if added_time_ids is None or kwargs:
        raise ConfigError(f"encoder_features: a {type(unet).__name__} needs added_time_ids and "
                          f"takes no other arguments (got {sorted(kwargs)})")
    return _svd_encoder_features(unet, sample, timestep, encoder_hidden_states, added_time_ids)


def mca_features(teacher: nn.Module, inputs: Mapping[str, Any]) -> list[torch.Tensor]:
    """The MCA backbone's features of ``teacher`` for its forward's keyword arguments
    ``inputs`` (a family's ``encode_inputs``): :func:`encoder_features` of a UNet, or the early
    blocks' tokens of a transformer (:func:`compression.dit_icmd.dit_encoder_features`); each
    ``(B·F, C, h, w)``."""
    if is_transformer(teacher):
        check_mca_teacher(teacher)
        return dit_encoder_features(teacher, inputs)
    return encoder_features(teacher, **inputs)


def mca_channels(teacher: nn.Module) -> list[int]:
    """Channels of each feature :func:`mca_features` returns (the heads' input widths)."""
    if is_transformer(teacher):
        return [inner_dim(teacher)] * len(mca_blocks(len(dit_units(teacher))))
    return [int(c) for c in teacher.config.block_out_channels]


class _SpatialHead(nn.Module):
    def __init__(self, c: int, hidden: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(c, hidden, 3, padding=1), nn.GroupNorm(1, hidden),
                                 nn.SiLU(), nn.Conv2d(hidden, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B·F, C, H, W) → (B·F·H·W,)
        return self.net(x).flatten()


class _TemporalHead(nn.Module):
    def __init__(self, c: int, hidden: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Conv1d(c, hidden, 3, padding=1), nn.GroupNorm(1, hidden),
                                 nn.SiLU(), nn.Conv1d(hidden, 1, 1))

    def forward(self, x: torch.Tensor, frames: int) -> torch.Tensor:
        bf, c, h, w = x.shape
        seq = x.reshape(bf // frames, frames, c, h * w).permute(0, 3, 2, 1)
        return self.net(seq.reshape(-1, c, frames)).flatten()  # (B·H·W, C, F) → logits


class MCADiscriminator(nn.Module):
    """Spatial + temporal heads on each of the teacher encoder's down-block outputs.

    ``channels``: the down blocks' output channels (``block_out_channels``). Only the heads are
    parameters of this module; the frozen teacher encoder is passed to :meth:`forward`.
    """

    def __init__(self, channels: Sequence[int], hidden: int = 32) -> None:
        super().__init__()
        self.spatial = nn.ModuleList(_SpatialHead(c, hidden) for c in channels)
        self.temporal = nn.ModuleList(_TemporalHead(c, hidden) for c in channels)

    def forward(self, feats: Sequence[torch.Tensor], frames: int) -> list[torch.Tensor]:
        """Logits per head (a list of flat tensors)."""
        out = []
        for f, s, t in zip(feats, self.spatial, self.temporal):
            out.append(s(f))
            out.append(t(f, frames))
        return out


def hinge_d_loss(real: Sequence[torch.Tensor], fake: Sequence[torch.Tensor]) -> torch.Tensor:
    """Σ_heads mean(relu(1 − D(real))) + mean(relu(1 + D(fake))).

    With identical real and fake logits it is ≥ 2 per head; while all logits lie inside the
    margin (−1, 1) it equals ``Σ_heads 2 − mean D(real) + mean D(fake)``: 2 per head means the
    heads are at chance (equal mean logits), not that they output 0."""
    return sum((F.relu(1 - r).mean() + F.relu(1 + f).mean() for r, f in zip(real, fake)),
               torch.zeros(()))


def hinge_g_loss(fake: Sequence[torch.Tensor]) -> torch.Tensor:
    """Σ_heads −mean(D(fake))."""
    return sum((-f.mean() for f in fake), torch.zeros(()))
