from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from compression.cli import analyze_cmd, compress_cmd
from compression.recipe import RECIPE_DIR, load_recipe
from vdmbench.errors import ConfigError


def test_shipped_recipes_validate():
    for name in ("synth-i2v", "sfv", "random-svd", "t2v-turbo-v2"):
        r = load_recipe(RECIPE_DIR / f"{name}.yaml")
        assert r.model == name and r.loss.lambda_icd == 0.1 and r.loss.lambda_mca == 1.0


def test_recipe_error_names_file_line_field(tmp_path):
    p = tmp_path / "r.yaml"
    p.write_text("model: synth-i2v\ntrain:\n  max_steps: 3\n  learning_rate: 0.1\n")
    with pytest.raises(ConfigError) as e:
        load_recipe(p)
    msg = str(e.value)
    assert f"{p}:4" in msg and "train.learning_rate" in msg and "unknown key" in msg


def test_sfv_without_weights_exits_2(tmp_path, monkeypatch):
    monkeypatch.delenv("VDMBENCH_TRAIN_VIDEOS", raising=False)
    # the shipped recipe's videos come first (no model is loaded before the data is checked)
    res = CliRunner().invoke(compress_cmd, ["--model", "sfv", "--out", str(tmp_path / "o")])
    assert res.exit_code == 2
    assert "VDMBENCH_TRAIN_VIDEOS" in res.output
    res = CliRunner().invoke(compress_cmd, ["--model", "sfv", "--dataset", "noise",
                                            "--out", str(tmp_path / "o")])
    assert res.exit_code == 2
    assert "--weights" in res.output


@pytest.mark.slow
def test_cli_analyze_random(tmp_path):
    res = CliRunner().invoke(analyze_cmd, ["--model", "random-svd", "--clips", "2", "--steps",
                                           "1", "--out", str(tmp_path / "an")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "an" / "analysis.csv").is_file()


def test_cli_compress_random(tmp_path):
    r = CliRunner()
    res = r.invoke(compress_cmd, ["--model", "random-svd", "--max-steps", "2",
                                  "--out", str(tmp_path / "st")])
    assert res.exit_code == 0, res.output
    meta = json.loads((tmp_path / "st" / "compression.json").read_text())
    assert meta["plan"]["preset"] == "vdmini" and meta["train_steps"] == 2
    assert "unet_loader" not in meta  # classes.unet names the class
    assert (tmp_path / "st" / "unet" / "config.json").is_file()
