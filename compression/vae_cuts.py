"""VAE decoder pruning for latent I2V models (SVD / SF-V's ``AutoencoderKLTemporalDecoder``).

Three cuts, applied to the decoder only (the encoder is kept as it is):

1. the decoder's mid block (two spatio-temporal ResBlocks + single-head attention) becomes a
   parameter-free identity (:class:`~vdmbench.models.pruned_vae.IdentityDecoderMidBlock`);
2. up blocks keep only their first ``k`` resnets (default: the last, full-resolution up block keeps
   1 of its ``layers_per_block + 1``);
3. channels are pruned with Torch-Pruning's DepGraph (``tp.pruner.MetaPruner``, group L2 magnitude
   importance, local ratio). Torch-Pruning treats a ``GroupNorm`` with ``G`` groups as ``G`` channel
   groups and removes the same number of channels from each, so every norm keeps ``G`` groups of
   equal size (``round_to`` is therefore not used: it would fight that grouping). ``conv_out`` and
   ``time_conv_out`` (3 RGB channels) are never pruned. A kept mid block's attention keeps its
   inner (q/k/v) width, because diffusers' attention processor derives the head size from ``k``.

The result is saved in the format of :mod:`vdmbench.models.pruned_vae`; its decoder is then
fine-tuned by :mod:`compression.vae_finetune`.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import torch
from diffusers import AutoencoderKLTemporalDecoder
from torch import nn

from vdmbench.errors import ConfigError
from vdmbench.models.pruned_vae import (
    PRUNED_FORMAT,
    WIDTH_ATTRS,
    PrunedAutoencoderKLTemporalDecoder,
    apply_cuts,
    decoder_params,
    module_widths,
    sync_width_attrs,
)


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
    original = {n: module_widths(m) for n, m in student.named_modules()}
    before = decoder_params(student)
    identity = apply_cuts(student, drop_mid_block, ubl)
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
        sync_width_attrs(dec)

    modules: dict[str, dict[str, Any]] = {}
    for name, m in student.named_modules():
        w = module_widths(m)
        if w is not None and original.get(name) is not None and w != original[name]:
            modules[name] = {"type": type(m).__name__, **w}
    attributes: dict[str, dict[str, int]] = {}
    for name, m in student.named_modules():
        spec = WIDTH_ATTRS.get(type(m).__name__, {})
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
