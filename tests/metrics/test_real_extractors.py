"""TorchScript / state-dict extractors on checkpoints the tests script, and the preset metrics."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import torch
from metric_test_utils import (
    FakeC3D,
    FakeI3D,
    ListDataset,
    make_videos,
    requests_for,
    script_to,
)

from vdmbench.errors import DataError, MetricError, WeightsNotFoundError
from vdmbench.metrics.base import MetricContext
from vdmbench.metrics.feature_metrics import (
    CdFVDArrayOptions,
    FVDCDFVDArray,
    FVDStyleGANV,
    ISStyleGANVOptions,
    ISStyleGANVUCF101,
    StyleGANVFVDOptions,
)
from vdmbench.metrics.real_extractors import (
    C3DTorchScriptExtractor,
    I3DStateDictExtractor,
    I3DTorchScriptExtractor,
)

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated")


@pytest.fixture
def i3d_ts(tmp_path) -> Path:
    torch.manual_seed(0)
    return script_to(FakeI3D(), tmp_path / "i3d_torchscript.pt")


def test_styleganv_call_uses_detector_rescale_and_resize(i3d_ts: Path) -> None:
    ex = I3DTorchScriptExtractor.from_path(str(i3d_ts), preset="fvd_styleganv_2048_16f")
    assert ex.weights_sha256 == hashlib.sha256(i3d_ts.read_bytes()).hexdigest()
    video = torch.full((2, 4, 16, 20, 3), 200, dtype=torch.uint8)
    f = ex.features(video)
    assert f.dtype == torch.float64 and f.shape == (2, 400)
    assert f[0, 0] == pytest.approx(200.0)   # 0..255 values reach the detector
    assert f[0, 1] == 20                      # not resized by vdmbench
    assert f[0, 2:5].tolist() == [1.0, 1.0, 1.0]  # rescale=True, resize=True, return_features


def test_cdfvd_torchscript_call_gets_our_preprocessing(i3d_ts: Path) -> None:
    ex = I3DTorchScriptExtractor.from_path(str(i3d_ts), preset="fvd_cdfvd_array")
    f = ex.features(torch.full((1, 4, 16, 20, 3), 255, dtype=torch.uint8))
    assert f[0, 0] == pytest.approx(1.0)      # already in [-1, 1]
    assert f[0, 1] == 224                     # squashed to 224 by vdmbench
    assert f[0, 2:5].tolist() == [0.0, 0.0, 1.0]


def test_c3d_called_with_uint8_and_returns_probs(tmp_path) -> None:
    path = script_to(FakeC3D(), tmp_path / "c3d_ucf101.pt")
    ex = C3DTorchScriptExtractor.from_path(str(path))
    p = ex.probs(torch.randint(0, 256, (3, 16, 12, 12, 3), dtype=torch.uint8))
    assert p.shape == (3, 101) and p.dtype == torch.float64
    torch.testing.assert_close(p.sum(dim=1), torch.ones(3, dtype=torch.float64))
    logits = script_to(FakeC3D(probs=False), tmp_path / "c3d_logits.pt")
    with pytest.raises(MetricError, match="not probabilities"):
        C3DTorchScriptExtractor.from_path(str(logits)).probs(
            torch.randint(0, 256, (2, 16, 12, 12, 3), dtype=torch.uint8))


def test_missing_and_bad_files(tmp_path, monkeypatch) -> None:
    with pytest.raises(WeightsNotFoundError) as e:
        I3DTorchScriptExtractor.from_path(str(tmp_path / "nope" / "i3d_torchscript.pt"))
    msg = str(e.value)
    assert "i3d_torchscript.pt" in msg and "weights:" in msg and "VDMBENCH_I3D_TORCHSCRIPT" in msg
    monkeypatch.delenv("VDMBENCH_NOT_SET_VAR", raising=False)
    with pytest.raises(WeightsNotFoundError, match="VDMBENCH_NOT_SET_VAR"):
        C3DTorchScriptExtractor.from_path("${VDMBENCH_NOT_SET_VAR}/c3d_ucf101.pt")
    monkeypatch.delenv("VDMBENCH_I3D_STATE_DICT", raising=False)
    with pytest.raises(WeightsNotFoundError, match="VDMBENCH_I3D_STATE_DICT"):
        I3DStateDictExtractor.from_path(None)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"\x00" * 100)
    with pytest.raises(DataError, match="junk.pt"):
        I3DTorchScriptExtractor.from_path(str(junk))
    with pytest.raises(DataError, match="junk.pt"):
        I3DStateDictExtractor.from_path(str(junk))
    # a pickle of an arbitrary object is refused by weights_only loading
    evil = tmp_path / "evil.pt"
    torch.save({"x": torch.zeros(1), "obj": Path("/tmp")}, evil)
    with pytest.raises(DataError, match="evil.pt"):
        I3DStateDictExtractor.from_path(str(evil))
    # the environment variable is the default location
    monkeypatch.setenv("VDMBENCH_C3D_TORCHSCRIPT", str(script_to(FakeC3D(), tmp_path / "c.pt")))
    assert C3DTorchScriptExtractor.from_path(None).weights_sha256


def test_styleganv_metric_end_to_end(i3d_ts: Path, tmp_path, monkeypatch) -> None:
    ref = make_videos(12, seed=1, frames=7) + make_videos(2, seed=9, frames=3)  # 2 too short
    ds = ListDataset(ref)
    monkeypatch.setenv("MY_WEIGHTS", str(i3d_ts.parent))
    opts = StyleGANVFVDOptions(weights="${MY_WEIGHTS}/i3d_torchscript.pt", num_real=20,
                               num_frames=5, batch_size=4)
    ctx = MetricContext(device="cpu", cache_dir=tmp_path / "cache", dataset=ds)
    good, bad = make_videos(8, seed=2, frames=6), make_videos(8, seed=3, frames=6, shift=0.3)
    values = []
    for gen in (good, bad):
        m = FVDStyleGANV(opts, ctx)
        m.prepare()
        m.update(gen, requests_for(gen))
        values.append(m.compute())
    assert values[0].details["n_ref"] == 12 and values[0].details["skipped"] == 2
    assert values[0].value < values[1].value
    proto = m.protocol()
    assert proto["id"] == "fvd_styleganv_2048_16f" and proto["version"] == "2"
    assert proto["extractor"]["weights_sha256"] == hashlib.sha256(i3d_ts.read_bytes()).hexdigest()
    assert proto["preprocessing"]["resized_by"] == "detector"
    assert "weights" not in proto["options"] and proto["options"]["num_frames"] == 5
    # too few generated frames for the protocol: the request is named
    m = FVDStyleGANV(opts, ctx)
    short = make_videos(2, seed=4, frames=3)
    with pytest.raises(MetricError, match="request g0 has 3 frames"):
        m.update(short, requests_for(short))
    # another checkpoint (different bytes) → another cache key
    other = script_to(FakeI3D(scale=2.0), tmp_path / "other.pt")
    m2 = FVDStyleGANV(StyleGANVFVDOptions(weights=str(other), num_real=20, num_frames=5), ctx)
    m2.update(good, requests_for(good))
    assert m2.compute().details["reference_cache_key"] != values[0].details["reference_cache_key"]
    # a different clip seed → another key as well
    m3 = FVDStyleGANV(StyleGANVFVDOptions(weights=str(i3d_ts), num_real=20, num_frames=5,
                                          seed=1), ctx)
    m3.update(good, requests_for(good))
    assert m3.compute().details["reference_cached"] is False


def test_cdfvd_and_is_metrics(i3d_ts: Path, tmp_path) -> None:
    ctx = MetricContext(device="cpu", cache_dir=tmp_path,
                        dataset=ListDataset(make_videos(6, seed=1, frames=5)))
    m = FVDCDFVDArray(CdFVDArrayOptions(weights=str(i3d_ts), format="torchscript",
                                        num_frames=4), ctx)
    gen = make_videos(4, seed=2, frames=4)
    m.update(gen, requests_for(gen))
    v = m.compute()
    assert v.n == 4 and v.details["feature_dim"] == 400 and v.value >= 0
    assert m.protocol()["preprocessing"]["resize_mode"] == "squash_bilinear"

    c3d = script_to(FakeC3D(), tmp_path / "c3d_ucf101.pt")
    is_metric = ISStyleGANVUCF101(ISStyleGANVOptions(weights=str(c3d), num_frames=4, splits=2),
                                  ctx)
    vids = make_videos(6, seed=5, frames=4)
    is_metric.update(vids, requests_for(vids))
    val = is_metric.compute()
    assert val.n == 6 and 1.0 <= val.value <= 101 and val.std is not None
    assert val.details["shuffle_seed"] == 42 and val.details["log_eps"] == 0.0


def test_styleganv_preset_prepares_whole_ucf101_videos(i3d_ts: Path, tmp_path: Path) -> None:
    """Real videos come from the dataset's source files (native size), prepared to 256×256."""
    from test_peers import _ucf_layout

    from vdmbench.data.ucf101 import UCF101Dataset
    from vdmbench.suite import DatasetSpec

    _ucf_layout(tmp_path / "ucf", 2, 60, 80)
    ds = UCF101Dataset(DatasetSpec(name="ucf101", split="trainval", num_videos=2, frames=16,
                                   height=48, width=64, options={"root": str(tmp_path / "ucf")}))
    ctx = MetricContext(device="cpu", cache_dir=tmp_path / "cache", dataset=ds)
    m = FVDStyleGANV(StyleGANVFVDOptions(weights=str(i3d_ts), num_real=3, batch_size=2), ctx)
    gen = make_videos(3, seed=2, frames=16, size=40)
    m.update(gen, requests_for(gen))
    v = m.compute()
    assert v.details["n_ref"] == 3 and v.details["skipped"] == 0
    assert m._ref is not None
    assert m._ref.mean[1] == 256.0   # the detector saw 256-wide real frames
    assert m._gen.mean[1] == 40.0    # and the generated frames as they are



def test_loading_a_detector_prints_no_torchscript_deprecation(tmp_path) -> None:
    """torch flags torch.jit.load (FutureWarning in 2.14); loading a detector stays quiet, and
    the filter does not leak out of the call."""
    import warnings

    from vdmbench.metrics.real_extractors import load_torchscript

    path = script_to(FakeC3D(), tmp_path / "c3d.pt")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        load_torchscript(path, "cpu")
        warnings.warn("after the call", FutureWarning, stacklevel=1)
    assert [str(w.message) for w in caught] == ["after the call"]


def test_cdfvd_folder_window_draws_in_the_reference_key_and_generated_lengths(
        tmp_path: Path) -> None:
    """``window_draw: cdfvd`` keys the reference statistics by cd-fvd's listing order too (the
    same files listed in another order get other windows) and refuses generated videos of mixed
    lengths, whose draw it cannot know in advance; ``seeded`` accepts them."""
    from test_peers import TinyVideoNet, _ucf_layout

    from vdmbench.data.ucf101 import UCF101Dataset
    from vdmbench.metrics.feature_metrics import FVDCDFVD128, CdFVDFolderOptions
    from vdmbench.metrics.real_extractors import I3DStateDictExtractor
    from vdmbench.suite import DatasetSpec

    _ucf_layout(tmp_path / "ucf", 2, 60, 80, lengths=(20, 24))
    ds = UCF101Dataset(DatasetSpec(name="ucf101", split="trainval", num_videos=2, frames=16,
                                   height=48, width=64, options={"root": str(tmp_path / "ucf")}))
    ctx = MetricContext(device="cpu", cache_dir=tmp_path / "cache", dataset=ds)

    def metric(**options: object) -> FVDCDFVD128:
        m = FVDCDFVD128(CdFVDFolderOptions(num_gen=3, batch_size=2, **options), ctx)
        m._extractor = I3DStateDictExtractor(TinyVideoNet(), "0" * 64,  # type: ignore[arg-type]
                                             preset=m.name)
        return m

    key, material = metric().reference_key()
    seeded_key, seeded_material = metric(window_draw="seeded").reference_key()
    assert len(material["cdfvd_listing_sha256"]) == 64
    assert "cdfvd_listing_sha256" not in seeded_material and key != seeded_key
    mixed = make_videos(2, seed=3, frames=24, size=40) + make_videos(1, seed=4, frames=20,
                                                                     size=40)
    with pytest.raises(MetricError, match="request g2 has 20 frames, earlier generated videos "
                                          "24; window_draw 'cdfvd'"):
        metric().update(mixed, requests_for(mixed))
    m = metric(window_draw="seeded")
    m.update(mixed, requests_for(mixed))
    v = m.compute()
    assert v.n == 3 and v.details["window_draw"] == "seeded" and v.value > 0
    assert not v.details["reference_cached"]
    again = metric(window_draw="seeded")  # the cached statistics say how they were drawn too
    again.update(mixed, requests_for(mixed))
    cached = again.compute()
    assert cached.details["reference_cached"] and cached.details["window_draw"] == "seeded"
    assert cached.value == v.value
