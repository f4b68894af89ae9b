"""``python -m vdmbench.synth.train_t2v``: a short run writes a loadable model directory, its
logs and its evaluations, and a stopped run resumes to exactly the weights of an unbroken one."""

from __future__ import annotations

import csv
from pathlib import Path

import torch
from safetensors.torch import load_file

from vdmbench.models.synth_t2v import SynthT2VAdapter
from vdmbench.synth import train_t2v

ARGS = ["--batch", "2", "--threads", "1", "--warmup", "2", "--checkpoint-every", "1",
        "--eval-videos", "4", "--eval-steps", "1"]


def _weights(d: Path) -> dict[str, torch.Tensor]:
    return load_file(d / "unet" / "diffusion_pytorch_model.safetensors")


def test_resumed_run_equals_unbroken_run(tmp_path: Path) -> None:
    whole, split = tmp_path / "whole", tmp_path / "split"
    assert train_t2v.main(["--out", str(whole), "--steps", "3", "--eval-every", "3", *ARGS]) == 0
    assert train_t2v.main(["--out", str(split), "--steps", "2", *ARGS]) == 0
    assert train_t2v.main(["--out", str(split), "--steps", "3", "--eval-every", "3", *ARGS]) == 0
    a, b = _weights(whole), _weights(split)
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert load_file(whole / "text_encoder.safetensors").keys()
    with (split / "loss.csv").open() as f:
        assert [int(r["step"]) for r in csv.DictReader(f)] == [1, 2, 3]
    with (whole / "eval.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [r["step"] for r in rows] == ["3"] and 0.0 <= float(rows[0]["motion_acc_synth"]) <= 1
    # the training moved the weights away from the initialisation
    init = train_t2v.main(["--out", str(tmp_path / "zero"), "--steps", "1", "--lr", "0", *ARGS])
    assert init == 0
    c = _weights(tmp_path / "zero")
    assert any(not torch.equal(a[k], c[k]) for k in a)
    # the result is a model directory the adapter loads
    adapter = SynthT2VAdapter.load("t", str(whole), {}, "cpu", steps=1)
    assert adapter.describe().params["unet"] > 0
