"""Tiny random SVD-architecture pipelines saved to disk once per session (CPU, one thread)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from vdmbench.models.svd import random_svd_pipeline

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tiny_svd_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A full diffusers-format SVD folder (model_index.json + 5 component folders)."""
    path = tmp_path_factory.mktemp("weights") / "svd-tiny"
    random_svd_pipeline("tiny", num_frames=4, seed=0).save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def tiny_student_dir(tmp_path_factory: pytest.TempPathFactory, tiny_svd_dir: Path) -> Path:
    """A student folder as `vdmbench compress` writes it: a shallower unet/ + compression.json
    pointing at the base folder through ${VDMBENCH_TEST_SVD_BASE}."""
    path = tmp_path_factory.mktemp("weights") / "student"
    random_svd_pipeline("tiny", num_frames=4, seed=1, unet_layers_per_block=1
                        ).unet.save_pretrained(path / "unet")
    (path / "compression.json").write_text(json.dumps(
        {"base_weights": "${VDMBENCH_TEST_SVD_BASE}", "plan": "test"}))
    return path
