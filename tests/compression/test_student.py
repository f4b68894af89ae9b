from __future__ import annotations

import json

import torch

from compression.analysis import analyze, load_scores, write_report
from compression.plan import DepthPlan, make_plan
from compression.student import apply, read_compression_json, save_student
from compression.units import count_params
from vdmbench.diffusion.denoiser import state_hash
from vdmbench.models.svd_denoiser import SVDDenoiser
from vdmbench.models.unets import VDMiniUNetSpatioTemporalConditionModel, load_unet


def _inputs(unet, b=1, seed=0):
    fam = SVDDenoiser(unet)
    batch = fam.batch(b, seed)
    x = fam.noise(batch, seed)
    return fam, batch, x


def test_empty_plan_student_equals_teacher(unet):
    student = apply(unet, make_plan("none", unet.config))
    assert type(student).__name__ == "UNetSpatioTemporalConditionModel"
    fam, batch, x = _inputs(unet)
    sig = torch.tensor([1.5])
    with torch.no_grad():
        a = fam.denoise(unet, x, sig, batch)
        b = fam.denoise(student, x, sig, batch)
    assert torch.equal(a, b)


def test_random_svd_analyse_prune_save_reload(tmp_path, unet):
    unet.save_pretrained(tmp_path / "teacher" / "unet")
    teacher = load_unet(tmp_path / "teacher")
    fam = SVDDenoiser(teacher, frames=4, size=8)
    rows = analyze(fam, num_clips=2, batch_size=2, steps=2, timing_iters=1, progress=False)
    assert [r.unit for r in rows][0] == "D.0.1" and len(rows) == 9
    assert all(r.content > 0 and r.motion >= 0 and r.params > 0 for r in rows)
    paths = write_report(rows, tmp_path / "an", info={"model": "random"})
    assert paths["png"].stat().st_size > 1000 and "| M |" in paths["md"].read_text()
    assert set(load_scores(tmp_path / "an")) == {r.unit for r in rows}

    plan = make_plan("vdmini", teacher.config)
    student = apply(teacher, plan)
    assert isinstance(student, VDMiniUNetSpatioTemporalConditionModel)
    assert list(student.config.layers_per_block) == [1, 1, 2, 1]
    assert count_params(student) < 0.85 * count_params(teacher)
    # kept weights come from the teacher: U.3 pair 1 of the student is teacher pair 2
    assert torch.equal(student.up_blocks[3].resnets[1].spatial_res_block.conv1.weight,
                       teacher.up_blocks[3].resnets[2].spatial_res_block.conv1.weight)
    save_student(tmp_path / "student", student, plan, base_model="random-svd",
                 base_weights_sha256=state_hash(teacher), base_weights=str(tmp_path / "teacher"),
                 recipe_sha256=None)
    meta = read_compression_json(tmp_path / "student")
    assert meta["plan"]["removed"] == list(plan.removed)
    assert DepthPlan.from_dict(meta["plan"]) == plan
    cfg = json.loads((tmp_path / "student" / "unet" / "config.json").read_text())
    assert cfg["_class_name"] == "VDMiniUNetSpatioTemporalConditionModel"
    assert cfg["mid_block_type"] is None
    back = load_unet(tmp_path / "student")
    assert state_hash(back) == state_hash(student) == meta["unet_sha256"]
    _, batch, x = _inputs(teacher, 2, 1)
    sig = torch.tensor([0.7, 3.0])
    with torch.no_grad():
        assert torch.allclose(fam.denoise(student, x, sig, batch),
                              fam.denoise(back, x, sig, batch), atol=1e-5)
