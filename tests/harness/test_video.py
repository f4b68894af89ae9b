import pytest
import torch

from vdmbench.errors import InvalidVideoError
from vdmbench.video import (
    Video,
    from_unit_float,
    resize_frames,
    stack_videos,
    to_unit_float,
)


def test_contract_errors_name_the_sample():
    good = torch.zeros(4, 8, 8, 3, dtype=torch.uint8)
    with pytest.raises(InvalidVideoError, match="clip-7: expected dtype uint8"):
        stack_videos([good, good.float()], names=["clip-6", "clip-7"])
    with pytest.raises(InvalidVideoError, match=r"sample 1: expected shape \(T, H, W, 3\)"):
        stack_videos([good, good[..., :2]])
    with pytest.raises(InvalidVideoError, match="differs from the batch"):
        stack_videos([good, torch.zeros(5, 8, 8, 3, dtype=torch.uint8)])


def test_unit_float_round_trip_is_exact():
    v = torch.arange(256, dtype=torch.uint8).view(1, 16, 16, 1).expand(1, 16, 16, 3)
    assert torch.equal(from_unit_float(to_unit_float(v)), v)
    assert to_unit_float(v).min() == -1 and to_unit_float(v).max() == 1


def test_cover_crop_keeps_aspect_ratio_for_wide_targets():
    # 30x40 → 60x100: the cover scale is max(60/30, 100/40) = 2.5 → 75x100, then 60 centre rows
    x = torch.rand(1, 3, 30, 40)
    y = resize_frames(x, (60, 100), "short_side_center_crop")
    ref = torch.nn.functional.interpolate(x, size=(75, 100), mode="bilinear",
                                          align_corners=False)[..., 7:67, :]
    assert y.shape[-2:] == (60, 100) and torch.allclose(y, ref)
    same = torch.rand(1, 3, 224, 224)
    assert torch.equal(resize_frames(same, (224, 224), "squash_bilinear"), same)


def test_cover_crop_matches_manual_scale():
    x = torch.rand(1, 3, 30, 40)
    y = resize_frames(x, (60, 60), "short_side_center_crop")
    ref = torch.nn.functional.interpolate(x, size=(60, 80), mode="bilinear",
                                          align_corners=False)[..., :, 10:70]
    assert torch.allclose(y, ref)


def test_video_hash_depends_on_content_and_fps():
    a = Video(torch.zeros(2, 4, 4, 3, dtype=torch.uint8), 8.0)
    b = Video(torch.zeros(2, 4, 4, 3, dtype=torch.uint8), 7.0)
    c = Video(torch.ones(2, 4, 4, 3, dtype=torch.uint8), 8.0)
    assert len({a.sha256(), b.sha256(), c.sha256()}) == 3
