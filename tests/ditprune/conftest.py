"""Fixtures of the DiT pruning tests (helpers: ditprune_utils.py)."""

from __future__ import annotations

import pytest
import torch
from diffusers import WanTransformer3DModel
from ditprune_utils import ToyWanDenoiser, tiny_wan


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


@pytest.fixture
def wan() -> WanTransformer3DModel:
    return tiny_wan()


@pytest.fixture
def toy_denoiser() -> ToyWanDenoiser:
    return ToyWanDenoiser(tiny_wan())
