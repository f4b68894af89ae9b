from __future__ import annotations

import csv

import torch
from safetensors.torch import load_file

from compression.distill import train
from compression.plan import make_plan
from compression.recipe import Recipe
from compression.student import apply
from vdmbench.models.svd_denoiser import SVDDenoiser


def _recipe(**train_kw) -> Recipe:
    base = dict(max_steps=4, batch_size=2, checkpoint_every=2, ema_decay=0.9, lr=1e-3)
    base.update(train_kw)
    return Recipe(model="random-svd", train=base, data={"frames": 4})


def test_icd_only_steps_lower_icd(tmp_path, unet, monkeypatch):
    import compression.distill as distill

    # every step sees the same data, σ and noise, so the decrease is the optimisation's
    monkeypatch.setattr(distill, "_step_seed", lambda *a: 5)
    fam = SVDDenoiser(unet, frames=4, size=8)
    student = apply(unet, make_plan("vdmini", unet.config))
    rec = Recipe(model="random-svd", data={"frames": 4},
                 train=dict(max_steps=6, batch_size=2, lr=1e-3, ema_decay=None, seed=3,
                            checkpoint_every=100, grad_clip=None),
                 loss=dict(denoise=0.0, output=0.0, lambda_icd=1.0, lambda_mca=0.0))
    losses = []
    train(fam, student, rec, tmp_path, progress=False,
          on_step=lambda s, p: losses.append(p["icd"]))
    print(losses)
    assert losses[-1] < 0.8 * losses[0]


def test_resume_continues_exactly(tmp_path, unet):
    fam = SVDDenoiser(unet, frames=4, size=8)
    plan = make_plan("vdmini", unet.config)
    full = apply(unet, plan)
    train(fam, full, _recipe(), tmp_path / "a", progress=False)
    part = apply(unet, plan)
    r1 = train(fam, part, _recipe(), tmp_path / "b", progress=False, stop_after=3)
    assert r1.steps == 3  # interrupted after step 3; the newest checkpoint is step 2
    resumed = apply(unet, plan)
    seen = []
    train(fam, resumed, _recipe(), tmp_path / "b", progress=False,
          on_step=lambda s, p: seen.append(s))
    assert seen == [3, 4]
    rows_a = list(csv.DictReader(open(tmp_path / "a" / "loss_log.csv")))
    rows_b = list(csv.DictReader(open(tmp_path / "b" / "loss_log.csv")))
    assert [r["step"] for r in rows_b] == ["1", "2", "3", "4"]
    for ra, rb in zip(rows_a, rows_b):
        assert ra["loss"] == rb["loss"] and ra["mca_d"] == rb["mca_d"]
    sa = full.state_dict()
    for k, v in resumed.state_dict().items():
        assert torch.equal(v, sa[k]), k
    ck = load_file(str(tmp_path / "b" / "ckpt" / "step-000004" / "student.safetensors"))
    assert set(ck) == set(sa)
