"""The depth-pruned student of the synthetic DiT (``compression/students/synth-dit-t2v-vdmini``)
loads through the ``synth-dit-t2v`` adapter on its teacher's other parts, and ``vdmbench compress
--model synth-dit-t2v`` runs end to end with the shipped recipe."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from vdmbench.catalog import MODELS
from vdmbench.cli import main
from vdmbench.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
STUDENT = ROOT / "compression" / "students" / "synth-dit-t2v-vdmini"


def _requests(n: int) -> list:
    from vdmbench.data.synthmotion import SynthMotionDataset
    from vdmbench.suite import DatasetSpec

    spec = DatasetSpec(name="synthmotion", split="test", num_videos=n, frames=8, height=16,
                       width=16, fps=8, seed=0)
    return SynthMotionDataset(spec).requests()


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


def test_shipped_student_loads_generates_and_is_shorter() -> None:
    adapter = MODELS.get("synth-dit-t2v")
    teacher = adapter.load("t", None, {}, "cpu")
    student = adapter.load("s", str(STUDENT), {}, "cpu")
    meta = json.loads((STUDENT / "compression.json").read_text())
    kept = meta["plan"]["provenance"]["kept_blocks"]["blocks"]
    n_t, n_s = len(teacher.pipe.transformer.blocks), len(student.pipe.transformer.blocks)
    assert n_s == len(kept) < n_t == meta["plan"]["provenance"]["teacher_blocks"]["blocks"]
    assert student.pipe.transformer.config.num_layers == n_s
    # the caption encoder and sampler come from the teacher (base_weights: null)
    assert all(torch.equal(a, b) for a, b in zip(student.pipe.text_encoder.state_dict().values(),
                                                  teacher.pipe.text_encoder.state_dict().values()))
    assert student.pipe.sampler == teacher.pipe.sampler
    card_s, card_t = student.describe(), teacher.describe()
    assert card_s.params["transformer"] < card_t.params["transformer"]
    assert card_s.weights_sha256 != card_t.weights_sha256
    reqs = _requests(2)
    vs = [v.frames for v in student.generate(reqs)]
    vt = [v.frames for v in teacher.generate(reqs)]
    assert vs[0].shape == vt[0].shape == (8, 16, 16, 3)
    assert all(not torch.equal(a, b) for a, b in zip(vs, vt)), "the student is not the teacher"
    # same request + seed → same video (the student is deterministic)
    assert torch.equal(vs[1], student.generate(reqs[1:2])[0].frames)
    # the denoiser contract compress relies on: unet (and modules["unet"]) is the transformer
    spec = adapter.teacher(str(STUDENT), "cpu")
    assert spec.unet is spec.modules["unet"] is spec.modules["transformer"]
    assert len(spec.unet.blocks) == n_s


def test_student_of_another_model_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    meta = json.loads((STUDENT / "compression.json").read_text())
    meta["base_model"] = "synth-t2v"
    (bad / "compression.json").write_text(json.dumps(meta))
    with pytest.raises(ConfigError, match="a student of 'synth-t2v'"):
        MODELS.get("synth-dit-t2v").load("x", str(bad), {}, "cpu")


def test_compress_one_step_end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # the recipe names its analysis relative to the repository root
    out = tmp_path / "student"
    res = CliRunner().invoke(main, ["compress", "--model", "synth-dit-t2v", "--max-steps", "1",
                                    "--out", str(out)])
    assert res.exit_code == 0, res.output
    meta = json.loads((out / "compression.json").read_text())
    assert meta["train_steps"] == 1 and meta["base_model"] == "synth-dit-t2v"
    assert meta["plan"]["removed"] == json.loads(
        (STUDENT / "plan.json").read_text())["removed"]
    gen = MODELS.get("synth-dit-t2v").load("s1", str(out), {}, "cpu", steps=2)
    assert len(gen.pipe.transformer.blocks) == 4 - len(meta["plan"]["removed"])
    (video,) = gen.generate(_requests(1))
    assert video.frames.shape == (8, 16, 16, 3)
