"""The ``channel`` compressor: Torch-Pruning channel pruning + distillation (CPU, one thread).

Ratio 0 is the teacher bit for bit; ratio 0.5 changes the output and removes about the expected
share of parameters; the pruned format round-trips exactly; options are validated (exit 2 naming
the field); ``vdmbench compress --method channel --max-steps 2`` writes a loadable student."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from click.testing import CliRunner
from torch import nn

from compression.channel_prune import (
    ChannelRecipe,
    channel_recipe,
    example_inputs,
    load_channel_recipe,
    prune_unet,
)
from compression.cli import compress_cmd
from vdmbench.errors import ConfigError
from vdmbench.models.pruned_unet import CLASS_NAME, save_pruned_unet
from vdmbench.models.student_dir import load_student_unet
from vdmbench.models.svd_denoiser import SVDDenoiser
from vdmbench.models.unets import load_unet
from vdmbench.models.videocrafter2_unet import VideoCrafter2UNet

torch.set_num_threads(1)
TARGET = f"vdmbench.models.pruned_unet:{CLASS_NAME}"


def _tiny_svd() -> tuple[nn.Module, dict[str, Any]]:
    """A 2-level SVD-architecture UNet (32 channels, 2 heads) and its inputs (σ = 1)."""
    from diffusers import UNetSpatioTemporalConditionModel

    torch.manual_seed(0)
    unet = UNetSpatioTemporalConditionModel(
        sample_size=8, in_channels=8, out_channels=4,
        down_block_types=("CrossAttnDownBlockSpatioTemporal", "DownBlockSpatioTemporal"),
        up_block_types=("UpBlockSpatioTemporal", "CrossAttnUpBlockSpatioTemporal"),
        block_out_channels=(32, 32), num_attention_heads=(2, 2), cross_attention_dim=16,
        layers_per_block=1, addition_time_embed_dim=8, projection_class_embeddings_input_dim=24,
        num_frames=4).eval()
    return unet, example_inputs(SVDDenoiser(unet, frames=4, size=8))


def _tiny_vc2() -> tuple[nn.Module, dict[str, Any]]:
    """A 2-level VideoCrafter2 UNet (GroupNorm with 8 groups of 4 channels) and its inputs."""
    torch.manual_seed(0)
    unet = VideoCrafter2UNet.from_config({
        "in_channels": 3, "out_channels": 3, "block_out_channels": [32, 32],
        "layers_per_block": 1, "down_block_types": ["CrossAttnDownBlockVC2", "DownBlockVC2"],
        "up_block_types": ["UpBlockVC2", "CrossAttnUpBlockVC2"], "attention_head_dim": 16,
        "cross_attention_dim": 24, "transformer_in_heads": 2, "norm_num_groups": 8}).eval()
    g = torch.Generator().manual_seed(1)
    inputs = {"sample": torch.randn(1, 3, 4, 8, 8, generator=g),
              "timestep": torch.tensor([10.0]),
              "encoder_hidden_states": torch.randn(1, 5, 24, generator=g)}
    return unet, inputs


def _out(unet: nn.Module, inputs: dict[str, Any]) -> torch.Tensor:
    with torch.no_grad():
        return unet(**inputs, return_dict=False)[0]


def _params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


@pytest.fixture(scope="module")
def svd_half() -> tuple[nn.Module, nn.Module, dict[str, Any]]:
    unet, inputs = _tiny_svd()
    return unet, prune_unet(unet, 0.5, inputs), inputs


def test_ratio_zero_is_the_teacher_bit_for_bit(tmp_path: Path) -> None:
    unet, inputs = _tiny_svd()
    student = prune_unet(unet, 0.0, inputs)
    assert student is not unet and student.pruned_spec["modules"] == {}
    assert torch.equal(_out(student, inputs), _out(unet, inputs))
    save_pruned_unet(student, student.pruned_spec, tmp_path / "unet")
    loaded = load_student_unet(tmp_path / "unet", TARGET)
    assert torch.equal(_out(loaded, inputs), _out(unet, inputs))


def test_half_ratio_changes_output_and_removes_parameters(svd_half: Any) -> None:
    unet, student, inputs = svd_half
    before = [p.clone() for p in unet.parameters()]
    ref, out = _out(unet, inputs), _out(student, inputs)
    assert out.shape == ref.shape and not torch.equal(out, ref)
    # widths halve at every level; the UNet's input and output channels stay
    assert student.conv_in.in_channels == 8 and student.conv_in.out_channels == 16
    assert student.conv_out.in_channels == 16 and student.conv_out.out_channels == 4
    for block in (*student.down_blocks, *student.up_blocks):
        for r in block.resnets:
            assert r.spatial_res_block.conv1.out_channels == 16
    attn = student.down_blocks[0].attentions[0].transformer_blocks[0].attn1
    assert attn.heads == 2 and attn.to_q.out_features == attn.to_k.out_features == 16
    # (out × in) weights keep a quarter, vectors and the UNet's fixed in/out widths a half
    share = _params(student) / _params(unet)
    assert 0.25 <= share <= 0.4, share
    spec = student.pruned_spec
    assert spec["params_before"] == _params(unet) and spec["params_after"] == _params(student)
    assert all(torch.equal(a, b) for a, b in zip(before, unet.parameters(), strict=True)), \
        "pruning must not touch the teacher"


def test_save_load_roundtrip_is_exact(svd_half: Any, tmp_path: Path) -> None:
    _, student, inputs = svd_half
    save_pruned_unet(student, student.pruned_spec, tmp_path / "unet")
    cfg = json.loads((tmp_path / "unet" / "config.json").read_text())
    assert cfg["_class_name"] == CLASS_NAME
    assert cfg["vdmbench_pruned"]["base_class"] == "UNetSpatioTemporalConditionModel"
    for loaded in (load_student_unet(tmp_path / "unet", TARGET), load_unet(tmp_path)):
        assert type(loaded).__name__ == "UNetSpatioTemporalConditionModel"
        assert torch.equal(_out(loaded, inputs), _out(student, inputs))


def test_videocrafter2_unet_prunes_and_roundtrips(tmp_path: Path) -> None:
    unet, inputs = _tiny_vc2()
    student = prune_unet(unet, 0.5, inputs)
    assert student.conv_out.out_channels == 3 and _params(student) < 0.45 * _params(unet)
    per_group = {n: m.num_channels // m.num_groups for n, m in unet.named_modules()
                 if isinstance(m, nn.GroupNorm)}
    norms = {n: m for n, m in student.named_modules() if isinstance(m, nn.GroupNorm)}
    assert norms.keys() == per_group.keys() and any(s == 4 for s in per_group.values())
    assert all(m.num_channels == per_group[n] * m.num_groups for n, m in norms.items())
    out = _out(student, inputs)
    assert not torch.equal(out, _out(unet, inputs))
    save_pruned_unet(student, student.pruned_spec, tmp_path / "unet")
    loaded = load_student_unet(tmp_path / "unet", TARGET)
    assert isinstance(loaded, VideoCrafter2UNet) and torch.equal(_out(loaded, inputs), out)


def test_corrupt_weights_are_named(svd_half: Any, tmp_path: Path) -> None:
    _, student, _ = svd_half
    save_pruned_unet(student, student.pruned_spec, tmp_path / "unet")
    cfg_file = tmp_path / "unet" / "config.json"
    cfg = json.loads(cfg_file.read_text())
    name = next(iter(cfg["vdmbench_pruned"]["modules"]))
    del cfg["vdmbench_pruned"]["modules"][name]
    cfg_file.write_text(json.dumps(cfg))
    with pytest.raises(ConfigError, match="shape mismatch"):
        load_unet(tmp_path)


@pytest.mark.parametrize(("option", "needle"), [
    ("ratio=-0.1", "ratio"), ("ratio=1", "ratio"), ("ratoi=0.3", "ratoi"),
    ("loss.lambda_icd=0.1", "lambda_icd")])
def test_invalid_options_exit_2_naming_the_field(tmp_path: Path, option: str,
                                                 needle: str) -> None:
    res = CliRunner().invoke(compress_cmd, ["--model", "random-svd", "--method", "channel",
                                            "--recipe-option", option,
                                            "--out", str(tmp_path / "o")])
    assert res.exit_code == 2, res.output
    assert needle in res.output and "field" in res.output
    assert not (tmp_path / "o").exists()


def test_recipe_file_errors_name_file_line_field(tmp_path: Path) -> None:
    p = tmp_path / "r.yaml"
    p.write_text("model: random-svd\nratio: -0.5\n")
    with pytest.raises(ConfigError) as e:
        load_channel_recipe(p)
    assert f"{p}:2" in str(e.value) and "ratio" in str(e.value)
    with pytest.raises(ConfigError, match="ratio"):
        prune_unet(nn.Linear(2, 2), 1.0, {})


def test_default_recipe_is_the_vdmini_students_budget() -> None:
    from compression.recipe import RECIPE_DIR, load_recipe

    students = Path(__file__).resolve().parents[2] / "compression" / "students"
    for model in ("synth-i2v", "synth-t2v"):
        r, v = channel_recipe(model), load_recipe(students / f"{model}-vdmini" / "recipe.yaml")
        assert isinstance(r, ChannelRecipe) and r.train == v.train and r.data == v.data
        assert r.loss == v.loss.model_copy(update={"lambda_icd": 0.0})
    assert channel_recipe("synth-i2v").train.max_steps == 600
    assert channel_recipe("synth-i2v").train.batch_size == 4
    # no shipped student: the model's recipe file
    assert channel_recipe("random-svd").train == load_recipe(RECIPE_DIR / "random-svd.yaml").train


def test_cli_two_steps_writes_a_loadable_student(tmp_path: Path) -> None:
    out = tmp_path / "st"
    res = CliRunner().invoke(compress_cmd, ["--model", "random-svd", "--method", "channel",
                                            "--recipe-option", "ratio=0.5", "--max-steps", "2",
                                            "--out", str(out)])
    assert res.exit_code == 0, res.output
    meta = json.loads((out / "compression.json").read_text())
    assert meta["classes"] == {"unet": TARGET} and meta["ratio"] == 0.5
    assert meta["train_steps"] == 2 and meta["unet_params"] < 0.4 * meta["teacher_unet_params"]
    unet = load_student_unet(out / "unet", meta["classes"]["unet"], out / "compression.json")
    assert _params(unet) == meta["unet_params"]
    res = CliRunner().invoke(compress_cmd, ["--model", "random-svd", "--method", "channel",
                                            "--plan", "uniform", "--out", str(tmp_path / "p")])
    assert res.exit_code == 2 and "plan" in res.output
