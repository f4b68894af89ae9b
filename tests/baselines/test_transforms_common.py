"""Every baseline transform on every adapter it applies to: the identity setting gives the
untransformed videos bit for bit, another setting changes them, and the model is bit-identical
after the context exits."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from vdmbench.acceleration import make_transforms, transformed
from vdmbench.diffusion.denoiser import state_hash
from vdmbench.suite import TransformSpec

#: (transform, identity options, changing options)
METHODS: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("deepcache", {"interval": 1}, {"interval": 2}),
    ("deepcache", {"interval": 1, "branch": 1}, {"interval": 3, "branch": 1}),
    ("pab", {"sigma_range": [1.0, 1.0]}, {"spatial_every": 2, "sigma_range": [0.0, 100.0]}),
    ("pab", {"spatial_every": 1, "temporal_every": 1, "cross_every": 1,
             "sigma_range": [0.0, 100.0]},
     {"spatial_every": None, "cross_every": 3, "temporal_every": 2,
      "sigma_range": [0.0, 100.0]}),
    ("tgate", {"gate_step": 100, "self_every_before": 1, "self_every_after": 1},
     {"gate_step": 1, "self_every_after": 2}),
    ("tgate", {"gate_step": 3, "self_every_before": 1, "self_every_after": 2},
     {"gate_step": 2, "self_every_before": 2, "self_every_after": 2}),
    ("int8", {"min_features": 100000}, {"mode": "weight_only"}),
    ("int8", {"mode": "dynamic", "min_features": 100000}, {"mode": "dynamic"}),
]
ADAPTERS = ["synth-i2v", "synth-t2v", "svd", "t2v-turbo-v2"]


def _frames(videos: list[Any]) -> list[torch.Tensor]:
    return [v.frames for v in videos]


def _run(generator: Any, requests: list[Any], name: str, options: dict[str, Any]
         ) -> tuple[list[torch.Tensor], list[dict[str, Any]]]:
    ts = make_transforms([TransformSpec(name=name, options=options)], model="m")
    with transformed(generator, ts, model="m") as applied:
        return _frames(generator.generate(requests)), applied


@pytest.mark.parametrize("adapter", ADAPTERS)
@pytest.mark.parametrize(("name", "identity", "changing"), METHODS,
                         ids=[f"{m[0]}-{i}" for i, m in enumerate(METHODS)])
def test_identity_is_exact_other_settings_change_and_model_is_restored(
        generators: dict[str, Any], adapter: str, name: str, identity: dict[str, Any],
        changing: dict[str, Any]) -> None:
    generator, requests = generators[adapter]
    unet = generator.denoiser().unet
    before = state_hash(unet)
    base = _frames(generator.generate(requests))
    same, _ = _run(generator, requests, name, identity)
    assert all(torch.equal(a, b) for a, b in zip(base, same, strict=True))
    other, applied = _run(generator, requests, name, changing)
    assert applied[0]["name"] == name
    assert any(not torch.equal(a, b) for a, b in zip(base, other, strict=True))
    again, _ = _run(generator, requests, name, changing)
    assert all(torch.equal(a, b) for a, b in zip(other, again, strict=True)), \
        "caches must be reset between videos and runs"
    after = _frames(generator.generate(requests))
    assert all(torch.equal(a, b) for a, b in zip(base, after, strict=True))
    assert state_hash(unet) == before
    assert not unet._forward_pre_hooks and not unet._forward_hooks  # noqa: SLF001
    assert not any("forward" in m.__dict__ for m in unet.modules())
