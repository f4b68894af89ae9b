"""Presets: ids, versions, clip selection and network inputs."""

from __future__ import annotations

import random

import pytest
import torch
import torch.nn.functional as F

from vdmbench.errors import UnknownNameError
from vdmbench.metrics.protocols import (
    PRESETS,
    c3d_input,
    cdfvd_i3d_input,
    cdfvd_windows,
    get_preset,
    network_input,
    random_offset_clip,
    styleganv_i3d_input,
)


def test_presets_are_named_and_versioned() -> None:
    assert set(PRESETS) == {"fvd_styleganv_2048_16f", "fvd_cdfvd_128", "fvd_cdfvd_256",
                            "fvd_cdfvd_array", "is_styleganv_ucf101", "is_tgan2_ucf101", "psnr",
                            "ssim"}
    for p in PRESETS.values():
        d = p.describe()
        assert d["id"] == p.id and d["version"] and d["summary"]
    assert get_preset("fvd_styleganv_2048_16f").num_real == 2048
    assert get_preset("is_styleganv_ucf101").size == (112, 112)
    assert get_preset("is_styleganv_ucf101").splits == 10
    assert get_preset("is_tgan2_ucf101").draws == 10
    with pytest.raises(UnknownNameError, match="fvd_cdfvd_array"):
        get_preset("fvd_cd")
    # renamed ids name their replacements
    with pytest.raises(UnknownNameError, match="is_styleganv_ucf101.*is_tgan2_ucf101"):
        get_preset("is_tgan_ucf101")
    with pytest.raises(UnknownNameError, match="fvd_cdfvd_array.*fvd_cdfvd_128"):
        get_preset("fvd_cdfvd")


def test_random_offset_clip() -> None:
    frames = torch.arange(30, dtype=torch.uint8).view(30, 1, 1, 1).expand(30, 2, 2, 3)
    clips = [random_offset_clip(frames, 16, seed=0, index=i) for i in range(20)]
    offsets = {int(c[0, 0, 0, 0]) for c in clips if c is not None}
    assert all(c is not None and c.shape[0] == 16 for c in clips)
    assert len(offsets) > 3 and min(offsets) >= 0 and max(offsets) <= 14
    for c in clips:
        assert torch.equal(c[:, 0, 0, 0], torch.arange(c[0, 0, 0, 0], c[0, 0, 0, 0] + 16,
                                                        dtype=torch.uint8))
    again = random_offset_clip(frames, 16, seed=0, index=3)
    assert torch.equal(again, clips[3])
    assert random_offset_clip(frames[:10], 16, seed=0, index=0) is None


def test_network_inputs() -> None:
    batch = torch.randint(0, 256, (2, 3, 10, 14, 3), dtype=torch.uint8)
    x = styleganv_i3d_input(batch)
    assert x.shape == (2, 3, 3, 10, 14) and x.dtype == torch.uint8
    assert torch.equal(x, batch.permute(0, 4, 1, 2, 3))
    y = cdfvd_i3d_input(batch)
    # in [-1, 1] up to float32 rounding of the resize (seen: 1.0000002 on a random batch)
    assert y.shape == (2, 3, 3, 224, 224)
    assert -1 - 1e-6 <= float(y.min()) and float(y.max()) <= 1 + 1e-6
    frames = batch.permute(0, 1, 4, 2, 3).reshape(6, 3, 10, 14).float()
    ref = F.interpolate(frames, size=(224, 224), mode="bilinear", align_corners=False)
    ref = (ref / 127.5 - 1).reshape(2, 3, 3, 224, 224).permute(0, 2, 1, 3, 4)
    torch.testing.assert_close(y, ref, rtol=1e-5, atol=1e-5)
    z = c3d_input(batch)
    assert z.dtype == torch.uint8 and z.shape == (2, 3, 3, 10, 14)
    _, kwargs = network_input("fvd_styleganv_2048_16f", batch)
    assert kwargs == {"rescale": True, "resize": True, "return_features": True}
    with pytest.raises(UnknownNameError):
        network_input("psnr", batch)


def test_cdfvd_windows_leave_the_global_generators_alone() -> None:
    """cd-fvd's draw is reproduced without touching the caller's torch or Python generators;
    every window lies inside its video, each listed video with a window is visited once in a
    'full' pass, and no video with a window means an error. (Agreement with cd-fvd's own loader:
    tests/metrics/test_peers.py.)"""
    torch.manual_seed(7)
    random.seed(7)
    torch_state, py_state = torch.random.get_rng_state(), random.getstate()
    lengths = [24, 16, 30, 12, 20]
    got = cdfvd_windows(lengths, 16, 42)
    assert torch.equal(torch.random.get_rng_state(), torch_state)
    assert random.getstate() == py_state
    assert got == cdfvd_windows(lengths, 16, 42) != cdfvd_windows(lengths, 16, 43)
    assert len(got) == 5 and all(0 <= s <= lengths[v] - 16 for v, s in got)
    assert sorted(v for v, _ in got) == [0, 1, 2, 4, 4]  # the 12-frame video: the next one
    assert len(cdfvd_windows(lengths, 16, 42, count=12)) == 12
    with pytest.raises(ValueError, match="no video has 16 frames"):
        cdfvd_windows([10, 15], 16, 42)
