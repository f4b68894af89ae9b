"""`compress` on a video folder for an SVD-type (CLI) and a VideoCrafter2-type (library)
teacher: the student's compression.json names its data; a second run encodes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import torch
import yaml
from click.testing import CliRunner
from training_data_utils import t2v_denoiser

from compression.cli import compress_cmd, prepare_data_cmd
from compression.compress import compress
from compression.recipe import Recipe


def _svd_recipe(tmp: Path) -> Path:
    path = tmp / "sfv-tiny.yaml"
    path.write_text(yaml.safe_dump({
        "model": "sfv", "plan": {"preset": "none"}, "loss": {"lambda_mca": 0.0},
        "train": {"max_steps": 50, "batch_size": 1, "ema_decay": None, "checkpoint_every": 50},
        "data": {"frames": 4, "height": 16, "width": 16, "fps": 8, "max_bad_fraction": 0.3},
        "vae": {"enabled": True, "channel_ratio": 1.0, "finetune_steps": 1,
                "adversarial": 0.1, "frame_clips": 6}}))
    return path


def test_svd_compress_on_a_video_folder_then_reuses_the_cache(
        folder: Path, svd_dir: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    common = ["--model", "sfv", "--weights", str(svd_dir), "--recipe", str(_svd_recipe(tmp_path)),
              "--dataset", "videofolder", "--dataset-option", f"root={folder}",
              "--max-steps", "2", "--data-cache", str(cache)]
    res = CliRunner().invoke(compress_cmd, [*common, "--out", str(tmp_path / "s1")])
    assert res.exit_code == 0, res.output
    d1 = json.loads((tmp_path / "s1" / "compression.json").read_text())["data"]
    assert d1["dataset"] == "videofolder" and d1["options"] == {"root": str(folder)}
    assert (d1["clips"], d1["skipped"], d1["clips_encoded"], d1["clips_reused"]) == (9, 3, 9, 0)
    # 2 steps × 1 clip; real frames of the good clips among the first 6 candidates
    assert d1["clips_seen"] == 2 and d1["frames_encoded"] == 6
    manifest = cache / d1["cache_key"] / "manifest.json"
    import hashlib

    assert hashlib.sha256(manifest.read_bytes()).hexdigest() == d1["manifest_sha256"]
    meta = json.loads((tmp_path / "s1" / "compression.json").read_text())
    assert meta["vae_real_frames"] is True
    log = (tmp_path / "s1" / "train" / "vae_loss_log.csv").read_text().splitlines()
    assert "rec_real" in log[0] and log[1].split(",")[3] != ""

    res = CliRunner().invoke(compress_cmd, [*common, "--out", str(tmp_path / "s2")])
    assert res.exit_code == 0, res.output
    d2 = json.loads((tmp_path / "s2" / "compression.json").read_text())["data"]
    assert (d2["clips_encoded"], d2["clips_reused"], d2["frames_encoded"]) == (0, 9, 0)
    assert d2["manifest_sha256"] == d1["manifest_sha256"]
    # prepare-data alone finds the same cache complete
    res = CliRunner().invoke(prepare_data_cmd, [
        "--model", "sfv", "--weights", str(svd_dir), "--recipe", str(_svd_recipe(tmp_path)),
        "--dataset", "videofolder", "--dataset-option", f"root={folder}",
        "--data-cache", str(cache), "--device", "cpu"])
    assert res.exit_code == 0, res.output
    assert f"cache {d1['cache_key']}: 9 clips (0 encoded now, 9 reused), 3 skipped" in res.output


def test_bad_dataset_exits_2_before_the_model_loads(tmp_path: Path) -> None:
    args = ["--model", "sfv", "--weights", str(tmp_path / "no-weights"), "--dataset",
            "videofolder", "--out", str(tmp_path / "o")]
    res = CliRunner().invoke(compress_cmd, [*args, "--dataset-option", f"root={tmp_path}/x"])
    assert res.exit_code == 2 and "root folder" in res.output and "weights" not in res.output
    (tmp_path / "v").mkdir()
    (tmp_path / "v" / "metadata.csv").write_text("path,caption\na.mp4,x\n")
    res = CliRunner().invoke(prepare_data_cmd, [
        "--model", "sfv", "--weights", str(tmp_path / "no-weights"), "--dataset", "videofolder",
        "--dataset-option", f"root={tmp_path}/v"])
    assert res.exit_code == 2 and "no column 'file_name'" in res.output
    res = CliRunner().invoke(prepare_data_cmd, [
        "--model", "sfv", "--dataset", "ucf101", "--dataset-option", "split_file=4"])
    assert res.exit_code == 2 and "split_file" in res.output


def test_videocrafter2_teacher_compresses_on_captioned_clips(folder: Path,
                                                            tmp_path: Path) -> None:
    recipe = Recipe.model_validate({
        "model": "t2v-turbo-v2", "plan": {"preset": "vdmini"}, "loss": {"lambda_mca": 0.0},
        "train": {"max_steps": 2, "batch_size": 1, "ema_decay": None, "checkpoint_every": 5},
        "data": {"name": "videofolder", "options": {"root": str(folder)}, "frames": 4,
                 "height": 16, "width": 16, "max_bad_fraction": 0.3}})
    cache = tmp_path / "cache"
    out = compress(recipe, tmp_path / "s1", teacher=t2v_denoiser(), data_cache=cache,
                   progress=False)
    d1 = json.loads((out / "compression.json").read_text())["data"]
    assert (d1["dataset"], d1["clips"], d1["clips_encoded"], d1["clips_seen"]) == \
        ("videofolder", 9, 9, 2)
    out = compress(recipe, tmp_path / "s2", teacher=t2v_denoiser(), data_cache=cache,
                   progress=False)
    d2 = json.loads((out / "compression.json").read_text())["data"]
    assert (d2["clips_encoded"], d2["clips_reused"]) == (0, 9)
    assert d2["manifest_sha256"] == d1["manifest_sha256"]
    # another teacher's encoders are another cache
    out = compress(recipe, tmp_path / "s3", teacher=t2v_denoiser(seed=1), data_cache=cache,
                   progress=False)
    d3 = json.loads((out / "compression.json").read_text())["data"]
    assert d3["clips_encoded"] == 9 and d3["cache_key"] != d1["cache_key"]


def test_t2v_turbo_compresses_from_the_command_line(folder: Path, tmp_path: Path,
                                                    monkeypatch) -> None:
    """`vdmbench compress --model t2v-turbo-v2` (the adapter's ``teacher``): the loader of the
    real checkpoint files (tested in tests/t2v; it needs open_clip) is replaced by the tiny
    pipeline, everything after it is the command's own path."""
    from vdmbench.models.t2v_turbo import T2VTurboAdapter
    from vdmbench.models.t2v_turbo_pipeline import load_turbo_unet

    tiny = t2v_denoiser()
    loaded: list[tuple[str | None, str]] = []

    def load(cls, name, weights, options, device, steps=None, dtype="float32"):  # noqa: ANN001, ANN202
        loaded.append((weights, dtype))
        opts = cls.Options.model_validate({**(options or {}), "frames": 4, "height": 16,
                                           "width": 16})
        return cls(name, tiny.pipe, opts, dtype, [])

    monkeypatch.setattr(T2VTurboAdapter, "load", classmethod(load))
    recipe = tmp_path / "turbo.yaml"
    recipe.write_text(yaml.safe_dump({
        "model": "t2v-turbo-v2", "plan": {"preset": "vdmini"}, "loss": {"lambda_mca": 0.0},
        "train": {"max_steps": 1, "batch_size": 1, "ema_decay": None, "checkpoint_every": 5},
        "data": {"frames": 4, "height": 16, "width": 16, "max_bad_fraction": 0.3}}))
    weights = tmp_path / "turbo-weights"
    out = tmp_path / "student"
    res = CliRunner().invoke(compress_cmd, [
        "--model", "t2v-turbo-v2", "--weights", str(weights), "--recipe", str(recipe),
        "--dataset", "videofolder", "--dataset-option", f"root={folder}",
        "--data-cache", str(tmp_path / "cache"), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert loaded == [(str(weights), "float32")]
    meta = json.loads((out / "compression.json").read_text())
    assert meta["base_model"] == "t2v-turbo-v2" and meta["data"]["dataset"] == "videofolder"
    assert (out / meta["base_weights"]).resolve() == weights.resolve()
    student = load_turbo_unet(out / "unet", torch.float32)  # as the adapter's `unet` option does
    n = sum(p.numel() for p in student.parameters())
    assert n < sum(p.numel() for p in tiny.pipe.unet.parameters())
