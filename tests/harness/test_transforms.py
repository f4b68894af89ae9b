"""Transforms: applied in order, in the card and the cache key, removed exactly, refused clearly."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
import yaml
from click.testing import CliRunner

from vdmbench.acceleration import make_transforms, transformed
from vdmbench.cli import main
from vdmbench.diffusion.denoiser import state_hash
from vdmbench.errors import UnsupportedError
from vdmbench.leaderboard import load_records
from vdmbench.models.synth_i2v import SynthI2VAdapter
from vdmbench.suite import TransformSpec, load_suite

ROOT = Path(__file__).resolve().parents[2]


def _scale(factor: float, offset: float = 0.0) -> TransformSpec:
    return TransformSpec(name="test-scale-output", options={"factor": factor, "offset": offset})


@pytest.fixture(scope="module")
def teacher() -> SynthI2VAdapter:
    torch.set_num_threads(1)
    return SynthI2VAdapter.load("teacher", None, {}, "cpu")


def _unet_out(adapter: SynthI2VAdapter) -> torch.Tensor:
    spec = adapter.denoiser()
    batch = spec.batch(1, seed=0, split="val")
    sigma = torch.tensor([1.0])
    x = batch["x0"] + spec.noise(batch, 1)
    with torch.no_grad():
        return spec.unet(**spec.encode_inputs(x, sigma, batch), return_dict=False)[0]


def test_transforms_apply_in_order_and_restore_exactly(teacher: SynthI2VAdapter) -> None:
    unet = teacher.pipeline.unet
    before_state = state_hash(unet)
    raw = _unet_out(teacher)
    a, b = _scale(2.0), _scale(1.0, 0.25)
    with transformed(teacher, make_transforms([a, b], model="t"), model="t") as applied:
        ab = _unet_out(teacher)
        assert [t["options"]["factor"] for t in applied] == [2.0, 1.0]
    with transformed(teacher, make_transforms([b, a], model="t"), model="t"):
        ba = _unet_out(teacher)
    assert torch.equal(ab, raw * 2.0 + 0.25)  # a first, then b
    assert torch.equal(ba, (raw + 0.25) * 2.0)  # b first, then a
    assert not torch.equal(ab, ba)
    after = _unet_out(teacher)
    assert torch.equal(after, raw), "the model must be bit-identical after the context exits"
    assert state_hash(unet) == before_state and not unet._forward_hooks  # noqa: SLF001


def test_transform_exits_cleanly_on_error(teacher: SynthI2VAdapter) -> None:
    raw = _unet_out(teacher)
    with pytest.raises(RuntimeError, match="boom"), \
            transformed(teacher, make_transforms([_scale(3.0)], model="t"), model="t"):
        raise RuntimeError("boom")
    assert torch.equal(_unet_out(teacher), raw)


def _suite(tmp_path: Path, models: list[dict], **extra: object) -> Path:
    data = {
        "schema_version": 2, "name": "transforms-test", "task": "i2v",
        "dataset": {"name": "synthmotion", "split": "test", "num_videos": 2, "frames": 8,
                    "height": 16, "width": 16, "fps": 8, "seed": 0},
        "models": models, "metrics": [{"name": "psnr"}], "speed": {"enabled": False},
        "batch_size": 2, **extra}
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _records(out: Path) -> dict[str, dict]:
    (run,) = list((out / "transforms-test").iterdir())
    return {r["model"]["name"]: r for r in load_records(run)}


def test_transforms_enter_card_and_cache_key_and_rerun_generates_nothing(tmp_path: Path) -> None:
    suite = _suite(tmp_path, [
        {"name": "teacher", "adapter": "synth-i2v", "steps": 2},
        {"name": "identity", "adapter": "synth-i2v", "steps": 2,
         "transforms": [{"name": "test-scale-output", "options": {"factor": 1.0}}]},
        {"name": "scaled", "adapter": "synth-i2v", "steps": 2,
         "transforms": [{"name": "test-scale-output", "options": {"factor": 0.8}}]},
    ])
    out = tmp_path / "out"
    res = CliRunner().invoke(main, ["run", str(suite), "--out", str(out), "--quiet"])
    assert res.exit_code == 0, res.output
    recs = _records(out)
    keys = {n: r["model"]["cache_key"] for n, r in recs.items()}
    assert len(set(keys.values())) == 3, "any transform or option must change the cache key"
    card = recs["scaled"]["model"]["card"]
    assert [(t["name"], t["options"]["factor"]) for t in card["transforms"]] == [
        ("test-scale-output", 0.8)]
    assert recs["teacher"]["model"]["card"]["transforms"] == []
    # factor 1 changes nothing: the same videos as the teacher (PSNR capped = identical)
    assert recs["identity"]["metrics"]["psnr"]["details"]["n_identical"] == 2
    assert recs["scaled"]["metrics"]["psnr"]["details"]["n_identical"] == 0
    # a second run with fresh records regenerates nothing (videos keyed by content)
    res = CliRunner().invoke(main, ["run", str(suite), "--out", str(out), "--quiet",
                                    "--no-resume"])
    assert res.exit_code == 0, res.output
    runs = sorted((out / "transforms-test").iterdir())
    second = {r["model"]["name"]: r for r in load_records(runs[-1])}
    assert all(r["generation"]["generated_now"] == 0 for r in second.values())


def test_transform_refused_by_an_adapter_it_does_not_apply_to(tmp_path: Path) -> None:
    suite = _suite(tmp_path, [
        {"name": "teacher", "adapter": "synth-i2v", "steps": 2},
        {"name": "pattern", "adapter": "test-generator",
         "transforms": [{"name": "test-scale-output", "options": {"factor": 0.5}}]},
    ])
    res = CliRunner().invoke(main, ["run", str(suite), "--out", str(tmp_path / "o"), "--quiet"])
    assert res.exit_code == 2
    assert re.search(r"model entry 'pattern': transform 'test-scale-output' does not apply",
                     res.output), res.output
    assert not list((tmp_path / "o").rglob("records/*.json"))


def test_transform_names_and_options_are_validated(tmp_path: Path) -> None:
    bad_name = _suite(tmp_path, [{"name": "t", "adapter": "synth-i2v",
                                  "transforms": [{"name": "test-scale-outptu"}]}])
    res = CliRunner().invoke(main, ["validate", str(bad_name)])
    assert res.exit_code == 2
    assert "Did you mean 'test-scale-output'" in res.output and "transforms[0].name" in res.output
    assert f"{bad_name}:" in res.output
    for options, field in (({"factr": 2.0}, "factr"), ({"factor": 0.0}, "factor")):
        path = _suite(tmp_path, [{"name": "t", "adapter": "synth-i2v", "transforms": [
            {"name": "test-scale-output", "options": options}]}])
        res = CliRunner().invoke(main, ["validate", str(path)])
        assert res.exit_code == 2 and field in res.output, res.output


def test_version_1_suites_map_kernels_to_the_triton_transform(tmp_path: Path) -> None:
    text = (ROOT / "tests" / "harness" / "suite_ok.yaml").read_text()
    assert text.startswith("schema_version: 1")
    v1 = text.replace("    steps: 2\n", "    steps: 2\n    kernels: triton\n")
    p = tmp_path / "v1.yaml"
    p.write_text(v1)
    suite, _ = load_suite(p)
    assert [t.name for t in suite.model("student").transforms] == ["triton"]
    assert suite.model("teacher").transforms == []
    p.write_text(v1.replace("kernels: triton", "kernels: cuda"))
    res = CliRunner().invoke(main, ["validate", str(p)])
    assert res.exit_code == 2 and "transforms: [{name: triton}]" in res.output


def test_compress_accepts_registered_teachers_only(tmp_path: Path) -> None:
    from compression.cli import compress_cmd

    res = CliRunner().invoke(compress_cmd, ["--model", "synth-i2vv", "--out", str(tmp_path)])
    assert res.exit_code == 2 and "Did you mean 'synth-i2v'" in res.output
    res = CliRunner().invoke(compress_cmd, ["--model", "test-generator", "--recipe",
                                            str(ROOT / "compression/recipes/synth-i2v.yaml"),
                                            "--out", str(tmp_path)])
    assert res.exit_code == 2 and "recipe is for model 'synth-i2v'" in res.output


def test_teacher_of_refuses_adapters_without_a_teacher() -> None:
    from vdmbench.acceleration import teacher_of

    with pytest.raises(UnsupportedError, match="test-generator.*cannot be analysed") as e:
        teacher_of("test-generator", None)
    assert "synth-i2v" in str(e.value)


def test_harness_never_imports_compression_or_baselines() -> None:
    pattern = re.compile(r"^\s*(from|import)\s+(compression|baselines)\b", re.MULTILINE)
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "vdmbench").rglob("*.py")
                 if pattern.search(p.read_text(encoding="utf-8"))]
    assert offenders == []
