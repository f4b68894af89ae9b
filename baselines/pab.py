"""Pyramid Attention Broadcast (Zhao et al., 2024) through diffusers: ``pab``.

Attention outputs change little between neighbouring steps in the middle of sampling; PAB
reuses ("broadcasts") each attention layer's last output for ``*_every - 1`` calls out of
``*_every`` while the noise level lies inside ``sigma_range``: cross attention most often,
then temporal, then spatial attention. The hooks are diffusers' own
(``apply_pyramid_attention_broadcast`` + ``PyramidAttentionBroadcastConfig``), attached to the
UNet's diffusers ``Attention`` modules by name with explicit identifiers for our two UNet
families (diffusers' default spatial pattern also matches ``temporal_transformer_blocks``):

- spatial self-attention: ``(?<!temporal_)transformer_blocks.N.attn1``;
- temporal self-attention: ``temporal_transformer_blocks.N.attn1`` / ``.attn2`` where it is not
  cross-attention (VideoCrafter2's temporal blocks have two self-attentions);
- cross-attention: ``transformer_blocks.N.attn2`` where the module is cross-attention.

The skip range is given as noise levels σ and converted to the UNet's own timestep units with
the adapter's ``DenoiserSpec.timestep(σ)`` (SVD-style UNets take ¼·ln σ, so diffusers' default
(100, 800) would never trigger); the timestep callback returns the timestep input of the UNet
call in progress. diffusers' hooks count attention *calls* (a Heun step makes two, a CFG batch
one); their state is reset whenever a new video or batch starts (:class:`~baselines.steps.
StepTracker`). An empty ``sigma_range`` (``lo == hi``) or every ``*_every`` at 1 is the identity.

On a video diffusion transformer (a diffusers ``CacheMixin``: Wan, CogVideoX, LTX, the
``synth-dit-t2v`` model) ``pab`` is diffusers' own transformer path instead:
``transformer.enable_cache(PyramidAttentionBroadcastConfig(...))`` with diffusers' default block
identifiers (each block's self-attention is "spatial", its cross-attention "cross"), the skip range
``timestep_range`` in the transformer's own timestep units (``sigma_range`` is for UNets) and the
trajectory reset and restore of :mod:`baselines.dit_cache`.
"""

from __future__ import annotations

from typing import Any

import torch

from baselines.dit_cache import (
    attach_cache,
    cache_applicability,
    is_cache_model,
    pab_config,
    transformer_of,
)
from baselines.pab_config import PABConfig
from baselines.steps import AcrossStepsAttentionTransform, StepTracker, attention_modules
from vdmbench.acceleration import NO_DENOISER, Applicability, denoiser_of

SPATIAL = (r"(?<!temporal_)transformer_blocks\.\d+\.attn1$",)
TEMPORAL = (r"temporal_transformer_blocks\.\d+\.attn[12]$",)
CROSS = (r"transformer_blocks\.\d+\.attn2$",)
HOOK = "pyramid_attention_broadcast"


class PyramidAttentionBroadcast(PABConfig, AcrossStepsAttentionTransform):
    """``pab``: diffusers' Pyramid Attention Broadcast hooks on the UNet's attention layers, or
    on a transformer through its ``enable_cache``."""

    def applies_to(self, generator: Any) -> Applicability:
        module = transformer_of(generator)
        if module is not None and is_cache_model(module):
            return cache_applicability(generator)
        spec = denoiser_of(generator)
        if spec is None:
            return Applicability(False, NO_DENOISER)
        return self.applies_to_denoiser(generator, spec)

    def _attach(self, generator: Any) -> tuple[Any, dict[str, Any]]:
        module = transformer_of(generator)
        if module is not None and is_cache_model(module):
            return attach_cache(module, lambda tracker: pab_config(self.options, tracker))
        return self._attach_unet(generator)

    def _attach_unet(self, generator: Any) -> tuple[Any, dict[str, Any]]:
        from diffusers import PyramidAttentionBroadcastConfig, apply_pyramid_attention_broadcast
        from diffusers.hooks import HookRegistry

        spec = self.denoiser(generator)
        o = self.options
        lo, hi = (float(v) for v in spec.timestep(
            torch.tensor(o.sigma_range, dtype=torch.float64)))  # type: ignore[attr-defined]
        attn = attention_modules(spec.unet)
        had_registry = {id(m): hasattr(m, "_diffusers_hook") for m in attn}
        had_forward = {id(m): m.__dict__.get("forward") for m in attn}
        tracker = StepTracker(spec.unet)
        config = PyramidAttentionBroadcastConfig(
            spatial_attention_block_skip_range=o.spatial_every,  # type: ignore[attr-defined]
            temporal_attention_block_skip_range=o.temporal_every,  # type: ignore[attr-defined]
            cross_attention_block_skip_range=o.cross_every,  # type: ignore[attr-defined]
            spatial_attention_timestep_skip_range=(lo, hi),
            temporal_attention_timestep_skip_range=(lo, hi),
            cross_attention_timestep_skip_range=(lo, hi),
            spatial_attention_block_identifiers=SPATIAL,
            temporal_attention_block_identifiers=TEMPORAL,
            cross_attention_block_identifiers=CROSS,
            current_timestep_callback=lambda: tracker.timestep)
        apply_pyramid_attention_broadcast(spec.unet, config)
        hooked = [m for m in attn if isinstance(getattr(m, "_diffusers_hook", None), HookRegistry)
                  and HOOK in m._diffusers_hook.hooks]  # noqa: SLF001

        def reset() -> None:
            for m in hooked:
                m._diffusers_hook.reset_stateful_hooks(recurse=False)  # noqa: SLF001

        tracker.on_reset(reset)

        def undo() -> None:
            tracker.remove()
            for m in hooked:
                m._diffusers_hook.remove_hook(HOOK, recurse=False)  # noqa: SLF001
            for m in attn:
                if not had_registry[id(m)] and hasattr(m, "_diffusers_hook") \
                        and not m._diffusers_hook.hooks:  # noqa: SLF001
                    del m._diffusers_hook  # noqa: SLF001
                if had_forward[id(m)] is None:
                    m.__dict__.pop("forward", None)
                else:
                    m.forward = had_forward[id(m)]  # type: ignore[method-assign]

        names = {id(m): k for k, m in spec.unet.named_modules()}
        return undo, {"timestep_range": [lo, hi], "hooked": len(hooked),
                      "first": [names[id(m)] for m in hooked[:3]]}
