"""Tiny random SVD-architecture models for the compression tests."""

from __future__ import annotations

import pytest
import torch

from vdmbench.models.svd_denoiser import random_svd_unet


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


@pytest.fixture
def unet():
    return random_svd_unet(seed=0)
