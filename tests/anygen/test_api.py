"""``vdmbench.evaluate()``: the CLI's runner, cache, records and leaderboard for a Python
function or pipeline object."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from anygen_utils import (
    STUDENT,
    STUDENT_OPTIONS,
    TEACHER,
    cli,
    metric_values,
    run,
    suite,
    write_suite,
)
from tiny_pipelines import save

import vdmbench
from vdmbench import testing
from vdmbench.errors import ConfigError, InvalidVideoError

ROOT = Path(__file__).resolve().parents[2]


def test_import_vdmbench_imports_no_torch() -> None:
    code = ("import sys, vdmbench; vdmbench.evaluate, vdmbench.Results; "
            "assert 'torch' not in sys.modules, 'torch imported'")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=ROOT)


def test_evaluate_a_function_gives_the_clis_records(tmp_path: Path) -> None:
    s = write_suite(tmp_path / "s.yaml", suite("anygen-api", [TEACHER, STUDENT]))
    by_cli = run(s, tmp_path / "cli")
    gen = testing.TestGenerator.load("fn", None, testing.TestGenerator.Options(**STUDENT_OPTIONS),
                                     "cpu", steps=2)
    calls = []

    def my_generator(request):  # what a notebook user writes: request → video
        calls.append(request.id)
        return gen.generate([request])[0].frames.numpy()

    res = vdmbench.evaluate(s, generate=my_generator, name="student", out=tmp_path / "api")
    assert set(res.records) == {"teacher", "student"} and len(set(calls)) == 4
    for model in ("teacher", "student"):
        assert metric_values(res.records[model]) == metric_values(by_cli[model]), model
        assert set(res.records[model]) == set(by_cli[model])
    student = res.records["student"]
    assert student["model"]["card"]["adapter"] == "python"
    assert student["model"]["card"]["steps"] == 2  # kept from the suite's entry
    assert student["speed"]["per_video"]["count"] >= 6  # timed like any model: whole video
    assert res.metrics("student")["psnr"] == by_cli["student"]["metrics"]["psnr"]["value"]
    assert "| student |" in res.leaderboard and "speed-up" in res.leaderboard
    assert {r["model"] for r in res.rows} == {"teacher", "student"}
    assert (res.run_dir / "records" / "student.json").is_file()
    # a function of the wrong shape is named with its request
    with pytest.raises(InvalidVideoError, match="pattern-test-00000: the function returned"):
        vdmbench.evaluate(s, generate=lambda r: gen.generate([r])[0].frames[:2], name="bad",
                          out=tmp_path / "bad")


def test_evaluate_a_pipeline_gives_the_clis_records(tmp_path: Path) -> None:
    from diffusers import DiffusionPipeline

    folder = save("wan", tmp_path)
    entry = {"name": "wan", "adapter": "diffusers", "weights": str(folder), "steps": 2,
             "options": {"call_kwargs": {"guidance_scale": 3.0}}}
    data = suite("anygen-pipe", [entry], task="t2v", num_videos=2,
                 metrics=[{"name": "temporal_flickering"}], speed={"enabled": False})
    by_cli = run(write_suite(tmp_path / "s.yaml", data), tmp_path / "cli")
    pipe = DiffusionPipeline.from_pretrained(folder, local_files_only=True)
    with pytest.raises(ConfigError, match="unknown key 'bogus'"):
        vdmbench.evaluate(data, pipeline=pipe, name="wan", call_kwargs={"bogus": 1})
    res = vdmbench.evaluate(data, pipeline=pipe, name="wan", steps=2,
                            call_kwargs={"guidance_scale": 3.0}, out=tmp_path / "api")
    assert metric_values(res.records["wan"]) == metric_values(by_cli["wan"])
    card = res.records["wan"]["model"]["card"]
    assert card["adapter"] == "python" and card["sampler"]["pipeline"] == "WanPipeline"
    assert card["params"] == by_cli["wan"]["model"]["card"]["params"]


def test_python_entries_work_only_through_evaluate(tmp_path: Path) -> None:
    s = write_suite(tmp_path / "s.yaml", suite("anygen-py", [
        TEACHER, {"name": "mine", "adapter": "python", "options": {"key": "abc"}}]))
    result = cli("validate", s)
    assert result.exit_code == 2 and "models[1].options.key" in result.output
    assert "vdmbench.evaluate()" in result.output
    with pytest.raises(ConfigError, match="exactly one of generate=fn or pipeline=pipe"):
        vdmbench.evaluate(s)


def test_ls_models_says_what_the_generic_models_accept() -> None:
    result = cli("ls", "models")
    lines = {line.split()[0]: line for line in result.output.splitlines()}
    assert "folder" in lines["videos"] and "answers" in lines["videos"]
    assert "call_kwargs" in lines["diffusers"] and "variant" in lines["diffusers"]
    assert "vdmbench.evaluate()" in lines["python"]
