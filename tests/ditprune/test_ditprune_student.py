"""Depth-pruned DiT students: units, plans, apply, save → reload (plain diffusers and vdmbench's
student loading), on tiny random Wan, CogVideoX and LTX-Video transformers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from ditprune_utils import forward_inputs, run, tiny_cogvideox, tiny_hunyuan, tiny_ltx, tiny_wan

from compression.dit_units import blocks_removed, dit_units, kept_blocks, units_of
from compression.plan import DepthPlan, check_plan, make_plan
from compression.student import apply, save_student
from vdmbench.errors import ConfigError
from vdmbench.models.pruned_dit import block_lists, is_transformer, load_transformer
from vdmbench.models.student_dir import load_student_transformer, walk_chain
from vdmbench.models.svd_denoiser import random_svd_unet

BUILDERS = [tiny_wan, tiny_cogvideox, tiny_ltx]


def _save(out: Path, student: torch.nn.Module, plan: DepthPlan) -> Path:
    return save_student(out, student, plan, base_model="toy-dit", base_weights_sha256="0" * 64,
                        base_weights=None, recipe_sha256=None)


def test_units_name_every_block_in_forward_order() -> None:
    wan, cog = tiny_wan(num_layers=3), tiny_cogvideox(num_layers=2)
    assert [(u.name, u.modules, u.level) for u in dit_units(wan)] == [
        ("B.0", ("blocks.0",), 0), ("B.1", ("blocks.1",), 1), ("B.2", ("blocks.2",), 2)]
    assert [u.modules[0] for u in units_of(cog)] == ["transformer_blocks.0",
                                                     "transformer_blocks.1"]
    assert block_lists(wan) == [("blocks", "num_layers", 3)]
    unet = random_svd_unet(seed=0)
    assert not is_transformer(unet) and units_of(unet)[0].name == "D.0.1"  # UNets unchanged


@pytest.mark.parametrize("build", BUILDERS, ids=lambda b: b.__name__)
def test_empty_plan_student_equals_teacher(build) -> None:
    teacher = build()
    x = forward_inputs(teacher)
    student = apply(teacher, make_plan("none", teacher))
    assert student is not teacher and type(student) is type(teacher)
    assert torch.equal(run(student, x), run(teacher, x))
    assert all(torch.equal(v, teacher.state_dict()[k]) for k, v in student.state_dict().items())


@pytest.mark.parametrize("build", BUILDERS, ids=lambda b: b.__name__)
def test_removed_block_changes_output_and_kept_blocks_are_the_teachers(build) -> None:
    teacher = build()
    (attr, key, n), = block_lists(teacher)
    plan = DepthPlan(removed=("B.1",), preset="custom")
    student = apply(teacher, plan)
    assert student.config[key] == n - 1 and len(getattr(student, attr)) == n - 1
    x = forward_inputs(teacher)
    assert not torch.allclose(run(student, x), run(teacher, x), atol=1e-4)
    t_state = teacher.state_dict()
    kept = kept_blocks(teacher, plan.removed)[attr]
    assert kept == [0, *range(2, n)]
    for k, v in student.state_dict().items():
        if k.startswith(f"{attr}."):
            _, m, rest = k.split(".", 2)
            src = f"{attr}.{kept[int(m)]}.{rest}"
        else:
            src = k
        assert torch.equal(v, t_state[src]), k
    # the same output as the teacher with its block 1 skipped
    with blocks_removed(teacher, [dit_units(teacher)[1]]):
        skipped = run(teacher, x)
    assert torch.equal(run(student, x), skipped)
    assert len(getattr(teacher, attr)) == n  # restored


@pytest.mark.parametrize("build", BUILDERS, ids=lambda b: b.__name__)
def test_student_saves_and_reloads_bit_identically(build, tmp_path: Path) -> None:
    teacher = build()
    (attr, key, n), = block_lists(teacher)
    plan = make_plan("deep-first", teacher)
    student = apply(teacher, plan)
    out = _save(tmp_path / "student", student, plan)
    x = forward_inputs(teacher, seed=3)
    want = run(student, x)
    cj = json.loads((out / "compression.json").read_text())
    assert cj["denoiser_component"] == "transformer"
    assert cj["kept_blocks"] == {attr: list(range(n - 1))}
    assert cj["plan"]["removed"] == [f"B.{n - 1}"]
    assert not (out / "unet").exists()
    plain = type(teacher).from_pretrained(str(out / "transformer")).eval()  # plain diffusers
    assert plain.config[key] == n - 1
    assert torch.equal(run(plain, x), want)
    via_dir = load_student_transformer(out / "transformer", cj["classes"]["transformer"], out)
    assert type(via_dir) is type(teacher) and torch.equal(run(via_dir, x), want)
    assert torch.equal(run(load_transformer(out), x), want)


def test_two_block_lists_hunyuanvideo(tmp_path: Path) -> None:
    teacher = tiny_hunyuan()
    assert [u.modules[0] for u in dit_units(teacher)] == [
        "transformer_blocks.0", "transformer_blocks.1", "single_transformer_blocks.0",
        "single_transformer_blocks.1", "single_transformer_blocks.2"]
    plan = DepthPlan(removed=("B.1", "B.3"))
    assert kept_blocks(teacher, plan.removed) == {"transformer_blocks": [0],
                                                  "single_transformer_blocks": [0, 2]}
    student = apply(teacher, plan)
    assert (student.config.num_layers, student.config.num_single_layers) == (1, 2)
    x = forward_inputs(teacher)
    with blocks_removed(teacher, [dit_units(teacher)[1], dit_units(teacher)[3]]):
        skipped = run(teacher, x)
    want = run(student, x)
    assert torch.equal(want, skipped) and not torch.allclose(want, run(teacher, x), atol=1e-4)
    out = _save(tmp_path / "s", student, plan)
    assert torch.equal(run(type(teacher).from_pretrained(str(out / "transformer")), x), want)
    assert torch.equal(run(apply(teacher, make_plan("none", teacher)), x), run(teacher, x))


def test_walk_chain_finds_the_transformer_students_class(tmp_path: Path) -> None:
    teacher = tiny_wan()
    teacher_dir = tmp_path / "teacher"
    teacher.save_pretrained(str(teacher_dir / "transformer"))
    plan = make_plan("uniform", teacher)
    out = _save(tmp_path / "student", apply(teacher, plan), plan)
    meta = json.loads((out / "compression.json").read_text())
    meta["base_weights"] = str(teacher_dir)
    (out / "compression.json").write_text(json.dumps(meta))
    parts = {"transformer": "transformer/config.json"}
    sources, chain, cls = walk_chain(out, teacher_dir, "toy-dit", parts, "layout",
                                     denoiser="transformer")
    assert sources["transformer"] == out.resolve() and chain[-1] == teacher_dir.resolve()
    assert cls == "diffusers.models.transformers.transformer_wan:WanTransformer3DModel"
    # the teacher directory alone: its own class (none recorded)
    assert walk_chain(None, teacher_dir, "toy-dit", parts, "layout",
                      denoiser="transformer")[2] is None


def test_plans_name_blocks_and_bad_plans_are_refused() -> None:
    teacher = tiny_wan(num_layers=12)
    assert make_plan("uniform", teacher).removed == ("B.3", "B.9")  # round(0.2·12) = 2
    assert make_plan("deep-first", teacher).removed == ("B.10", "B.11")
    p = DepthPlan(removed=("B.10", "B.2", "B.9"), preset="custom")
    assert p.removed == ("B.2", "B.9", "B.10")  # by depth, not as strings
    assert DepthPlan.from_json(p.to_json()) == p
    with pytest.raises(ConfigError, match="unknown unit 'D.0.1'"):
        check_plan(teacher, DepthPlan(removed=("D.0.1",)))
    with pytest.raises(ConfigError, match="keep at least one"):
        apply(teacher, DepthPlan(removed=tuple(f"B.{i}" for i in range(12))))
    with pytest.raises(ConfigError, match="run `vdmbench analyze`"):
        make_plan("vdmini", teacher)  # the DiT rule is the analysis ranking
    with pytest.raises(ConfigError, match="unknown plan preset"):
        make_plan("nope", teacher)
