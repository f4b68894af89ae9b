"""Published sanity value on the real checkpoints (slow; needs the files named by env vars).

16 all-zero vs 16 all-255 videos, 15 frames, 64×64 → FVD ≈ 131 with the TF-Hub I3D weights
(StyleGAN-V's TorchScript port). Run with ``-m slow`` and ``VDMBENCH_I3D_TORCHSCRIPT`` /
``VDMBENCH_I3D_STATE_DICT`` pointing at the checkpoints.
"""

from __future__ import annotations

import os

import pytest
import torch

from vdmbench.metrics.frechet import FeatureStats, frechet_distance_from_stats

SANITY_FVD = 131.0


def _sanity_fvd(extractor) -> float:
    zeros = torch.zeros(16, 15, 64, 64, 3, dtype=torch.uint8)
    full = torch.full((16, 15, 64, 64, 3), 255, dtype=torch.uint8)
    a = FeatureStats().update(extractor.features(zeros))
    b = FeatureStats().update(extractor.features(full))
    return frechet_distance_from_stats(a, b)


@pytest.mark.slow
@pytest.mark.needs_weights
@pytest.mark.skipif(not os.environ.get("VDMBENCH_I3D_TORCHSCRIPT"),
                    reason="set VDMBENCH_I3D_TORCHSCRIPT to StyleGAN-V's i3d_torchscript.pt")
def test_torchscript_i3d_sanity_value() -> None:
    from vdmbench.metrics.real_extractors import I3DTorchScriptExtractor

    torch.set_num_threads(max(1, os.cpu_count() or 1))
    ex = I3DTorchScriptExtractor.from_path(None, preset="fvd_styleganv_2048_16f")
    assert _sanity_fvd(ex) == pytest.approx(SANITY_FVD, rel=0.02)


@pytest.mark.slow
@pytest.mark.needs_weights
@pytest.mark.skipif(not os.environ.get("VDMBENCH_I3D_STATE_DICT"),
                    reason="set VDMBENCH_I3D_STATE_DICT to i3d_pretrained_400.pt")
def test_state_dict_i3d_sanity_value() -> None:
    """The VideoGPT state dict is a conversion of the same Kinetics-400 I3D; its value is expected
    near the TF-Hub one (unconfirmed), hence the wider tolerance."""
    from vdmbench.metrics.real_extractors import I3DStateDictExtractor

    ex = I3DStateDictExtractor.from_path(None, family="videogpt", preset="fvd_cdfvd_array")
    assert _sanity_fvd(ex) == pytest.approx(SANITY_FVD, rel=0.10)
