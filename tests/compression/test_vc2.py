"""VDMini units, plans, students and save/load on a tiny VideoCrafter2UNet (the T2V teacher)."""

from __future__ import annotations

import importlib
import json

import pytest
import torch

from compression.plan import DepthPlan, make_plan
from compression.student import apply, read_compression_json, save_student
from compression.units import count_params, list_units, removed, resolve, unit_params
from vdmbench.diffusion.denoiser import state_hash
from vdmbench.errors import ConfigError
from vdmbench.models.unets import load_unet
from vdmbench.models.videocrafter2_unet import VideoCrafter2UNet

FRAMES = 3
#: VideoCrafter2's layout (4 levels, attention at the three finest, temporal convs, transformer_in,
#: fps conditioning) with tiny widths
TINY = {
    "block_out_channels": [16, 32, 32, 32], "layers_per_block": 2, "attention_head_dim": 8,
    "cross_attention_dim": 24, "transformer_in_heads": 2, "norm_num_groups": 8,
}
VDMINI = ["D.0.1", "D.1.1", "D.3.1", "M", "U.0.1", "U.2.1", "U.3.1"]


def tiny_vc2(seed: int = 0) -> VideoCrafter2UNet:
    torch.manual_seed(seed)
    m = VideoCrafter2UNet.from_config(TINY).eval()
    with torch.no_grad():  # the zero-initialized last temporal convs would hide those blocks
        for mod in m.modules():
            if isinstance(mod, torch.nn.Conv3d):
                torch.nn.init.normal_(mod.weight, std=0.05)
    return m


def inputs(seed: int = 1, batch: int = 1) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(batch, 4, FRAMES, 8, 8, generator=g), torch.full((batch,), 500.0),
            torch.randn(batch, 77, 24, generator=g))


def run(m: torch.nn.Module, seed: int = 1) -> torch.Tensor:
    with torch.no_grad():
        return m(*inputs(seed), fps=8).sample


@pytest.fixture(scope="module")
def teacher() -> VideoCrafter2UNet:
    torch.set_num_threads(1)
    return tiny_vc2()


@pytest.fixture(scope="module")
def teacher_out(teacher: VideoCrafter2UNet) -> torch.Tensor:
    return run(teacher)


def test_units_of_tiny_vc2(teacher: VideoCrafter2UNet) -> None:
    units = list_units(teacher.config)
    assert [u.name for u in units] == ["D.0.1", "D.1.1", "D.2.1", "D.3.1", "M",
                                       "U.0.1", "U.1.1", "U.2.1", "U.3.1"]
    by = {u.name: u for u in units}
    assert by["D.0.1"].modules == ("down_blocks.0.resnets.1", "down_blocks.0.attentions.1")
    assert by["D.3.1"].modules == ("down_blocks.3.resnets.1",)  # DownBlockVC2: no attention
    assert by["U.0.1"].modules == ("up_blocks.0.resnets.1",)
    assert by["U.3.1"].modules == ("up_blocks.3.resnets.1", "up_blocks.3.attentions.1")
    assert [by[n].level for n in ("D.0.1", "U.3.1", "U.0.1", "M")] == [0, 0, 3, 4]
    for u in units:  # every named module exists and holds parameters
        assert unit_params(teacher, u) > 0
    assert sum(unit_params(teacher, u) for u in units) < count_params(teacher)
    with pytest.raises(ConfigError, match="unknown unit 'D.0.2'"):
        resolve(teacher.config, ["D.0.2"])


def test_removed_each_unit_for_analysis(teacher: VideoCrafter2UNet,
                                        teacher_out: torch.Tensor) -> None:
    before = dict(teacher.named_modules())
    for u in list_units(teacher.config):
        with removed(teacher, [u]):
            y = run(teacher)
        assert y.shape == teacher_out.shape and torch.isfinite(y).all()
        assert not torch.allclose(y, teacher_out), u.name  # the unit mattered
    full = count_params(teacher)
    units = list_units(teacher.config)
    with removed(teacher, units):
        assert count_params(teacher) == full - sum(unit_params(tiny_vc2(), u) for u in units)
        assert run(teacher).shape == teacher_out.shape
    assert dict(teacher.named_modules()) == before  # the very same module objects are back
    assert torch.equal(run(teacher), teacher_out)


def test_vdmini_plan_and_student(teacher: VideoCrafter2UNet, teacher_out: torch.Tensor) -> None:
    plan = make_plan("vdmini", teacher.config, base="vc2-tiny")
    assert list(plan.removed) == VDMINI
    student = apply(teacher, plan)
    assert type(student) is VideoCrafter2UNet
    assert list(student.config.layers_per_block) == [1, 1, 2, 1]
    assert student.config.mid_block_type is None
    assert count_params(student) < 0.8 * count_params(teacher)
    assert sum(p.numel() for p in student.mid_block.parameters()) == 0
    # student pair m is the m-th kept teacher pair: U.3 pair 1 of the student is teacher pair 2
    assert torch.equal(student.up_blocks[3].resnets[1].conv1.weight,
                       teacher.up_blocks[3].resnets[2].conv1.weight)
    assert torch.equal(student.down_blocks[2].attentions[1].temporal.proj_in.weight,
                       teacher.down_blocks[2].attentions[1].temporal.proj_in.weight)
    y = run(student)
    assert y.shape == teacher_out.shape and torch.isfinite(y).all()
    assert not torch.allclose(y, teacher_out)
    # with one of two pairs removed per block, the identity stand-ins route the skips exactly as
    # the shallower student does, so the student is the teacher with the plan's units removed
    with removed(teacher, resolve(teacher.config, plan.removed)):
        torch.testing.assert_close(y, run(teacher), rtol=1e-6, atol=1e-6)
    # a student's units are listed from its own config and can be pruned again
    assert [u.name for u in list_units(student.config)] == ["D.2.1", "U.1.1"]
    again = apply(student, make_plan("vdmini", student.config))
    assert list(again.config.layers_per_block) == [1, 1, 2, 1]  # D.2/U.1 are kept by the rule


def test_empty_plan_student_equals_teacher(teacher: VideoCrafter2UNet,
                                           teacher_out: torch.Tensor) -> None:
    student = apply(teacher, make_plan("none", teacher.config))
    assert type(student) is VideoCrafter2UNet and student.config.mid_block_type == "UNetMidBlockVC2"
    assert count_params(student) == count_params(teacher)
    assert torch.equal(run(student), teacher_out)


def test_mid_block_only_plan(teacher: VideoCrafter2UNet) -> None:
    student = apply(teacher, DepthPlan(removed=("M",), preset="custom"))
    assert list(student.config.layers_per_block) == [2, 2, 2, 2]
    with removed(teacher, resolve(teacher.config, ["M"])):
        assert torch.equal(run(student), run(teacher))
    with pytest.raises(ConfigError, match="D.1"):  # unmatched down/up removal is refused
        apply(teacher, DepthPlan(removed=("D.1.1",), preset="custom"))


def test_save_reload_round_trip(tmp_path, teacher: VideoCrafter2UNet) -> None:
    plan = make_plan("vdmini", teacher.config, base="vc2-tiny")
    student = apply(teacher, plan)
    out = save_student(tmp_path / "student", student, plan, base_model="vc2-tiny",
                       base_weights_sha256=state_hash(teacher), base_weights=None,
                       recipe_sha256=None)
    meta = read_compression_json(out)
    assert meta["unet_class"] == "VideoCrafter2UNet"
    assert meta["classes"] == {"unet": "vdmbench.models.videocrafter2_unet:VideoCrafter2UNet"}
    assert meta["unet_params"] == count_params(student)
    assert DepthPlan.from_dict(meta["plan"]) == plan
    cfg = json.loads((out / "unet" / "config.json").read_text())
    assert cfg["_class_name"] == "VideoCrafter2UNet" and cfg["mid_block_type"] is None
    assert cfg["layers_per_block"] == [1, 1, 2, 1]
    back = load_unet(out)
    assert type(back) is VideoCrafter2UNet
    assert state_hash(back) == state_hash(student) == meta["unet_sha256"]
    y = run(student, seed=3)
    assert torch.equal(run(back.eval(), seed=3), y)
    # what adapters do: import the class named in compression.json and from_pretrained it
    module, _, attr = meta["classes"]["unet"].partition(":")
    cls = getattr(importlib.import_module(module), attr)
    via_classes = cls.from_pretrained(str(out / "unet")).eval()
    assert state_hash(via_classes) == meta["unet_sha256"]
    # same weights; plain from_pretrained may leave them 8-byte aligned, and CPU GEMMs then sum
    # in another order (load_unet re-aligns them, hence its exact equality above)
    torch.testing.assert_close(run(via_classes, seed=3), y, rtol=1e-5, atol=1e-5)
    # a teacher saved the same way loads through load_unet too
    teacher.save_pretrained(tmp_path / "teacher" / "unet")
    assert state_hash(load_unet(tmp_path / "teacher")) == state_hash(teacher)


def test_extra_classes_are_merged(tmp_path, teacher: VideoCrafter2UNet) -> None:
    plan = make_plan("none", teacher.config)
    student = apply(teacher, plan)
    out = save_student(tmp_path / "s", student, plan, base_model="vc2-tiny",
                       base_weights_sha256="0" * 64, base_weights=None, recipe_sha256=None,
                       extra={"classes": {"vae": "compression.vae_prune:X"}, "train_steps": 0})
    meta = read_compression_json(out)
    assert meta["classes"] == {"unet": "vdmbench.models.videocrafter2_unet:VideoCrafter2UNet",
                               "vae": "compression.vae_prune:X"}
    assert meta["train_steps"] == 0
