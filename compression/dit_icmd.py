"""ICMD's feature sources for video transformers (DiTs).

- **ICD taps**: the output tokens ``(B, L, D)`` of every student block, each matched with the
  teacher block it was copied from (:func:`compression.dit_student.dit_tap_map`:
  ``blocks.2`` ↔ ``blocks.3`` after removing ``blocks.1``).
- **MCA backbone**: the frozen teacher's *early* blocks (:func:`mca_blocks`: up to four blocks
  evenly spread over the first half of the depth, the half's last block included: SF-V reads
  the UNet encoder, the first half). Their output tokens are laid back on the latent token grid
  (frames ``F'``, rows ``H'``, columns ``W'`` after patching: :func:`token_grid`) as
  ``(B·F', D, H', W')``, the layout of the UNet encoder features the MCA heads read
  (:class:`compression.icmd.MCADiscriminator`: a spatial head per frame, a temporal head per
  token position over frames). Only the blocks up to the last one read are run (the later
  blocks are skipped, :func:`compression.dit_units.blocks_removed`; the output projection runs
  and is discarded).

Every diffusers video transformer here orders its tokens frame-major (``f, h, w``); the grid
is read from the forward's inputs per model family (:func:`token_grid`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from compression.dit_units import blocks_removed, dit_units
from vdmbench.errors import ConfigError

#: transformer classes whose token grid :func:`token_grid` knows (name prefixes)
GRID_FAMILIES = ("Wan", "CogVideoX", "LTXVideo", "HunyuanVideo")


def mca_blocks(n: int) -> list[int]:
    """Block positions the MCA heads read for a transformer of ``n`` blocks: up to four evenly
    spread over the first ``max(1, n // 2)`` blocks, ending with the last of them."""
    half = max(1, n // 2)
    m = min(4, half)
    return sorted({round((j + 1) * half / m) - 1 for j in range(m)})


def inner_dim(model: nn.Module) -> int:
    """Token width ``D`` of a transformer (heads × head dim)."""
    cfg = model.config
    return int(cfg["num_attention_heads"]) * int(cfg["attention_head_dim"])


def grid_supported(model: nn.Module) -> bool:
    return type(model).__name__.startswith(GRID_FAMILIES)


def _patch(cfg: Mapping[str, Any]) -> tuple[int, int, int]:
    p = cfg["patch_size"]
    if isinstance(p, (list, tuple)):
        return int(p[0]), int(p[1]), int(p[2])
    return int(cfg.get("patch_size_t") or 1), int(p), int(p)


def token_grid(model: nn.Module, inputs: Mapping[str, Any]) -> tuple[int, int, int]:
    """``(F', H', W')`` of the tokens of ``model``'s forward on ``inputs`` (its keyword
    arguments): Wan / HunyuanVideo ``hidden_states`` (B, C, F, H, W) over the patch sizes;
    CogVideoX (B, F, C, H, W); LTX-Video its ``num_frames``, ``height``, ``width`` (already
    token counts)."""
    name = type(model).__name__
    if not grid_supported(model):
        raise ConfigError(f"the MCA term reads a transformer's tokens on their frame grid, known "
                          f"for {', '.join(GRID_FAMILIES)} transformers, not {name}; set "
                          f"lambda_mca: 0", field="loss.lambda_mca")
    if name.startswith("LTXVideo"):
        return int(inputs["num_frames"]), int(inputs["height"]), int(inputs["width"])
    x = inputs["hidden_states"]
    pt, ph, pw = _patch(model.config)
    if name.startswith("CogVideoX"):
        f, h, w = x.shape[1], x.shape[3], x.shape[4]
    else:
        f, h, w = x.shape[2], x.shape[3], x.shape[4]
    return f // pt, h // ph, w // pw


def dit_encoder_features(model: nn.Module, inputs: Mapping[str, Any],
                         blocks: list[int] | None = None) -> list[torch.Tensor]:
    """Output tokens of blocks ``blocks`` (default :func:`mca_blocks`) of ``model`` run on
    ``inputs`` (keyword arguments of its forward), each as ``(B·F', D, H', W')`` with the frames
    of a video contiguous. Gradients flow to ``inputs`` (the weights are the caller's to
    freeze)."""
    units = dit_units(model)
    blocks = mca_blocks(len(units)) if blocks is None else blocks
    last = max(blocks)
    grid = token_grid(model, inputs)
    feats: dict[int, torch.Tensor] = {}
    handles = []
    for g in blocks:
        mod = model.get_submodule(units[g].modules[0])

        def hook(_m: nn.Module, _i: Any, out: Any, g: int = g) -> None:
            feats[g] = out[0] if isinstance(out, tuple) else out

        handles.append(mod.register_forward_hook(hook))
    try:
        with blocks_removed(model, units[last + 1:]):
            model(**inputs, return_dict=False)
    finally:
        for h in handles:
            h.remove()
    f, hh, ww = grid
    out = []
    for g in blocks:
        tok = feats[g]
        b, n, d = tok.shape
        if n != f * hh * ww:
            raise ConfigError(f"{type(model).__name__}: block {g} gave {n} tokens, not the "
                              f"{f}×{hh}×{ww} grid of its input")
        out.append(tok.reshape(b, f, hh, ww, d).permute(0, 1, 4, 2, 3).reshape(b * f, d, hh, ww))
    return out
