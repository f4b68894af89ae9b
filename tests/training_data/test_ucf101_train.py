"""UCF101 as training data: the train list of the chosen split, never a test video."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from ucf101_test_utils import make_ucf101

from vdmbench.errors import ConfigError, DataError
from vdmbench.training_data import TrainingDataSpec, check
from vdmbench.training_data.cache import CachedClips, FrameEncoder, prepare


def _data(root: Path, **kw: object) -> TrainingDataSpec:
    return TrainingDataSpec.model_validate({
        "name": "ucf101", "options": {"root": str(root), **kw.pop("options", {})},  # type: ignore[dict-item]
        "frames": 4, "height": 16, "width": 16, "fps": 12.5, **kw})


@pytest.fixture(scope="module")
def ucf(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    root = tmp_path_factory.mktemp("ucf")
    return root, make_ucf101(root)


def test_train_list_is_used_and_clips_are_its_frames(ucf: tuple[Path, dict[str, int]],
                                                    tmp_path: Path) -> None:
    root, ids = ucf
    src = check(_data(root))
    names = [r.name for r in src.refs()]
    # split 1: groups g08, g09 train, g01, g02 test
    assert names == sorted(n for n in ids if "_g08_" in n or "_g09_" in n)
    assert src.refs()[0].caption == "apply eye makeup"
    assert [r.name for r in check(_data(root, options={"split_file": 2})).refs()] == sorted(
        n for n in ids if "_g01_" in n or "_g09_" in n)
    res = prepare(src, FrameEncoder(), tmp_path, log=lambda m: None)
    cache = CachedClips(res.path)
    assert cache.files == names and res.skipped == []
    for k, c in enumerate(cache.clips):
        frames = cache.get([k])["frames"][0]  # (4, 16, 16, 3): frame i of video v is (5i, v, 7)
        assert c["stride"] == 2  # 25 fps → 12.5 fps
        want_r = torch.tensor([5 * (c["start"] + 2 * i) for i in range(4)], dtype=torch.uint8)
        assert torch.equal(frames[:, 0, 0, 0], want_r)
        assert torch.all(frames[..., 1] == ids[c["file"]]) and torch.all(frames[..., 2] == 7)
    # a subset is a seeded choice among the train videos
    sub = check(_data(root, num_videos=3, seed=1)).refs()
    assert len(sub) == 3 and {r.name for r in sub} <= set(names)
    assert [r.name for r in sub] == [r.name for r in check(_data(root, num_videos=3,
                                                                  seed=1)).refs()]


def test_a_test_video_is_refused(ucf: tuple[Path, dict[str, int]], tmp_path: Path) -> None:
    root, _ = ucf
    with pytest.raises(ConfigError, match="train list only.*'test'"):
        check(_data(root, split="test"))
    with pytest.raises(ConfigError, match="train list only"):
        check(_data(root, split="trainval"))
    import shutil

    bad = tmp_path / "ucf"
    shutil.copytree(root, bad)
    lists = bad / "ucfTrainTestlist"
    train = (lists / "trainlist01.txt").read_text()
    leak = "YoYo/v_YoYo_g01_c01.avi 3\r\n"  # a video of testlist01
    (lists / "trainlist01.txt").write_text(train + leak, newline="")
    with pytest.raises(DataError, match=r"trainlist01.txt lists YoYo/v_YoYo_g01_c01.avi, a "
                                        r"video of testlist01.txt"):
        check(_data(bad))
    (lists / "trainlist01.txt").write_text(train, newline="")
    (lists / "testlist01.txt").unlink()
    with pytest.raises(DataError, match="testlist01.txt not found"):
        check(_data(bad))
