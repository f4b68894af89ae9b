"""The baselines suites: a small-n run end to end (records, leaderboard, Pareto plot,
matched-speed table), option validation, refusals and cache keys."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from vdmbench.cli import main
from vdmbench.leaderboard import load_records

ROOT = Path(__file__).resolve().parents[2]


def _small(tmp_path: Path, suite: str, models: list[dict[str, Any]] | None = None,
           **changes: Any) -> Path:
    data = yaml.safe_load((ROOT / "suites" / suite).read_text())
    data["speed"] = {"warmup": 0, "iterations": 1, "min_seconds": 0.0, "components": []}
    for m in data["metrics"]:  # the small runs have 2 videos: IS over 2 splits
        if m["name"] == "is_synth":
            m["options"] = {**(m.get("options") or {}), "splits": 2}
    if models is not None:
        data["models"] = models
    data.update(changes)
    path = tmp_path / suite
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


KEPT = ("teacher-8step", "vdmini-8step", "channel-r0.5", "steps-3", "deepcache-i2", "pab-2",
        "tgate-g4", "vdmini-deepcache-i2")


def test_synth_i2v_baselines_small_run(tmp_path: Path) -> None:
    suite = _small(tmp_path, "synth_i2v_baselines.yaml")
    data = yaml.safe_load(suite.read_text())
    # one entry per method (and one combination): the other settings of a method add run time,
    # not coverage (test_transforms_common.py checks every setting's effect)
    data["models"] = [m for m in data["models"] if m["name"] in KEPT]
    assert len(data["models"]) == len(KEPT)
    for m in data["models"]:  # sampler batches of 2 (not padded to 8) for the 2-video run
        m["options"] = {**(m.get("options") or {}), "batch_size": 2}
    # one call per component and round: a wide noise threshold keeps these few-call ratios out
    # of the "noisy" class, which the trade-off views leave out (tested in test_tradeoff.py)
    data["speed"].update(rounds=6, noise_threshold=0.95)
    suite.write_text(yaml.safe_dump(data, sort_keys=False))
    out = tmp_path / "out"
    res = CliRunner().invoke(main, ["run", str(suite), "--out", str(out), "--limit", "2",
                                    "--quiet"])
    assert res.exit_code == 0, res.output
    (run,) = list((out / "synth_i2v_baselines").iterdir())
    recs = {r["model"]["name"]: r for r in load_records(run)}
    data = yaml.safe_load(suite.read_text())
    assert set(recs) == {m["name"] for m in data["models"]}
    keys = [r["model"]["cache_key"] for r in recs.values()]
    assert len(set(keys)) == len(keys), "every setting must have its own video cache key"
    assert recs["deepcache-i2"]["model"]["card"]["transforms"][0]["options"]["interval"] == 2
    assert recs["teacher-8step"]["metrics"]["psnr"]["details"]["n_identical"] == 2
    for name in ("deepcache-i2", "pab-2", "tgate-g4"):
        assert recs[name]["metrics"]["psnr"]["details"]["n_identical"] == 0, name
    board = (run / "leaderboard.md").read_text()
    assert "## Matched speed" in board and "| synth-i2v-vdmini | vdmini-8step |" in board
    # 2 of the suite's videos: every value is marked under-sampled (‡) and left out of the
    # trade-off views — no Pareto plot, "—" in the matched-speed table (docs/harness.md)
    assert "‡ under-sampled" in board
    matched_row = next(ln for ln in board.split("## Matched speed")[1].splitlines()
                       if ln.startswith("| synth-i2v-vdmini |"))
    assert matched_row.rstrip(" |").endswith("| — | — | — | — | — | — | —")
    assert not (run / "leaderboard_pareto.png").exists()


@pytest.mark.parametrize(("name", "options", "field"), [
    ("deepcache", {"interval": 0}, "interval"),
    ("deepcache", {"intervall": 2}, "intervall"),
    ("deepcache", {"branch": -1}, "branch"),
    ("pab", {"sigma_range": [2.0, 1.0]}, "sigma_range"),
    ("pab", {"spatial_every": None, "temporal_every": None, "cross_every": None}, "options"),
    ("tgate", {"gate_step": 0}, "gate_step"),
    ("tgate", {"self_every_after": 0}, "self_every_after"),
])
def test_options_are_validated(tmp_path: Path, name: str, options: dict[str, Any],
                               field: str) -> None:
    suite = _small(tmp_path, "synth_i2v_baselines.yaml", models=[
        {"name": "teacher-8step", "adapter": "synth-i2v", "steps": 8},
        {"name": "bad", "adapter": "synth-i2v", "steps": 8,
         "transforms": [{"name": name, "options": options}]}])
    res = CliRunner().invoke(main, ["validate", str(suite)])
    assert res.exit_code == 2, res.output
    assert re.search(rf"{re.escape(str(suite))}:\d+", res.output), res.output
    assert "models[1].transforms[0].options" in res.output and field in res.output, res.output


@pytest.mark.parametrize("name", ["deepcache", "pab", "tgate"])
def test_one_step_models_are_refused(tmp_path: Path, name: str) -> None:
    suite = _small(tmp_path, "synth_i2v_baselines.yaml", models=[
        {"name": "teacher-8step", "adapter": "synth-i2v", "steps": 2},
        {"name": "one-step", "adapter": "synth-i2v", "steps": 1,
         "transforms": [{"name": name}]}], metrics=[{"name": "psnr"}])
    res = CliRunner().invoke(main, ["run", str(suite), "--out", str(tmp_path / "o"),
                                    "--limit", "2", "--quiet"])
    assert res.exit_code == 2, res.output
    assert f"model entry 'one-step': transform '{name}' does not apply" in res.output
    assert "one step" in res.output
    sfv = _small(tmp_path, "synth_i2v_baselines.yaml", models=[
        {"name": "teacher-8step", "adapter": "synth-i2v", "steps": 8},
        {"name": "sf", "adapter": "sfv", "weights": "/nowhere",
         "transforms": [{"name": name}]}])
    res = CliRunner().invoke(main, ["validate", str(sfv)])
    assert res.exit_code == 2 and "model entry 'sf'" in res.output, res.output
    assert "samples in one step" in res.output


def test_deepcache_branch_beyond_the_unet_is_refused(tmp_path: Path) -> None:
    suite = _small(tmp_path, "synth_t2v_baselines.yaml", models=[
        {"name": "teacher", "adapter": "synth-t2v", "steps": 2},
        {"name": "deep", "adapter": "synth-t2v", "steps": 8,
         "transforms": [{"name": "deepcache", "options": {"branch": 2}}]}],
        reference_model="teacher", metrics=[{"name": "temporal_flickering"}])
    res = CliRunner().invoke(main, ["run", str(suite), "--out", str(tmp_path / "o"),
                                    "--limit", "2", "--quiet"])
    assert res.exit_code == 2, res.output
    assert "model entry 'deep': transform 'deepcache'" in res.output
    assert "branch 2 needs more than the UNet's 2 down blocks" in res.output


def test_int8_without_torchao_is_refused_before_any_model_loads(tmp_path: Path,
                                                                monkeypatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "torchao" else real(name, *a))
    suite = _small(tmp_path, "synth_i2v_baselines.yaml", models=[
        {"name": "teacher-8step", "adapter": "synth-i2v", "steps": 2},
        {"name": "q", "adapter": "synth-i2v", "steps": 2, "transforms": [{"name": "int8"}]}],
        metrics=[{"name": "psnr"}])
    res = CliRunner().invoke(main, ["validate", str(suite)])
    assert res.exit_code == 2, res.output
    assert "model entry 'q': transform 'int8' does not apply" in res.output, res.output
    assert "torchao" in res.output
    monkeypatch.setattr(importlib.util, "find_spec", real)
    assert CliRunner().invoke(main, ["validate", str(suite)]).exit_code == 0
