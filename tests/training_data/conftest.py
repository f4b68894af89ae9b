"""Fixtures of the training-data tests (helpers: training_data_utils.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ucf101"))

from training_data_utils import make_folder  # noqa: E402


@pytest.fixture(scope="session")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_folder(tmp_path_factory.mktemp("videos"))


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def svd_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random SVD pipeline folder (diffusers layout; VAE scale factor 2)."""
    from vdmbench.models.svd_random import random_svd_pipeline

    path = tmp_path_factory.mktemp("weights") / "svd-tiny"
    random_svd_pipeline("tiny", num_frames=4, seed=0).save_pretrained(path)
    return path


