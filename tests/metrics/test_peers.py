"""vdmbench against its peers' own code.

cd-fvd 0.1.1 and torch-fidelity 0.4.0 are imported and run (see ``peer_utils``); StyleGAN-V and
TGANv2 are not packaged, so their steps are written out below as small reference functions, each
naming the repository, path and commit it follows. The agreement measured here is the table in
docs/metrics.md.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from metric_test_utils import requests_for
from peer_utils import import_peer
from PIL import Image
from torch import nn

from vdmbench.data.ucf101 import UCF101Dataset
from vdmbench.metrics.base import MetricContext
from vdmbench.metrics.feature_metrics import (
    FVDCDFVD128,
    FVDCDFVD256,
    ISTGAN2UCF101,
    CdFVDFolderOptions,
    ISStyleGANVOptions,
    ISStyleGANVUCF101,
    ISTgan2Options,
)
from vdmbench.metrics.frechet import FeatureStats, frechet_distance, frechet_distance_from_stats
from vdmbench.metrics.i3d import InceptionI3d, load_i3d_state_dict
from vdmbench.metrics.inception_score import inception_score
from vdmbench.metrics.protocols import (
    cdfvd_i3d_input,
    cdfvd_prepare,
    cdfvd_windows,
    styleganv_prepare_real,
)
from vdmbench.metrics.real_extractors import I3DStateDictExtractor
from vdmbench.suite import DatasetSpec
from vdmbench.video import Video

# ------------------------------------------------------------------------------------------------
# Fréchet distance and Inception Score: torch-fidelity 0.4.0
# ------------------------------------------------------------------------------------------------


def _features(n: int, d: int, seed: int, shift: float) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mix = rng.standard_normal((d, d)) / np.sqrt(d)
    return rng.standard_normal((n, d)) @ mix + shift


@pytest.mark.parametrize(("d", "n"), [(16, 200), (64, 300),
                                        pytest.param(400, 500, marks=pytest.mark.slow)])
def test_frechet_distance_matches_torch_fidelity(d: int, n: int) -> None:
    tf = import_peer("torch_fidelity.metric_fid")
    a, b = _features(n, d, seed=d, shift=0.0), _features(n + 7, d, seed=d + 1, shift=0.3)
    s1 = tf.fid_features_to_statistics(torch.from_numpy(a))
    s2 = tf.fid_features_to_statistics(torch.from_numpy(b))
    ref = tf.fid_statistics_to_metric(s1, s2, verbose=False)["frechet_inception_distance"]
    # the same statistics through our function
    ours = frechet_distance(s1["mu"], s1["sigma"], s2["mu"], s2["sigma"])
    assert ours == pytest.approx(ref, rel=1e-10)
    # our streaming statistics (unbiased, as torch-fidelity's np.cov), fed in three parts
    fa, fb = FeatureStats(), FeatureStats()
    for part in np.array_split(a, 3):
        fa.update(part)
    fb.update(b)
    assert frechet_distance_from_stats(fa, fb, unbiased=True) == pytest.approx(ref, rel=1e-10)


def test_frechet_distance_rank_deficient_vs_torch_fidelity() -> None:
    """N < d: both square roots are of a singular product; measured agreement ~1e-9 relative
    (sqrtm vs eigenvalues), far below the ÷N vs ÷(N−1) difference."""
    tf = import_peer("torch_fidelity.metric_fid")
    a, b = _features(48, 64, seed=5, shift=0.0), _features(40, 64, seed=6, shift=0.2)
    s1 = tf.fid_features_to_statistics(torch.from_numpy(a))
    s2 = tf.fid_features_to_statistics(torch.from_numpy(b))
    ref = tf.fid_statistics_to_metric(s1, s2, verbose=False)["frechet_inception_distance"]
    ours = frechet_distance(s1["mu"], s1["sigma"], s2["mu"], s2["sigma"])
    assert ours == pytest.approx(ref, rel=1e-7)


@pytest.mark.parametrize("eps", [0.0, 1e-20])
def test_inception_score_matches_torch_fidelity(eps: float) -> None:
    tf = import_peer("torch_fidelity.metric_isc")
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2048, 101, generator=g, dtype=torch.float64) * 3.0
    probs = torch.softmax(logits, dim=1).numpy()
    for shuffle, seed in ((True, 2020), (False, None)):
        ref = tf.isc_features_to_metric(logits, splits=10, shuffle=shuffle, rng_seed=2020)
        mean, std = inception_score(probs, splits=10, shuffle_seed=seed, eps=eps)
        assert mean == pytest.approx(ref["inception_score_mean"], rel=1e-10)
        assert std == pytest.approx(ref["inception_score_std"], rel=1e-8, abs=1e-12)


# ------------------------------------------------------------------------------------------------
# IS protocols: StyleGAN-V and TGANv2 reference functions
# ------------------------------------------------------------------------------------------------


def styleganv_isv_reference(gen_probs: np.ndarray, num_gen: int = 2048,
                            num_splits: int = 10) -> tuple[float, float]:
    """universome/stylegan-v @ 1f630af59d8f34a4a70417abc412c1c7c3b0d97c, transcribed from
    src/metrics/video_inception_score.py (compute_isv; metric_main.py's isv2048_ucf passes
    num_gen=2048, num_splits=10). The probabilities come from metric_utils.FeatureStats, whose
    append stores them as float32 and get_all concatenates them: float32 rows. Then
    ``np.random.RandomState(42).shuffle`` of the rows in place; split i is rows
    [i·num_gen//num_splits, (i+1)·num_gen//num_splits); KL = part·(log part − log mean part),
    summed over classes, averaged over rows, exponentiated; numpy mean and std of the scores —
    all of it on float32 arrays."""
    gen_probs = np.array(gen_probs, dtype=np.float32)  # FeatureStats.append; a copy
    scores = []
    np.random.RandomState(42).shuffle(gen_probs)
    for i in range(num_splits):
        part = gen_probs[i * num_gen // num_splits:(i + 1) * num_gen // num_splits]
        kl = part * (np.log(part) - np.log(np.mean(part, axis=0, keepdims=True)))
        scores.append(np.exp(np.mean(np.sum(kl, axis=1))))
    return float(np.mean(scores)), float(np.std(scores))


def tgan2_reference(probs: np.ndarray, n_loops: int, n_samples: int) -> tuple[float, float]:
    """pfnet-research/tgan2 @ d83018c96bc607f2150bdff583487dd4f7908e87,
    scripts/compute_inception_score.py: n_loops (10) times, n_samples (2048) fresh samples scored
    by tgan2/evaluations/inception_score.py with splits=1: every probability gets eps = 1e-20
    added, KL against the mean of those, exp of the mean KL; the report is numpy mean and
    (population) std of the n_loops scores."""
    scores = []
    for k in range(n_loops):
        ys = probs[k * n_samples:(k + 1) * n_samples] + 1e-20
        kl = ys * (np.log(ys) - np.log(ys.mean(axis=0, keepdims=True)))
        scores.append(np.exp(kl.sum(axis=1).mean()))
    return float(np.mean(scores)), float(np.std(scores))


def _peaked_probs(n: int, seed: int, temperature: float) -> np.ndarray:
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, 101, generator=g, dtype=torch.float64) / temperature
    return torch.softmax(logits, dim=1).numpy()


def _class_ordered_probs(n: int, classes: int, seed: int) -> np.ndarray:
    """``(n, classes)`` float32 softmax rows in the order a class-by-class request list gives
    them (UCF101's requests are sorted by class): row i peaks at class i·classes//n, so
    consecutive splits hold few classes and a shuffle changes the score."""
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, classes, generator=g) * 1.5
    logits[torch.arange(n), torch.arange(n) * classes // n] += 4.0
    return torch.softmax(logits, dim=1).numpy()


def test_is_styleganv_preset_matches_styleganv_code(tmp_path: Path) -> None:
    """The preset against StyleGAN-V's compute_isv transcribed above, on 2048 rows where its
    RandomState(42) shuffle moves both the mean and the std: equal bit for bit."""
    ctx = MetricContext(device="cpu", cache_dir=tmp_path)
    probs = _class_ordered_probs(2048, 101, seed=1)
    ref = styleganv_isv_reference(probs)
    sg = ISStyleGANVUCF101(ISStyleGANVOptions(), ctx)
    # the metric keeps the extractor's rows as float64 (exact copies of float32 values)
    mean, std, details = sg.score(probs.astype(np.float64))
    assert (mean, std) == ref
    assert details["shuffle_seed"] == 42 and details["splits"] == 10
    assert details["dtype"] == "float32"
    # what version 1 computed (no shuffle, float64) is another number on these rows
    v1_mean, v1_std = styleganv_isv_v1(probs)
    assert abs(v1_mean / ref[0] - 1) > 0.05 and abs(v1_std / ref[1] - 1) > 0.05
    # float32 matters at the level the test checks: float64 steps give another value
    f64 = inception_score(probs, splits=10, shuffle_seed=42, eps=0.0)
    assert f64 != ref and f64 == pytest.approx(ref, rel=1e-5)


def styleganv_isv_v1(probs: np.ndarray) -> tuple[float, float]:
    """What ``is_styleganv_ucf101`` v1 computed: no shuffle, float64 steps."""
    return inception_score(probs, splits=10, shuffle_seed=None, eps=0.0)


def test_is_tgan2_preset_matches_tgan2_reference(tmp_path: Path) -> None:
    ctx = MetricContext(device="cpu", cache_dir=tmp_path)
    draws = _peaked_probs(5 * 400, seed=2, temperature=0.5)
    tg = ISTGAN2UCF101(ISTgan2Options(draws=5, samples_per_draw=400), ctx)
    mean2, std2, details2 = tg.score(draws)
    assert (mean2, std2) == pytest.approx(tgan2_reference(draws, 5, 400), rel=1e-12)
    assert len(details2["draw_scores"]) == 5
    # the two protocols are different numbers on the same samples: one 2048 set scored whole
    # (TGANv2, splits=1) vs cut into 10 shuffled splits (StyleGAN-V)
    probs = _peaked_probs(2048, seed=1, temperature=0.5)
    whole = tgan2_reference(probs, 1, 2048)[0]
    assert whole > styleganv_isv_reference(probs)[0] * 1.005


# ------------------------------------------------------------------------------------------------
# StyleGAN-V's real-data preparation
# ------------------------------------------------------------------------------------------------


def styleganv_frame_reference(frame: np.ndarray, target_size: int = 256) -> np.ndarray:
    """universome/stylegan-v @ 1f630af59d8f34a4a70417abc412c1c7c3b0d97c,
    src/scripts/convert_videos_to_frames.py (process_video), for every frame:
    torchvision's resize(frame, size=target_size, interpolation=LANCZOS) on a PIL image — the
    short side becomes target_size, the long side int(target_size·long/short), by PIL's resize —
    then center_crop((target_size, target_size)) — top/left int(round((dim − target)/2)) — then
    ``frame.save(path.jpg, q=95)``; the dataset reads the JPEG back as RGB uint8."""
    img = Image.fromarray(frame)
    w, h = img.size
    if w <= h:
        ow, oh = target_size, int(target_size * h / w)
    else:
        ow, oh = int(target_size * w / h), target_size
    if (ow, oh) != (w, h):
        img = img.resize((ow, oh), Image.LANCZOS)
    arr = np.asarray(img)
    top, left = int(round((oh - target_size) / 2.0)), int(round((ow - target_size) / 2.0))
    cropped = Image.fromarray(np.ascontiguousarray(arr[top:top + target_size,
                                                       left:left + target_size]))
    buf = io.BytesIO()
    cropped.save(buf, format="JPEG", q=95)  # as the script calls it
    buf.seek(0)
    return np.asarray(Image.open(buf).convert("RGB"))


@pytest.mark.parametrize("hw", [(240, 320), (320, 240), (256, 256), (100, 150)])
def test_styleganv_real_preparation_matches_reference(hw: tuple[int, int]) -> None:
    rng = np.random.default_rng(hw[0])
    base = rng.integers(0, 256, (3, hw[0] // 4 + 1, hw[1] // 4 + 1, 3)).astype(np.float32)
    frames = F.interpolate(torch.from_numpy(base).permute(0, 3, 1, 2), size=hw,
                           mode="bilinear", align_corners=False)
    frames = frames.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()
    ours = styleganv_prepare_real(frames)
    assert ours.shape == (3, 256, 256, 3) and ours.dtype == torch.uint8
    for t in range(3):
        assert np.array_equal(ours[t].numpy(), styleganv_frame_reference(frames[t]))


def test_pillow_ignores_the_scripts_q_argument() -> None:
    """StyleGAN-V's ``save(..., q=95)`` writes the same bytes as Pillow's default (quality 75),
    not quality 95 — so vdmbench uses the default."""
    img = Image.fromarray(np.random.default_rng(0).integers(0, 256, (32, 48, 3), np.uint8))

    def enc(**kw: object) -> bytes:
        buf = io.BytesIO()
        img.save(buf, format="JPEG", **kw)
        return buf.getvalue()

    assert enc(q=95) == enc() == enc(quality=75)
    assert enc(quality=95) != enc()


# ------------------------------------------------------------------------------------------------
# cd-fvd 0.1.1: its I3D, its preprocessing, its loader and statistics
# ------------------------------------------------------------------------------------------------


def _seeded_cdfvd_i3d() -> nn.Module:
    pi3d = import_peer("cdfvd.third_party.i3d.pytorch_i3d")
    torch.manual_seed(0)
    peer = pi3d.InceptionI3d(400, in_channels=3)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for mod in peer.modules():
            if isinstance(mod, nn.BatchNorm3d):
                mod.weight.uniform_(0.5, 1.5, generator=g)
                mod.bias.normal_(0.0, 0.1, generator=g)
                mod.running_mean.normal_(0.0, 0.1, generator=g)
                mod.running_var.uniform_(0.5, 1.5, generator=g)
    return peer.eval()


def test_i3d_bitwise_equal_to_cdfvd_network() -> None:
    peer = _seeded_cdfvd_i3d()
    ours = InceptionI3d(400, family="videogpt").eval()
    load_i3d_state_dict(ours, peer.state_dict(), source="cd-fvd InceptionI3d")
    video = torch.randint(0, 256, (1, 16, 60, 80, 3), dtype=torch.uint8,
                          generator=torch.Generator().manual_seed(2))
    utils = import_peer("cdfvd.third_party.i3d.utils")
    x_peer = utils.preprocess_i3d(video.numpy())
    x_ours = cdfvd_i3d_input(video)
    assert torch.equal(x_peer, x_ours)
    with torch.no_grad():
        assert torch.equal(peer(x_peer), ours(x_ours))


def _textured_video(seed: int, frames: int, h: int, w: int, bright: float = 0.0) -> np.ndarray:
    g = torch.Generator().manual_seed(seed)
    base = torch.rand(1, 3, h // 8 + 2, w // 8 + 2, generator=g) * 200 + 20 + bright
    out = []
    for t in range(frames):
        shifted = torch.roll(base, shifts=(t % 3, t), dims=(2, 3))
        out.append(F.interpolate(shifted, size=(h, w), mode="bicubic", align_corners=False))
    v = torch.cat(out).clamp(0, 255).round().to(torch.uint8).permute(0, 2, 3, 1)
    noise = torch.randint(0, 12, v.shape, generator=g, dtype=torch.uint8)
    return (v.int() + noise.int()).clamp(0, 255).to(torch.uint8).numpy()


def _write_avi(path: Path, frames: np.ndarray) -> None:
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as c:
        s = c.add_stream("png", rate=25)  # lossless: every reader gets the same frames
        s.width, s.height, s.pix_fmt = frames.shape[2], frames.shape[1], "rgb24"
        for f in frames:
            for p in s.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(f),
                                                         format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)


def _ucf_layout(root: Path, n_per_class: int, h: int, w: int,
                lengths: tuple[int, ...] = (16,)) -> list[Path]:
    """A UCF101-layout folder (two classes, split files); video k of class c has
    ``lengths[(c·n_per_class + k) % len(lengths)]`` frames."""
    classes = ["Archery", "Biking"]
    files, train, test = [], [], []
    for ci, cls in enumerate(classes):
        for k in range(n_per_class):
            rel = f"{cls}/v_{cls}_g{k + 1:02d}_c01.avi"
            t = lengths[(ci * n_per_class + k) % len(lengths)]
            _write_avi(root / "UCF-101" / rel, _textured_video(10 * ci + k, t, h, w))
            files.append(root / "UCF-101" / rel)
            (test if k % 2 else train).append((rel, ci + 1))
    lists = root / "ucfTrainTestlist"
    lists.mkdir(parents=True)
    (lists / "classInd.txt").write_text("".join(f"{i + 1} {c}\n" for i, c in enumerate(classes)))
    (lists / "trainlist01.txt").write_text("".join(f"{r} {lab}\n" for r, lab in train))
    (lists / "testlist01.txt").write_text("".join(f"{r}\n" for r, _ in test))
    return files


class TinyVideoNet(nn.Module):
    """A cheap stand-in for the I3D (same input: (B, 3, T, 224, 224) in [−1, 1]) → (B, 5), so
    the pipeline comparison runs in seconds; the I3D itself is compared bit for bit above."""

    family = "test"
    bn_eps = 0.0

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(3)
        self.proj = nn.Linear(3 * 2 * 4 * 4, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(F.adaptive_avg_pool3d(x, (2, 4, 4)).flatten(1) * 4.0)


def _vdmbench_fvd(root: Path, fakes: list[Video], model: nn.Module, metric_cls: type,
                  cache: Path, **options: object) -> float:
    ds = UCF101Dataset(DatasetSpec(name="ucf101", split="trainval", num_videos=2, frames=16,
                                   height=32, width=32, options={"root": str(root)}))
    ctx = MetricContext(device="cpu", cache_dir=cache, dataset=ds)
    m = metric_cls(CdFVDFolderOptions(num_gen=len(fakes), batch_size=4, **options), ctx)
    m._extractor = I3DStateDictExtractor(model, "0" * 64, preset=m.name)  # type: ignore[arg-type]
    m.update(fakes, requests_for(fakes))
    return m.compute().value


@pytest.mark.parametrize(("metric_cls", "resolution", "hw"), [
    (FVDCDFVD128, 128, (144, 176)),
    pytest.param(FVDCDFVD256, 256, (120, 160), marks=pytest.mark.slow)])
def test_cdfvd_folder_preset_matches_cdfvd_pipeline(tmp_path: Path, metric_cls: type,
                                                    resolution: int, hw: tuple[int, int],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    _ucf_layout(tmp_path / "ucf", 4, *hw)
    fake_arrays = [_textured_video(100 + k, 16, *hw, bright=25.0) for k in range(8)]
    fake_files = []
    for k, a in enumerate(fake_arrays):
        fake_files.append(tmp_path / "fake" / f"fake_{k:02d}.avi")
        _write_avi(fake_files[-1], a)
    model = TinyVideoNet()
    peer, _ = _cdfvd_folder_peer(tmp_path / "ucf" / "UCF-101", tmp_path / "fake", model,
                                 resolution, tmp_path / "i3d.pt", len(fake_files), monkeypatch)
    fakes = [Video(torch.from_numpy(a), fps=25.0) for a in fake_arrays]
    ours = _vdmbench_fvd(tmp_path / "ucf", fakes, model, metric_cls, tmp_path / "cache")
    assert ours == pytest.approx(peer, rel=1e-6)
    assert ours > 0


class VideoClipsStandIn:
    """Stands in for torchvision's ``VideoClips`` under cd-fvd's ``VideoDataset`` (torchvision
    0.29.1's decodes only through torchcodec, which the peer set does not install): the same
    interface and clip list as torchvision 0.29.1's with ``frames_between_clips=1`` and no
    frame rate — video i's pts are its frame indices, its clips every run of
    ``clip_length_in_frames`` consecutive indices (none when it is shorter), ``get_clip(idx)``
    raises IndexError at ``idx >= num_clips()`` and otherwise reads the clip
    ``self.get_clip_location(idx)`` names (cd-fvd replaces that method with its random draw) —
    decoded with PyAV, THWC uint8. Everything else is cd-fvd's own code."""

    def __init__(self, video_paths: list[str], clip_length_in_frames: int = 16,
                 frames_between_clips: int = 1, frame_rate: int | None = None,
                 _precomputed_metadata: dict | None = None, num_workers: int = 0) -> None:
        import av

        assert frames_between_clips == 1 and frame_rate is None
        self.video_paths = list(video_paths)
        if _precomputed_metadata is None:
            self.video_pts = []
            for p in self.video_paths:
                with av.open(p) as c:
                    self.video_pts.append(torch.arange(sum(1 for _ in c.decode(video=0))))
        else:
            self.video_paths = _precomputed_metadata["video_paths"]
            self.video_pts = _precomputed_metadata["video_pts"]
        self.num_frames = clip_length_in_frames
        self.clips = [pts.unfold(0, clip_length_in_frames, 1) if len(pts) >= clip_length_in_frames
                      else torch.zeros((0, clip_length_in_frames), dtype=torch.long)
                      for pts in self.video_pts]
        self.cumulative_sizes = torch.tensor([len(c) for c in self.clips]).cumsum(0).tolist()

    @property
    def metadata(self) -> dict:
        return {"video_paths": self.video_paths, "video_pts": self.video_pts, "video_fps": None}

    def num_videos(self) -> int:
        return len(self.video_paths)

    def num_clips(self) -> int:
        return self.cumulative_sizes[-1]

    def get_clip(self, idx: int) -> tuple[torch.Tensor, torch.Tensor, dict, int]:
        import av

        if idx >= self.num_clips():
            raise IndexError(f"Index {idx} out of range ({self.num_clips()} number of clips)")
        video_idx, clip_idx = self.get_clip_location(idx)  # type: ignore[attr-defined]
        pts = self.clips[video_idx][clip_idx]
        with av.open(self.video_paths[video_idx]) as c:
            frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
        video = torch.from_numpy(np.stack(frames[int(pts[0]):int(pts[-1]) + 1]))
        return video, torch.zeros((1, 0)), {"video_fps": 25.0}, video_idx


def _cdfvd_folder_peer(real: Path, fake: Path, model: nn.Module, resolution: int, ckpt: Path,
                       n_fake: int, monkeypatch: pytest.MonkeyPatch, num_workers: int = 0
                       ) -> tuple[float, list[str]]:
    """cd-fvd's own ``load_videos(data_type='video_folder', num_workers, batch_size=4)``,
    ``compute_real_stats``, ``compute_fake_stats`` and ``compute_fvd_from_stats`` with
    :class:`VideoClipsStandIn` under its ``VideoDataset`` → (FVD, the fake folder's files in the
    order cd-fvd lists them)."""
    data_utils = import_peer("cdfvd.utils.data_utils")
    fvd_mod = import_peer("cdfvd.fvd")
    monkeypatch.setattr(data_utils, "VideoClips", VideoClipsStandIn)
    torch.save(_seeded_cdfvd_i3d().state_dict(), ckpt)
    with warnings.catch_warnings(), torch.random.fork_rng(devices=[]):
        warnings.simplefilter("ignore")
        ev = fvd_mod.cdfvd("i3d", n_real="full", n_fake=n_fake, ckpt_path=str(ckpt),
                           device="cpu")
        ev.model = model.eval()
        loaders = [ev.load_videos(str(folder), resolution=resolution, data_type="video_folder",
                                  num_workers=num_workers, batch_size=4)
                   for folder in (real, fake)]
        ev.compute_real_stats(loaders[0])
        ev.compute_fake_stats(loaders[1])
        value = float(ev.compute_fvd_from_stats())
    return value, list(loaders[1].dataset._clips.video_paths)


@pytest.mark.parametrize("num_workers", [0, pytest.param(2, marks=pytest.mark.slow)])
def test_cdfvd_folder_preset_matches_cdfvd_windows_on_long_videos(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, num_workers: int) -> None:
    """Videos longer than 16 frames (17–30 real frames, one video of 12 that cd-fvd replaces;
    24 generated): the preset (window_draw 'cdfvd') equals cd-fvd's own loader and statistics
    run with num_workers=0, and with cdfvd_num_workers=2, cdfvd_batch_size=4 cd-fvd run with
    2 workers and batches of 4; vdmbench's 'seeded' draw picks other windows and gives
    another number."""
    hw = (144, 176)
    _ucf_layout(tmp_path / "ucf", 4, *hw, lengths=(24, 20, 12, 30, 24, 17))
    fake_dir = tmp_path / "fake"
    arrays = {}
    for k in range(8):
        path = fake_dir / f"fake_{k:02d}.avi"
        arrays[str(path)] = _textured_video(100 + k, 24, *hw, bright=25.0)
        _write_avi(path, arrays[str(path)])
    model = TinyVideoNet()
    peer, fake_order = _cdfvd_folder_peer(tmp_path / "ucf" / "UCF-101", fake_dir, model, 128,
                                          tmp_path / "i3d.pt", len(arrays), monkeypatch,
                                          num_workers)
    # vdmbench's generated videos in request order play the fake folder's listing order
    fakes = [Video(torch.from_numpy(arrays[p]), fps=25.0) for p in fake_order]
    ours = _vdmbench_fvd(tmp_path / "ucf", fakes, model, FVDCDFVD128, tmp_path / "cache",
                         cdfvd_num_workers=num_workers, cdfvd_batch_size=4)
    seeded = _vdmbench_fvd(tmp_path / "ucf", fakes, model, FVDCDFVD128, tmp_path / "cache",
                           window_draw="seeded")
    assert ours == pytest.approx(peer, rel=1e-9)
    assert abs(seeded / peer - 1) > 1e-3


class _LoggingClips(VideoClipsStandIn):
    """The stand-in without decoding: ``get_clip`` logs (video, first frame) and returns a
    blank 16×8×8 clip."""

    log: list[tuple[int, int]] = []

    def get_clip(self, idx: int) -> tuple[torch.Tensor, torch.Tensor, dict, int]:
        if idx >= self.num_clips():
            raise IndexError(f"Index {idx} out of range ({self.num_clips()} number of clips)")
        video_idx, clip_idx = self.get_clip_location(idx)  # type: ignore[attr-defined]
        self.log.append((video_idx, int(self.clips[video_idx][clip_idx][0])))
        return (torch.zeros((self.num_frames, 8, 8, 3), dtype=torch.uint8), torch.zeros((1, 0)),
                {}, video_idx)


@pytest.mark.parametrize(("lengths", "count"), [
    ((40, 16, 12, 25, 90, 17, 30, 12), None),  # short videos in the middle and at the end
    ((20, 12, 33, 18, 16), 13),  # n_real above the number of videos: more passes
])
def test_cdfvd_windows_match_cdfvd_loader(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          lengths: tuple[int, ...], count: int | None) -> None:
    """:func:`cdfvd_windows` against cd-fvd's own ``VideoDataset`` and DataLoader
    (``load_videos(..., num_workers=0)``) after its ``seed_everything``, iterated as
    ``compute_real_stats`` iterates it (again while fewer than ``n_real`` clips): the same
    (video, first frame) sequence, with short videos replaced (also past the last video, where
    the loader wraps around) and repeated passes."""
    import pickle

    data_utils = import_peer("cdfvd.utils.data_utils")
    fvd_mod = import_peer("cdfvd.fvd")
    metric_utils = import_peer("cdfvd.utils.metric_utils")
    monkeypatch.setattr(data_utils, "VideoClips", _LoggingClips)
    monkeypatch.setattr(_LoggingClips, "log", [])
    folder = tmp_path / "videos"
    folder.mkdir()
    for k in range(len(lengths)):
        (folder / f"v{k}.avi").write_bytes(b"")
    listed = [str(folder / f"v{k}.avi") for k in range(len(lengths))]
    pts = [torch.arange(t) for t in lengths]
    with open(folder / "metadata_16.pkl", "wb") as f:  # cd-fvd's metadata cache
        pickle.dump({"video_paths": listed, "video_pts": pts, "video_fps": None}, f)
    ev = object.__new__(fvd_mod.cdfvd)  # load_videos uses no model
    with torch.random.fork_rng(devices=[]):
        loader = ev.load_videos(str(folder), resolution=8, data_type="video_folder",
                                num_workers=0, batch_size=4)
        metric_utils.seed_everything(42)  # what compute_real_stats does first
        got = 0
        while got < (len(lengths) if count is None else count):
            for batch in loader:
                got += batch["video"].shape[0]
                if count is not None and got >= count:
                    break
            if count is None:
                break
    want = cdfvd_windows([len(p) for p in pts], 16, 42, count)
    assert _LoggingClips.log[:len(want)] == want
    assert len({v for v, _ in want}) > 2 and len(set(want)) > 2


def test_cdfvd_prepare_matches_cdfvd_preprocess_and_byte() -> None:
    """cd-fvd's ``preprocess`` (short side, antialias, crop) then ``(x·255).byte()`` as in
    ``compute_real_stats`` — bit for bit, downscaling and upscaling, landscape and portrait."""
    data_utils = import_peer("cdfvd.utils.data_utils")
    for hw, res in [((240, 320), 128), ((240, 320), 256), ((300, 200), 128), ((96, 96), 128)]:
        frames = _textured_video(hw[0] + res, 5, *hw)
        peer = (data_utils.preprocess(torch.from_numpy(frames), res)["video"] * 255)
        peer = peer.byte().permute(1, 2, 3, 0)  # CTHW → THWC
        assert torch.equal(cdfvd_prepare(frames, res), peer)


@pytest.mark.slow
def test_cdfvd_folder_preset_with_the_i3d_matches_cdfvd(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """As the fast test, with cd-fvd's I3D (seeded random weights) on both sides."""
    hw = (144, 176)
    _ucf_layout(tmp_path / "ucf", 3, *hw)
    fake_arrays = [_textured_video(100 + k, 16, *hw, bright=25.0) for k in range(6)]
    fake_files = []
    for k, a in enumerate(fake_arrays):
        fake_files.append(tmp_path / "fake" / f"fake_{k:02d}.avi")
        _write_avi(fake_files[-1], a)
    peer_net = _seeded_cdfvd_i3d()
    peer, _ = _cdfvd_folder_peer(tmp_path / "ucf" / "UCF-101", tmp_path / "fake", peer_net,
                                 128, tmp_path / "i3d.pt", len(fake_files), monkeypatch)
    ours_net = InceptionI3d(400, family="videogpt").eval()
    load_i3d_state_dict(ours_net, peer_net.state_dict())
    fakes = [Video(torch.from_numpy(a), fps=25.0) for a in fake_arrays]
    ours = _vdmbench_fvd(tmp_path / "ucf", fakes, ours_net, FVDCDFVD128, tmp_path / "cache")
    assert ours == pytest.approx(peer, rel=1e-6)
