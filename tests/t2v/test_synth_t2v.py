"""synth-t2v: caption encoder, EDM sampler, model directory round trip, adapter contract."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from vdmbench.data.synthmotion import sample_meta
from vdmbench.errors import InvalidRequestError, WeightsNotFoundError
from vdmbench.generation import GenerationRequest
from vdmbench.models.synth_t2v import SynthT2VAdapter
from vdmbench.models.synth_t2v_pipeline import (
    ASSET_DIR,
    CaptionEncoder,
    T2VSamplerConfig,
    save_model_dir,
    synthmotion_vocabulary,
    tiny_unet_config,
)
from vdmbench.models.videocrafter2_unet import VideoCrafter2UNet

torch.set_num_threads(1)


def test_vocabulary_covers_every_caption() -> None:
    vocab = set(synthmotion_vocabulary())
    for i in range(300):
        for w in sample_meta(i, "test").caption.split():
            assert w in vocab, w
    te = CaptionEncoder(synthmotion_vocabulary())
    tok = te.tokenize(["a red triangle moving left on a striped background", "", "zebra"])
    assert (tok[0, :9] > 1).all() and (tok[0, 9:] == 0).all()
    assert (tok[1] == 0).all() and tok[2, 0] == 1  # unknown word → <unk>


def test_sigmas_and_time_input() -> None:
    s = T2VSamplerConfig()
    sig = s.sigmas(8)
    assert sig[0].item() == pytest.approx(20.0) and sig[-2].item() == pytest.approx(0.002)
    assert sig[-1] == 0 and (sig[:-1].diff() < 0).all()
    t = s.time_input(torch.tensor([0.002, 20.0]))
    assert t.tolist() == pytest.approx([0.0, 1000.0], abs=1e-3)


def _tiny_dir(tmp_path: Path) -> Path:
    torch.manual_seed(0)
    unet = VideoCrafter2UNet.from_config(tiny_unet_config())
    te = CaptionEncoder(synthmotion_vocabulary())
    save_model_dir(tmp_path / "m", unet, te, T2VSamplerConfig(steps=2))
    return tmp_path / "m"


def _req(i: int, prompt: str | None = "a small red star moving up on a plain background",
         frames: int = 8) -> GenerationRequest:
    return GenerationRequest(id=f"r{i}", seed=i, frames=frames, height=16, width=16, fps=8.0,
                             prompt=prompt)


def test_adapter_contract(tmp_path: Path) -> None:
    a = SynthT2VAdapter.load("t", str(_tiny_dir(tmp_path)), {}, "cpu", steps=2)
    vids = a.generate([_req(0), _req(1)])
    assert [tuple(v.frames.shape) for v in vids] == [(8, 16, 16, 3)] * 2
    assert torch.equal(a.generate([_req(0), _req(1)])[1].frames, vids[1].frames)  # seeded
    alone = a.generate([_req(1)])[0].frames.int()  # batch-size independent up to rounding
    assert (alone - vids[1].frames.int()).abs().float().mean() < 1.0
    card = a.describe()
    assert card.steps == 2 and card.cfg and card.params["unet"] > 0
    comps = a.components(_req(0))
    assert set(comps) == {"text_encode", "denoise", "decode"}
    for fn in comps.values():
        fn()
    with pytest.raises(InvalidRequestError, match="r3"):
        a.generate([_req(3, frames=16)])
    with pytest.raises(InvalidRequestError, match="prompt"):
        a.generate([_req(4, prompt=None)])
    with pytest.raises(WeightsNotFoundError, match="sampler.json"):
        (tmp_path / "m" / "sampler.json").unlink()
        SynthT2VAdapter.load("t", str(tmp_path / "m"), {}, "cpu")


@pytest.mark.skipif(not (ASSET_DIR / "sampler.json").is_file(), reason="teacher not trained yet")
def test_shipped_teacher_loads_and_is_small() -> None:
    size = sum(f.stat().st_size for f in ASSET_DIR.rglob("*") if f.is_file())
    assert size <= 20 * 2 ** 20
    a = SynthT2VAdapter.load("teacher", None, {}, "cpu", steps=2)
    v = a.generate([_req(0, "a large white square standing still on a plain background")])
    assert v[0].frames.shape == (8, 16, 16, 3)
