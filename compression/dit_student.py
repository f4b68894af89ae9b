"""Depth-pruned video-transformer students: ``apply_dit(teacher, plan)`` → a shorter transformer.

The student is an instance of the teacher's own diffusers class whose config has the kept block
counts (``num_layers``, and ``num_single_layers`` for HunyuanVideo); student block ``m`` of a
list is the ``m``-th kept teacher block of that list, weights copied (``blocks.3.…`` →
``blocks.2.…`` after removing ``blocks.1``); every other weight (embeddings, output norm and
projection) is the teacher's. ``save_pretrained`` of it is a plain diffusers folder; see
:mod:`vdmbench.models.pruned_dit`.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from compression.dit_units import kept_blocks
from compression.plan import DepthPlan, check_plan
from vdmbench.errors import ConfigError
from vdmbench.models.pruned_dit import block_lists


def dit_student_config(teacher: nn.Module, plan: DepthPlan) -> dict[str, Any]:
    """The student's diffusers config (``_``-prefixed keys dropped): the teacher's with each
    block list's size key set to the number of kept blocks."""
    check_plan(teacher, plan)
    kept = kept_blocks(teacher, plan.removed)
    cfg = {k: v for k, v in dict(teacher.config).items() if not k.startswith("_")}
    for attr, key, _n in block_lists(teacher):
        cfg[key] = len(kept[attr])
    return cfg


def dit_key_map(teacher: nn.Module, plan: DepthPlan) -> dict[str, str]:
    """Prefix map student module path → teacher module path for every kept block
    (``blocks.2.`` → ``blocks.3.`` …); identical paths included."""
    return {f"{attr}.{m}.": f"{attr}.{k}."
            for attr, idx in kept_blocks(teacher, plan.removed).items()
            for m, k in enumerate(idx)}


def dit_tap_map(teacher: nn.Module, plan: DepthPlan) -> dict[str, str]:
    """ICD pairs: student block module → the teacher block it was copied from
    (``blocks.2`` → ``blocks.3``)."""
    return {s[:-1]: t[:-1] for s, t in dit_key_map(teacher, plan).items()}


def _teacher_key(key: str, key_map: dict[str, str]) -> str:
    attr, _, rest = key.partition(".")
    idx, _, _tail = rest.partition(".")
    prefix = f"{attr}.{idx}."
    return key_map[prefix] + key[len(prefix):] if prefix in key_map else key


def apply_dit(teacher: nn.Module, plan: DepthPlan) -> nn.Module:
    """The student of the transformer ``teacher`` under ``plan`` (module docstring): same class,
    same device and dtype, eval mode; an empty plan gives a copy of the teacher (bit-identical
    forward)."""
    cfg = dit_student_config(teacher, plan)
    student = type(teacher).from_config(cfg)  # type: ignore[attr-defined]
    key_map = dit_key_map(teacher, plan)
    t_state = teacher.state_dict()
    s_state = student.state_dict()
    for key, value in s_state.items():
        src = _teacher_key(key, key_map)
        if src not in t_state or t_state[src].shape != value.shape:
            got = tuple(t_state[src].shape) if src in t_state else "nothing"
            raise ConfigError(f"plan '{plan.preset}' is not realizable for "
                              f"{type(teacher).__name__}: student weight '{key}' "
                              f"{tuple(value.shape)} would come from teacher '{src}' ({got})")
    with torch.no_grad():
        for key, value in s_state.items():
            value.copy_(t_state[_teacher_key(key, key_map)])
    student.to(next(teacher.parameters()).device)
    for name, t in (*student.named_parameters(), *student.named_buffers()):
        if name in s_state:  # each tensor in its teacher tensor's dtype (mixed-precision models)
            dtype = t_state[_teacher_key(name, key_map)].dtype
            if t.dtype != dtype:
                t.data = t.data.to(dtype)
    return student.eval()
