"""InceptionI3d: the pytorch-i3d / VideoGPT checkpoint layout, strict loading, padding, forward."""

from __future__ import annotations

import hashlib

import pytest
import torch
import torch.nn.functional as F

from vdmbench.errors import ConfigError, DataError, InvalidVideoError
from vdmbench.metrics.i3d import InceptionI3d, Unit3D, load_i3d_state_dict
from vdmbench.metrics.protocols import cdfvd_i3d_input

# The layout written out independently of vdmbench.metrics.i3d (PROTOCOLS.md facts).
MIXED = [("Mixed_3b", 192, [64, 96, 128, 16, 32, 32]),
         ("Mixed_3c", 256, [128, 128, 192, 32, 96, 64]),
         ("Mixed_4b", 480, [192, 96, 208, 16, 48, 64]),
         ("Mixed_4c", 512, [160, 112, 224, 24, 64, 64]),
         ("Mixed_4d", 512, [128, 128, 256, 24, 64, 64]),
         ("Mixed_4e", 512, [112, 144, 288, 32, 64, 64]),
         ("Mixed_4f", 528, [256, 160, 320, 32, 128, 128]),
         ("Mixed_5b", 832, [256, 160, 320, 32, 128, 128]),
         ("Mixed_5c", 832, [384, 192, 384, 48, 128, 128])]


def expected_layout(nbt: bool = False) -> dict[str, tuple[int, ...]]:
    units: list[tuple[str, int, int, int]] = [
        ("Conv3d_1a_7x7", 3, 64, 7), ("Conv3d_2b_1x1", 64, 64, 1), ("Conv3d_2c_3x3", 64, 192, 3)]
    for name, cin, c in MIXED:
        units += [(f"{name}.b0", cin, c[0], 1), (f"{name}.b1a", cin, c[1], 1),
                  (f"{name}.b1b", c[1], c[2], 3), (f"{name}.b2a", cin, c[3], 1),
                  (f"{name}.b2b", c[3], c[4], 3), (f"{name}.b3b", cin, c[5], 1)]
    out: dict[str, tuple[int, ...]] = {}
    for name, cin, cout, k in units:
        out[f"{name}.conv3d.weight"] = (cout, cin, k, k, k)
        for p in ("weight", "bias", "running_mean", "running_var"):
            out[f"{name}.bn.{p}"] = (cout,)
        if nbt:
            out[f"{name}.bn.num_batches_tracked"] = ()
    out["logits.conv3d.weight"] = (400, 1024, 1, 1, 1)
    out["logits.conv3d.bias"] = (400,)
    return out


def synth_state_dict(nbt: bool, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    sd = {}
    for k, shape in expected_layout(nbt).items():
        if k.endswith("num_batches_tracked"):
            sd[k] = torch.tensor(1000, dtype=torch.long)
        elif k.endswith("running_var"):
            sd[k] = torch.rand(shape, generator=g) + 0.5
        elif k.endswith("bn.weight"):
            sd[k] = torch.rand(shape, generator=g) + 0.5
        else:
            fan_in = max(1, int(torch.tensor(shape[1:]).prod())) if len(shape) > 1 else 1
            sd[k] = torch.randn(shape, generator=g) * (0.5 / fan_in ** 0.5)
    return sd


@pytest.fixture(scope="module")
def model() -> InceptionI3d:
    return InceptionI3d(400, family="videogpt").eval()


def test_layout_matches_checkpoint(model: InceptionI3d) -> None:
    sd = model.state_dict()
    mine = {k: tuple(v.shape) for k, v in sd.items() if not k.endswith("num_batches_tracked")}
    assert mine == expected_layout()
    assert len(mine) == 287 and len(sd) == 344
    assert sum(p.numel() for p in model.parameters()) == 12_697_264
    assert mine["Conv3d_1a_7x7.conv3d.weight"] == (64, 3, 7, 7, 7)
    assert mine["Mixed_3b.b1b.conv3d.weight"] == (128, 96, 3, 3, 3)
    assert mine["logits.conv3d.weight"] == (400, 1024, 1, 1, 1)
    assert "Mixed_5c.b3b.bn.running_var" in mine and "logits.bn.weight" not in mine


def test_bn_eps_per_family() -> None:
    def eps(m: torch.nn.Module) -> set[float]:
        return {mod.eps for mod in m.modules() if isinstance(mod, torch.nn.BatchNorm3d)}

    assert eps(InceptionI3d(family="pytorch_i3d")) == {1e-3}
    assert eps(InceptionI3d(family="videogpt")) == {1e-5}
    assert eps(InceptionI3d(bn_eps=1e-4)) == {1e-4}
    with pytest.raises(ConfigError, match="family"):
        InceptionI3d()
    with pytest.raises(ConfigError, match="unknown family"):
        InceptionI3d(family="tf")  # type: ignore[arg-type]


@pytest.mark.parametrize("nbt", [False, True])
def test_synthesized_checkpoint_loads_strictly(model: InceptionI3d, nbt: bool) -> None:
    sd = synth_state_dict(nbt)
    load_i3d_state_dict(model, sd)
    for k, v in sd.items():
        assert torch.equal(model.state_dict()[k], v), k
    # DataParallel prefix is accepted
    load_i3d_state_dict(model, {f"module.{k}": v for k, v in sd.items()})


def test_wrong_missing_and_misshapen_keys_are_named(model: InceptionI3d) -> None:
    sd = synth_state_dict(False)
    bad = dict(sd)
    bad["Mixed_4c.b2b.conv3d.weightt"] = bad.pop("Mixed_4c.b2b.conv3d.weight")
    with pytest.raises(DataError, match=r"missing 1 key\(s\): Mixed_4c.b2b.conv3d.weight") as e:
        load_i3d_state_dict(model, bad, source="ckpt.pt")
    assert "unexpected 1 key(s): Mixed_4c.b2b.conv3d.weightt" in str(e.value)
    assert "ckpt.pt" in str(e.value)
    bad = dict(sd)
    del bad["logits.conv3d.bias"]
    with pytest.raises(DataError, match="logits.conv3d.bias"):
        load_i3d_state_dict(model, bad)
    bad = dict(sd)
    bad["Conv3d_1a_7x7.conv3d.weight"] = torch.zeros(64, 3, 3, 7, 7)
    with pytest.raises(DataError, match=r"Conv3d_1a_7x7.conv3d.weight is \(64, 3, 3, 7, 7\)"):
        load_i3d_state_dict(model, bad)


def test_same_padding_is_tf_style() -> None:
    torch.manual_seed(0)
    u = Unit3D(2, 3, (7, 7, 7), (2, 2, 2), bn_eps=None, relu=False)
    x = torch.randn(1, 2, 8, 10, 11)
    y = u(x)
    # out = ceil(in / stride); even sizes pad (2, 3), odd 11 pads (3, 3)
    assert tuple(y.shape[2:]) == (4, 5, 6)
    ref = F.conv3d(F.pad(x, (3, 3, 2, 3, 2, 3)), u.conv3d.weight, stride=2)
    torch.testing.assert_close(y, ref, rtol=0, atol=0)
    u3 = Unit3D(2, 3, (3, 3, 3), bn_eps=None, relu=False)
    torch.testing.assert_close(u3(x), F.conv3d(x, u3.conv3d.weight, padding=1))


def test_forward_time_average_and_input_checks(model: InceptionI3d, tmp_path) -> None:
    load_i3d_state_dict(model, synth_state_dict(True, seed=1))
    video = torch.randint(0, 256, (1, 9, 20, 24, 3), dtype=torch.uint8)
    x = cdfvd_i3d_input(video)
    assert x.shape == (1, 3, 9, 224, 224)
    with torch.no_grad():
        y = model(x)
    assert y.shape == (1, 400) and torch.isfinite(y).all()
    with pytest.raises(InvalidVideoError, match="too small"):
        model(torch.zeros(1, 3, 8, 224, 224))
    with pytest.raises(InvalidVideoError, match=r"\(B, 3, T, H, W\)"):
        model(torch.zeros(1, 224, 224, 3))

    # the same checkpoint through the state-dict extractor (file on disk, weights_only load)
    from vdmbench.metrics.real_extractors import I3DStateDictExtractor

    path = tmp_path / "i3d_pretrained_400.pt"
    torch.save(synth_state_dict(True, seed=1), path)
    ex = I3DStateDictExtractor.from_path(str(path), family="videogpt")
    assert ex.weights_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    feats = ex.features(video)
    assert feats.dtype == torch.float64 and feats.shape == (1, 400)
    torch.testing.assert_close(feats, y.double())
    assert ex.describe()["bn_eps"] == "1e-05"
