"""UCF101 reader on a synthesized tree with the official layout and split-file formats."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pydantic
import pytest
import torch
from ucf101_test_utils import CLASSES, make_ucf101, video_frames, write_avi

from vdmbench.data.ucf101 import (
    PRESETS,
    UCF101Dataset,
    class_to_prompt,
    decode_frames,
    probe_video,
    resize_clip,
)
from vdmbench.errors import ConfigError, DataError
from vdmbench.suite import DatasetSpec

torch.set_num_threads(1)
SHORT = "YoYo/v_YoYo_g09_c01.avi"


@pytest.fixture(scope="module")
def ucf(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    root = tmp_path_factory.mktemp("ucf")
    ids = make_ucf101(root, lengths={SHORT: 30})
    return root, ids


def spec(root: Path | str, split: str = "test", n: int = 4, preset: str = "i2v_dynamicrafter",
         seed: int = 0, size: tuple[int, int] = (24, 32), **opts: object) -> DatasetSpec:
    return DatasetSpec(name="ucf101", split=split, num_videos=n, frames=16, height=size[0],
                       width=size[1], fps=8.0, seed=seed,
                       options={"root": str(root), "clip_preset": preset, **opts})


def test_prompts() -> None:
    assert class_to_prompt("ApplyEyeMakeup") == "apply eye makeup"
    assert class_to_prompt("YoYo") == "yo yo"
    assert class_to_prompt("HandstandPushups") == "handstand pushups"
    assert class_to_prompt("PlayingDaf") == "playing daf"


def test_splits_and_sorted_files(ucf: tuple[Path, dict[str, int]]) -> None:
    root, ids = ucf
    ds = UCF101Dataset(spec(root, "test"))
    assert ds.classes == {c: i + 1 for i, c in enumerate(CLASSES)}
    rels = [f[0] for f in ds.files()]
    assert rels == sorted(rels) and len(rels) == 6
    assert all(("_g01_" in r or "_g02_" in r) for r in rels)
    assert "HandstandPushups/v_HandStandPushups_g01_c01.avi" in rels
    train = [f[0] for f in UCF101Dataset(spec(root, "train")).files()]
    assert len(train) == 6 and not set(train) & set(rels)
    assert len(UCF101Dataset(spec(root, "trainval")).files()) == 12
    s2 = [f[0] for f in UCF101Dataset(spec(root, "test", split_file=2)).files()]
    assert any("_g08_" in r for r in s2)
    assert len(UCF101Dataset(spec(root, "train", split_file=3)).files()) == 9
    labels = {f[0]: f[2] for f in ds.files()}
    assert labels["YoYo/v_YoYo_g01_c01.avi"] == 3


def test_fvd_preset_first_sorted_windows(ucf: tuple[Path, dict[str, int]]) -> None:
    root, ids = ucf
    ds = UCF101Dataset(spec(root, "trainval", n=5, preset="fvd_styleganv_2048_16f", seed=3))
    clips = ds.clips()
    assert [c.relpath for c in clips] == [f[0] for f in ds.files()][:5]
    refs = [v for batch in ds.reference_videos(batch_size=2) for v in batch]
    assert [len(b) for b in ds.reference_videos(batch_size=2)] == [2, 2, 1]
    for c, v in zip(clips, refs):
        assert c.stride == 1 and 0 <= c.start <= 50 - 16
        assert tuple(v.frames.shape) == (16, 24, 32, 3) and v.fps == 25.0
        r = v.frames[:, 0, 0, 0].tolist()
        assert r == [5 * (c.start + i) for i in range(16)]
        assert int(v.frames[0, 0, 0, 1]) == ids[c.relpath]
    again = UCF101Dataset(spec(root, "trainval", n=5, preset="fvd_styleganv_2048_16f", seed=3))
    assert [c.start for c in again.clips()] == [c.start for c in clips]
    other = UCF101Dataset(spec(root, "trainval", n=5, preset="fvd_styleganv_2048_16f", seed=4))
    assert [c.start for c in other.clips()] != [c.start for c in clips]


def test_i2v_preset_requests(ucf: tuple[Path, dict[str, int]]) -> None:
    root, ids = ucf
    ds = UCF101Dataset(spec(root, "train", n=6, seed=1))
    reqs = ds.requests()
    clips = ds.clips()
    assert sorted(c.relpath for c in clips) == sorted(f[0] for f in ds.files())
    assert [c.relpath for c in clips] != sorted(c.relpath for c in clips)  # random selection
    for r, c in zip(reqs, clips):
        assert r.image is not None and tuple(r.image.shape) == (24, 32, 3)
        assert int(r.image[0, 0, 0]) == 5 * c.start and int(r.image[0, 0, 1]) == ids[c.relpath]
        assert r.prompt == class_to_prompt(c.class_name)
        assert (r.frames, r.height, r.width, r.fps) == (16, 24, 32, 8.0)
        assert r.extra["stride"] == c.stride and r.extra["video"] == c.relpath
        span = (16 - 1) * c.stride + 1
        assert 0 <= c.start <= c.total - span
        v = ds.clip_video(c)
        assert v.frames[:, 0, 0, 0].tolist() == [5 * i for i in c.frame_indices]
        assert torch.equal(v.frames[0], r.image)
    strides = {c.relpath: c.stride for c in clips}
    assert strides[SHORT] == 1  # 30 frames cannot hold 16 frames at stride 3 or 2
    assert {s for k, s in strides.items() if k != SHORT} == {3}
    assert len({r.seed for r in reqs}) == len(reqs)
    again = UCF101Dataset(spec(root, "train", n=6, seed=1)).requests()
    assert [r.content_hash() for r in again] == [r.content_hash() for r in reqs]


def test_frame_stride_option(ucf: tuple[Path, dict[str, int]]) -> None:
    root, _ = ucf
    ds = UCF101Dataset(spec(root, "test", n=2, frame_stride=2))
    assert {c.stride for c in ds.clips()} == {2}


def test_resize_policies() -> None:
    frames = np.zeros((1, 240, 320, 3), np.uint8)
    frames[..., :40, :] = 255  # a band at the left edge
    cover = resize_clip(frames, (576, 1024), "cover_center_crop")
    squash = resize_clip(frames, (576, 1024), "squash")
    assert tuple(cover.shape) == tuple(squash.shape) == (1, 576, 1024, 3)
    # squash keeps the band at 40/320 of the width; cover scales by 3.2 and crops rows only
    assert int(squash[0, 288, 120, 0]) == 255 and int(squash[0, 288, 136, 0]) == 0
    assert int(cover[0, 288, 120, 0]) == 255 and int(cover[0, 288, 136, 0]) == 0
    tall = np.zeros((1, 240, 320, 3), np.uint8)
    tall[:, :25] = 255  # top band: 80 rows after ×3.2, cover crops 96 rows away, squash keeps it
    assert int(resize_clip(tall, (576, 1024), "cover_center_crop")[0, 0, 500, 0]) == 0
    assert int(resize_clip(tall, (576, 1024), "squash")[0, 0, 500, 0]) == 255
    assert torch.equal(resize_clip(frames, (240, 320), "cover_center_crop"),
                       torch.from_numpy(frames))


def test_manifest_hash(ucf: tuple[Path, dict[str, int]], tmp_path: Path) -> None:
    root, _ = ucf
    h = UCF101Dataset(spec(root)).manifest_hash()
    assert h == UCF101Dataset(spec(root)).manifest_hash()
    assert h != UCF101Dataset(spec(root, preset="fvd_styleganv_2048_16f")).manifest_hash()
    assert h != UCF101Dataset(spec(root, seed=1)).manifest_hash()
    assert h != UCF101Dataset(spec(root, resize="squash")).manifest_hash()
    copy = tmp_path / "elsewhere"
    shutil.copytree(root, copy)
    assert UCF101Dataset(spec(copy)).manifest_hash() == h  # content, not location
    write_avi(copy / "UCF-101" / "YoYo/v_YoYo_g01_c01.avi", video_frames(1, 60))
    assert UCF101Dataset(spec(copy)).manifest_hash() != h


def test_corrupt_and_truncated_videos_are_named(ucf: tuple[Path, dict[str, int]],
                                                tmp_path: Path) -> None:
    root, _ = ucf
    bad = tmp_path / "bad"
    shutil.copytree(root, bad)
    victim = bad / "UCF-101" / "ApplyEyeMakeup" / "v_ApplyEyeMakeup_g01_c01.avi"
    victim.write_bytes(b"RIFF\x00\x00not a video at all" * 10)
    ds = UCF101Dataset(spec(bad, "test", n=6, preset="fvd_styleganv_2048_16f"))
    with pytest.raises(DataError, match=str(victim)):
        ds.requests()
    with pytest.raises(DataError, match=str(victim)):
        decode_frames(victim, [0])
    good = root / "UCF-101" / "YoYo" / "v_YoYo_g01_c01.avi"
    data = good.read_bytes()
    victim.write_bytes(data[: len(data) // 3])
    with pytest.raises(DataError, match=str(victim)):
        list(UCF101Dataset(spec(bad, "test", n=6, preset="fvd_styleganv_2048_16f")
                           ).reference_videos())


def test_missing_listed_video_is_named(ucf: tuple[Path, dict[str, int]], tmp_path: Path) -> None:
    root, _ = ucf
    bad = tmp_path / "bad"
    shutil.copytree(root, bad)
    gone = bad / "UCF-101" / "YoYo" / "v_YoYo_g02_c01.avi"
    gone.unlink()
    with pytest.raises(DataError, match=str(gone)):
        UCF101Dataset(spec(bad, "test")).files()


def test_too_short_video(tmp_path: Path) -> None:
    make_ucf101(tmp_path, lengths={"YoYo/v_YoYo_g01_c01.avi": 10})
    with pytest.raises(DataError, match="v_YoYo_g01_c01.avi: 10 frames"):
        UCF101Dataset(spec(tmp_path, "test", n=6, preset="fvd_styleganv_2048_16f")).clips()


def test_missing_root_names_path_and_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("UCF101_ROOT", raising=False)
    with pytest.raises(ConfigError, match="UCF101_ROOT"):
        UCF101Dataset(spec("${UCF101_ROOT}"))
    monkeypatch.setenv("UCF101_ROOT", str(tmp_path / "nope"))
    with pytest.raises(DataError, match=r"nope.*UCF101_ROOT"):
        UCF101Dataset(spec("${UCF101_ROOT}"))


def test_bad_configuration(ucf: tuple[Path, dict[str, int]]) -> None:
    root, _ = ucf
    with pytest.raises(ConfigError, match="split"):
        UCF101Dataset(spec(root, "validation"))
    with pytest.raises(ConfigError, match="16-frame"):
        UCF101Dataset(DatasetSpec(name="ucf101", frames=14, options={"root": str(root)}))
    with pytest.raises(pydantic.ValidationError):
        UCF101Dataset(spec(root, split_fil=2))
    with pytest.raises(pydantic.ValidationError):
        UCF101Dataset(spec(root, split_file=4))
    with pytest.raises(DataError, match="7 videos requested"):
        UCF101Dataset(spec(root, "test", n=7)).clips()
    assert set(PRESETS) == {"fvd_styleganv_2048_16f", "i2v_dynamicrafter"}


def test_bad_split_file_line(ucf: tuple[Path, dict[str, int]], tmp_path: Path) -> None:
    root, _ = ucf
    bad = tmp_path / "bad"
    shutil.copytree(root, bad)
    lst = bad / "ucfTrainTestlist" / "trainlist01.txt"
    lst.write_text(lst.read_text() + "Juggling/v_Juggling_g01_c01.avi 4\n")
    with pytest.raises(DataError, match=r"trainlist01.txt:\d+: class folder 'Juggling'"):
        UCF101Dataset(spec(bad, "train")).files()


def test_xvid_like_mpeg4_decodes(tmp_path: Path) -> None:
    path = tmp_path / "v.avi"
    write_avi(path, video_frames(3, 20), codec="mpeg4")
    n, fps = probe_video(path)
    assert (n, fps) == (20, 25.0)
    frames = decode_frames(path, [0, 10])
    assert frames.shape == (2, 24, 32, 3)
    assert abs(int(frames[1, 12, 16, 0]) - 50) <= 6


def test_source_videos_and_decoder_option(ucf: tuple[Path, dict[str, int]],
                                          tmp_path: Path) -> None:
    root, ids = ucf
    ds = UCF101Dataset(spec(root, "trainval"))
    src = list(ds.source_videos())
    assert [s.relpath for s in src] == [f[0] for f in ds.files()]
    short = next(s for s in src if s.relpath == SHORT)
    assert short.num_frames == 30
    clip = short.read(4, 3).numpy()
    assert np.array_equal(clip, video_frames(ids[SHORT], 30)[4:7])

    # decord 0.6.0 cannot copy out these 32×24 PNG-coded frames (a size check fails): compare
    # the backends on an MPEG-4 coded tree, as UCF101's own files are
    pytest.importorskip("decord")
    root = tmp_path / "mpeg4"
    make_ucf101(root, codec="mpeg4")
    ds = UCF101Dataset(spec(root, "trainval"))
    dd = UCF101Dataset(spec(root, "trainval", decoder="decord"))
    assert dd.manifest_hash() != ds.manifest_hash()
    for a, b in zip(ds.requests(), dd.requests()):
        assert torch.equal(a.image, b.image) and a.extra == b.extra
    va = next(ds.reference_videos(4))
    vb = next(dd.reference_videos(4))
    assert all(torch.equal(x.frames, y.frames) for x, y in zip(va, vb))
