"""SynthMotion: determinism, disjoint splits, coverage, captions, requests, speed."""

from __future__ import annotations

import hashlib
import time

import pytest
import torch

from vdmbench.data.synthmotion import (
    BACKGROUNDS,
    COLORS,
    GENERATOR_VERSION,
    MOTION_CLASSES,
    SHAPES,
    SIZES,
    SynthMotionDataset,
    SynthMotionTorchDataset,
    render,
    render_batch,
    sample_meta,
)
from vdmbench.errors import ConfigError
from vdmbench.suite import DatasetSpec
from vdmbench.video import Video


def _spec(**kw) -> DatasetSpec:
    base = {"name": "synthmotion", "split": "test", "num_videos": 6, "frames": 8}
    return DatasetSpec(**{**base, **kw})


def test_vocabulary_sizes() -> None:
    assert len(MOTION_CLASSES) >= 10 and "cross" in MOTION_CLASSES and "static" in MOTION_CLASSES
    assert len(SHAPES) >= 4 and len(COLORS) >= 6 and len(SIZES) >= 2 and len(BACKGROUNDS) >= 3


def test_same_arguments_give_identical_bytes() -> None:
    a, ma = render(17, "train", frames=12, height=24, width=40, seed=3)
    b, mb = render(17, "train", frames=12, height=24, width=40, seed=3)
    assert a.dtype == torch.uint8 and a.shape == (12, 24, 40, 3)
    assert torch.equal(a, b) and ma == mb
    batch, metas = render_batch([17, 4], "train", frames=12, height=24, width=40, seed=3)
    assert batch.shape == (2, 12, 24, 40, 3) and torch.equal(batch[0], a) and metas[0] == ma


#: sha256 prefixes of test videos 0..2 (16×32×32, seed 0) under GENERATOR_VERSION synthmotion-1
PINNED = ["4ff1875748215677", "76fbe94e7a93849a", "5490e5e76493faf5"]


def test_pinned_pixels() -> None:
    """Pixels are a pure function of the arguments: pinned digests guard against drift (bump
    GENERATOR_VERSION and re-pin when rendering changes on purpose)."""
    assert GENERATOR_VERSION == "synthmotion-1"
    digests = [hashlib.sha256(render(i, "test")[0].numpy().tobytes()).hexdigest()[:16]
               for i in range(3)]
    assert digests == PINNED


def test_seed_and_split_change_the_stream() -> None:
    base = render(5, "train", seed=0)[0]
    assert not torch.equal(base, render(5, "train", seed=1)[0])
    assert not torch.equal(base, render(5, "test", seed=0)[0])


def test_splits_are_disjoint() -> None:
    train = {hashlib.sha256(render(i, "train", frames=4)[0].numpy().tobytes()).digest()
             for i in range(200)}
    test = {hashlib.sha256(render(i, "test", frames=4)[0].numpy().tobytes()).digest()
            for i in range(200)}
    assert len(train) == 200 and len(test) == 200 and not train & test


def test_all_classes_and_attributes_reachable_and_independent() -> None:
    metas = [sample_meta(i, "train") for i in range(3000)]
    for key, names in (("motion", MOTION_CLASSES), ("shape", SHAPES), ("color", COLORS),
                       ("size", SIZES), ("background", BACKGROUNDS)):
        seen = {getattr(m, key) for m in metas}
        assert seen == set(range(len(names))), key
    # content varies independently of motion: every motion class shows every shape
    pairs = {(m.motion, m.shape) for m in metas}
    assert len(pairs) == len(MOTION_CLASSES) * len(SHAPES)
    assert all(0.75 <= m.speed <= 1.25 and 0.0 <= m.phase < 1.0 for m in metas)
    assert len({round(m.speed, 6) for m in metas}) > 2000


def test_captions() -> None:
    for i in range(300):
        m = sample_meta(i, "test")
        c = m.content()
        words = (SIZES[m.size], COLORS[m.color], SHAPES[m.shape])
        if MOTION_CLASSES[m.motion] == "cross":
            assert m.caption.startswith(f"two {words[0]} {words[1]} {words[2]}s crossing")
        else:
            assert m.caption.startswith(f"a {words[0]} {words[1]} {words[2]} ")
        assert c["background"] in ("plain", "striped", "checkered", "gradient")
        bg_word = {"plain": "plain", "striped": "striped", "checkered": "checkered",
                   "gradient": "gradient"}[c["background"]]
        assert m.caption.endswith(f"on a {bg_word} background")
    left = next(sample_meta(i, "test") for i in range(500)
                if MOTION_CLASSES[sample_meta(i, "test").motion] == "left")
    assert " moving left on a " in left.caption


def test_motion_is_visible_and_static_is_static() -> None:
    for i in range(120):
        video, m = render(i, "test", frames=8)
        diff = (video[1:].int() - video[:-1].int()).abs().sum().item()
        if MOTION_CLASSES[m.motion] == "static":
            assert diff == 0
        else:
            assert diff > 0, m.caption


def test_object_moves_in_the_named_direction() -> None:
    """The colour-weighted centroid of the object moves left/right/up/down as captioned."""
    checked = 0
    for i in range(400):
        video, m = render(i, "test", frames=8)
        name = MOTION_CLASSES[m.motion]
        if name not in ("left", "right", "up", "down"):
            continue
        v = video.int()
        sat = (v.max(dim=-1).values - v.min(dim=-1).values).float()  # background is grey
        if COLORS[m.color] == "white":
            sat = (v.min(dim=-1).values > 200).float()
        ys = torch.arange(v.shape[1]).view(1, -1, 1).float()
        xs = torch.arange(v.shape[2]).view(1, 1, -1).float()
        w = sat.sum(dim=(1, 2))
        cx, cy = (sat * xs).sum(dim=(1, 2)) / w, (sat * ys).sum(dim=(1, 2)) / w
        delta = {"left": cx[0] - cx[-1], "right": cx[-1] - cx[0],
                 "up": cy[0] - cy[-1], "down": cy[-1] - cy[0]}[name]
        assert delta > 4.0, (m.caption, float(delta))
        checked += 1
    assert checked > 100


def test_bad_arguments_raise_config_errors() -> None:
    with pytest.raises(ConfigError, match="split"):
        render(0, "validation")
    with pytest.raises(ConfigError, match="frames"):
        render(0, "train", frames=0)
    with pytest.raises(ConfigError, match="index"):
        sample_meta(-1, "train")
    with pytest.raises(ConfigError, match="split"):
        SynthMotionDataset(_spec(split="dev"))


def test_requests_and_reference_videos_agree() -> None:
    ds = SynthMotionDataset(_spec(options={"first_index": 10}, fps=7.0))
    reqs = ds.requests()
    assert [r.id for r in reqs] == [f"synthmotion-test-{i:05d}" for i in range(10, 16)]
    videos = [v for batch in ds.reference_videos(batch_size=4) for v in batch]
    assert len(videos) == 6 and all(isinstance(v, Video) and v.fps == 7.0 for v in videos)
    for r, v, i in zip(reqs, videos, range(10, 16)):
        meta = sample_meta(i, "test")
        assert r.image is not None and torch.equal(r.image, v.frames[0])
        assert r.prompt == meta.caption
        assert r.extra["motion_class"] == meta.motion
        assert r.extra["content"] == {"shape": SHAPES[meta.shape], "color": COLORS[meta.color],
                                      "size": SIZES[meta.size],
                                      "background": BACKGROUNDS[meta.background]}
        assert (r.frames, r.height, r.width, r.fps) == (8, 32, 32, 7.0)
    seeds = [r.seed for r in reqs]
    assert len(set(seeds)) == 6
    assert seeds == [r.seed for r in SynthMotionDataset(
        _spec(options={"first_index": 10}, fps=7.0)).requests()]
    assert seeds != [r.seed for r in SynthMotionDataset(
        _spec(options={"first_index": 10}, seed=1)).requests()]


def test_manifest_hash_tracks_content() -> None:
    h = SynthMotionDataset(_spec()).manifest_hash()
    assert h == SynthMotionDataset(_spec(fps=30.0)).manifest_hash()  # fps: not pixels
    for change in ({"seed": 1}, {"frames": 16}, {"height": 16}, {"num_videos": 7},
                   {"split": "train"}, {"options": {"first_index": 1}}):
        assert SynthMotionDataset(_spec(**change)).manifest_hash() != h, change


def test_unknown_option_is_rejected() -> None:
    with pytest.raises(Exception, match="first_idx"):
        SynthMotionDataset(_spec(options={"first_idx": 3}))


def test_torch_dataset() -> None:
    ds = SynthMotionTorchDataset("train", length=5, frames=4, height=16, width=16, seed=2)
    assert len(ds) == 5
    item = ds[3]
    video, meta = render(3, "train", frames=4, height=16, width=16, seed=2)
    assert torch.equal(item["video"], video)
    assert {k: item[k] for k in ("motion", "shape", "color", "size", "background")} == {
        "motion": meta.motion, "shape": meta.shape, "color": meta.color, "size": meta.size,
        "background": meta.background}
    with pytest.raises(IndexError):
        ds[5]
    loader = torch.utils.data.DataLoader(ds, batch_size=5)
    batch = next(iter(loader))
    assert batch["video"].shape == (5, 4, 16, 16, 3) and batch["motion"].shape == (5,)


def test_rendering_is_fast() -> None:
    """CPU time of this process (all its threads), not wall-clock time: other jobs on the
    machine do not count (about 1.3 s per 1000 videos on a 2-core AMD EPYC VM)."""
    start = time.process_time()
    render_batch(range(250), "train", frames=16)
    per_thousand = (time.process_time() - start) * 4
    assert per_thousand < 10.0, f"{per_thousand:.1f} CPU s per 1000 videos"
