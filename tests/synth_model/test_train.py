"""``python -m vdmbench.synth.train``: a stopped run resumes from ``train_state.pt`` to exactly the
weights of an unbroken run, and its loss log continues where it stopped."""

from __future__ import annotations

import csv
from pathlib import Path

import torch
from safetensors.torch import load_file

from vdmbench.synth.train import parse_args, train

ARGS = ["--batch", "2", "--device", "cpu", "--threads", "1", "--checkpoint-every", "1"]


def _unet(d: Path) -> dict[str, torch.Tensor]:
    return load_file(d / "unet" / "diffusion_pytorch_model.safetensors")


def test_resumed_run_equals_unbroken_run(tmp_path: Path) -> None:
    whole, split = tmp_path / "whole", tmp_path / "split"
    train(parse_args(["--out", str(whole), "--steps", "3", *ARGS]))
    train(parse_args(["--out", str(split), "--steps", "2", *ARGS]))
    log = train(parse_args(["--out", str(split), "--steps", "3", *ARGS]))
    assert log["steps"] == 3
    a, b = _unet(whole), _unet(split)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    with (split / "loss.csv").open() as f:
        assert [int(r["step"]) for r in csv.DictReader(f)] == [0, 1, 2]
