"""The synthetic world's feature extractors: shipped weights, held-out accuracy, loading."""

from __future__ import annotations

import json

import pytest
import torch

from vdmbench.data.synthmotion import MOTION_CLASSES, render_batch
from vdmbench.errors import InvalidVideoError, WeightsNotFoundError
from vdmbench.paths import sha256_file
from vdmbench.synth.extractor_nets import (
    ASSET_DIR,
    CONTENT_HEADS,
    CONTENT_WEIGHTS,
    MOTION_WEIGHTS,
    ContentNet,
    MotionNet,
    SynthContentExtractor,
    SynthMotionExtractor,
    load_net,
    save_net,
)

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def motion() -> SynthMotionExtractor:
    return SynthMotionExtractor()


@pytest.fixture(scope="module")
def content() -> SynthContentExtractor:
    return SynthContentExtractor()


def test_shipped_weights_match_their_record() -> None:
    record = json.loads((ASSET_DIR / "extractors.json").read_text())
    total = 0
    for kind, fname in (("motion", MOTION_WEIGHTS), ("content", CONTENT_WEIGHTS)):
        path = ASSET_DIR / fname
        assert record[kind]["sha256"] == sha256_file(path)
        total += path.stat().st_size
    assert total < 2_000_000
    assert min(record["motion"]["test_accuracy"].values()) >= 0.95
    assert min(record["content"]["test_accuracy_per_frame"].values()) >= 0.95


def test_motion_net_held_out_accuracy(motion: SynthMotionExtractor) -> None:
    # fresh test-split videos, outside the range the training script evaluated on
    for frames in (8, 16):
        videos, metas = render_batch(range(20_000, 20_088), "test", frames=frames)
        p = motion.probs(videos)
        assert p.dtype == torch.float64 and p.shape == (88, len(MOTION_CLASSES))
        assert torch.allclose(p.sum(1), torch.ones(88, dtype=torch.float64))
        acc = (p.argmax(1) == torch.tensor([m.motion for m in metas])).double().mean().item()
        assert acc >= 0.9, (frames, acc)


def test_content_net_held_out_accuracy(content: SynthContentExtractor) -> None:
    videos, metas = render_batch(range(20_000, 20_064), "test", frames=4)
    pred = content.predict(videos)
    for key in CONTENT_HEADS:
        truth = torch.tensor([getattr(m, key) for m in metas]).repeat_interleave(4)
        acc = (pred[key] == truth).double().mean().item()
        assert acc >= 0.9, (key, acc)


def test_feature_shapes_and_other_input_sizes(motion: SynthMotionExtractor,
                                              content: SynthContentExtractor) -> None:
    videos, _ = render_batch(range(3), "test", frames=4, height=48, width=64)
    f = motion.features(videos)
    assert f.dtype == torch.float64 and f.shape == (3, 64) and f.device.type == "cpu"
    g = content.features(videos)
    assert g.dtype == torch.float64 and g.shape == (12, 64)
    assert content.per_frame and not motion.per_frame
    # batch-size independence
    assert torch.allclose(motion.features(videos[:1]), f[:1], atol=1e-5)
    assert motion.describe()["weights_sha256"] == sha256_file(ASSET_DIR / MOTION_WEIGHTS)


def test_input_contract(motion: SynthMotionExtractor) -> None:
    with pytest.raises(InvalidVideoError, match="uint8"):
        motion.features(torch.zeros(1, 4, 32, 32, 3))
    with pytest.raises(InvalidVideoError):
        motion.features(torch.zeros(4, 32, 32, 3, dtype=torch.uint8))


def test_round_trip_of_a_synthesized_checkpoint(tmp_path) -> None:
    torch.manual_seed(0)
    cfg = {"width": 4, "dim": 8, "input_size": [32, 32]}
    net = MotionNet(width=4, dim=8).eval()
    sha = save_net(net, "motion", cfg, tmp_path / MOTION_WEIGHTS)
    ext = SynthMotionExtractor(tmp_path)  # a folder works, as does the file itself
    assert ext.weights_sha256 == sha == SynthMotionExtractor(tmp_path / MOTION_WEIGHTS)\
        .weights_sha256
    videos, _ = render_batch(range(2), "test", frames=4)
    x = videos.float().div(127.5).sub(1).permute(0, 4, 1, 2, 3)
    with torch.no_grad():
        expected = net(x)[0].double()
    assert torch.allclose(ext.features(videos), expected, atol=1e-5)
    cnet = ContentNet(width=4, dim=8)
    save_net(cnet, "content", cfg, tmp_path / CONTENT_WEIGHTS)
    loaded, config, _ = load_net(tmp_path / CONTENT_WEIGHTS, "content")
    assert config == cfg and set(loaded.state_dict()) == set(cnet.state_dict())


def test_missing_or_foreign_weights(tmp_path) -> None:
    with pytest.raises(WeightsNotFoundError, match="train_extractors"):
        SynthMotionExtractor(tmp_path / "nothing.safetensors")
    save_net(ContentNet(width=4, dim=8), "content", {"width": 4, "dim": 8}, tmp_path / "c.st")
    with pytest.raises(WeightsNotFoundError, match="not a synthetic motion net"):
        SynthMotionExtractor(tmp_path / "c.st")
