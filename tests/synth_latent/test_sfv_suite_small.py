"""The miniature SF-V chain and its suite at small n: every stage of
``benchmarks/synth_sfv_chain.py`` (its own ``vdmbench compress`` arguments, 1 training step, 8
cached clips) from one teacher, then ``suites/synth_sfv.yaml`` on those students at n = 10 with
a short timing phase; the record must hold every model's metrics and per-component times."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest
import torch
import yaml
from click.testing import CliRunner

from vdmbench.cli import main
from vdmbench.leaderboard import load_records

ROOT = Path(__file__).resolve().parents[2]

#: the teacher the chain starts from (the one place to switch): None = the shipped latent
#: teacher (vdmbench/assets/synth_latent_i2v_teacher, once it ships); "random" = a seeded random
#: model directory in the same format (unet/, image_encoder/, sampler.json, vae/), the
#: ``random_dir`` fixture
TEACHER: str | None = "random"
N = 10  # is_synth needs at least 10 videos
#: every stage shrunk to one step of one clip (one thread) on the first N training clips
CLIPS = 8
SMALL = (f"data.num_videos={CLIPS}", "train.batch_size=1", "train.num_threads=1")


def _chain_module():  # noqa: ANN202 (a script module)
    name = "synth_sfv_chain"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
        mod = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
        sys.modules[name] = mod
        spec.loader.exec_module(mod)  # type: ignore[union-attr]
    return sys.modules[name]


def _teacher_dir(random_dir: Path) -> str | None:
    """:data:`TEACHER`; "random": the session's random model directory (tests/synth_latent/
    conftest.py: the shipped UNet widths, a narrow random VAE in ``vae/``)."""
    return str(random_dir) if TEACHER == "random" else TEACHER


def _invoke(args: list[str]) -> None:
    res = CliRunner().invoke(main, args, catch_exceptions=False)
    assert res.exit_code == 0, res.output


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory, random_dir: Path
          ) -> tuple[Path, str | None]:
    """The six students of the chain, made by the chain script's commands (in this process)."""
    before = torch.get_num_threads()
    tmp = tmp_path_factory.mktemp("sfv_chain")
    teacher = _teacher_dir(random_dir)
    mod = _chain_module()
    out = tmp / "students"
    try:
        for stage in mod.STAGES:
            _invoke(mod.compress_args(stage, out, teacher, max_steps=1, vae_steps=1,
                                      recipe_options=SMALL, data_cache=str(tmp / "cache")))
            assert mod.complete(mod.student_dir(out, stage.name))
    finally:
        torch.set_num_threads(before)  # the recipes set 2 threads
    return out, teacher


def _suite(out: Path, teacher: str | None, dest: Path, **speed: object) -> Path:
    suite = yaml.safe_load((ROOT / "suites" / "synth_sfv.yaml").read_text())
    for m in suite["models"]:
        w = m.get("weights")
        if w is None:
            if teacher is not None:
                m["weights"] = teacher
        else:
            m["weights"] = str(out / Path(w).name)
    # the triton transform runs Triton's CPU interpreter under the tests (TRITON_INTERPRET=1,
    # tests/conftest.py): minutes per video; tests/kernels checks it, the shipped run uses it
    suite["models"] = [m for m in suite["models"]
                       if all(t["name"] != "triton" for t in m.get("transforms", []))]
    suite["dataset"]["num_videos"] = N
    suite["speed"].update(speed)
    dest.write_text(yaml.safe_dump(suite, sort_keys=False))
    return dest


def test_students_chain_to_the_teacher_and_name_their_data(chain: tuple[Path, str | None]
                                                           ) -> None:
    out, teacher = chain
    mod = _chain_module()
    for stage in mod.STAGES:
        d = mod.student_dir(out, stage.name)
        meta = json.loads((d / "compression.json").read_text())
        assert meta["base_model"] == "synth-latent-i2v"
        assert meta["data"]["dataset"] == "synthmotion"
        assert meta["data"]["source"] == "latent cache" and meta["data"]["clips"] == CLIPS
        parent = teacher if stage.parent is None else str(mod.student_dir(out, stage.parent))
        if parent is None:
            assert meta["base_weights"] is None
        else:  # relative to the student: the chain moves with its directory
            assert not Path(meta["base_weights"]).is_absolute()
            assert (d / meta["base_weights"]).resolve() == Path(parent).resolve()
    sfv = json.loads((mod.student_dir(out, "sfv") / "sampler.json").read_text())
    assert sfv["steps"] == 1  # the one-step student (and every student of it) samples once
    dec = json.loads((mod.student_dir(out, "decoder-only") / "compression.json").read_text())
    assert dec["unet_sha256"] == dec["base_weights_sha256"]  # the UNet is the parent's
    assert dec["vae_decoder_params"] < dec["vae_teacher_decoder_params"]


def test_suite_small_n_has_every_models_metrics_and_component_times(
        chain: tuple[Path, str | None], tmp_path: Path) -> None:
    out, teacher = chain
    path = _suite(out, teacher, tmp_path / "synth_sfv.yaml", warmup=0, iterations=1,
                  min_seconds=0.0, rounds=6)
    before = torch.get_num_threads()
    try:
        _invoke(["run", str(path), "--out", str(tmp_path / "res"), "--quiet"])
    finally:
        torch.set_num_threads(before)
    records = load_records(tmp_path / "res")
    suite = yaml.safe_load(path.read_text())
    assert sorted(r["model"]["name"] for r in records) == sorted(m["name"] for m in
                                                                  suite["models"])
    wanted = {m["name"] for m in suite["metrics"]}
    for r in records:
        assert wanted <= set(r["metrics"]), (r["model"]["name"], sorted(r["metrics"]))
        comps = r["speed"]["components"]
        assert {"encode", "denoise", "decode"} <= set(comps), r["model"]["name"]
    by = {r["model"]["name"]: r for r in records}
    # the decoder cut shows in the decode time's parameter count, not only in the UNet's
    assert by["vdmini-i2v"]["model"]["card"]["params"]["vae_decoder"] < \
        by["sfv-1step"]["model"]["card"]["params"]["vae_decoder"]


def test_caching_baseline_on_a_one_step_model_is_a_clear_error(
        chain: tuple[Path, str | None], tmp_path: Path) -> None:
    out, teacher = chain
    path = _suite(out, teacher, tmp_path / "cache.yaml")
    suite = yaml.safe_load(path.read_text())
    sfv = next(m for m in suite["models"] if m["name"] == "sfv-1step")
    suite["models"] = [{**sfv, "name": "sfv-deepcache", "transforms": [{"name": "deepcache"}]}]
    suite["reference_model"] = suite["teacher_model"] = "sfv-deepcache"
    suite.pop("matched_speed_model")  # it names a model this one-model suite does not have
    suite["metrics"] = [{"name": "temporal_flickering"}]
    path.write_text(yaml.safe_dump(suite, sort_keys=False))
    res = CliRunner().invoke(main, ["run", str(path), "--out", str(tmp_path / "r"), "--quiet"])
    assert res.exit_code == 2, res.output
    assert "deepcache" in res.output and "one step" in res.output, res.output


def test_latent_denoiser_trains_on_synthmotion_only_and_a_one_step_model_at_sigma_max(
        random_dir: Path, tmp_path: Path) -> None:
    from vdmbench.errors import ConfigError
    from vdmbench.models.synth_latent_i2v import SynthLatentI2VAdapter
    from vdmbench.training_data.spec import TrainingDataSpec

    spec = SynthLatentI2VAdapter.teacher(str(random_dir))
    with pytest.raises(ConfigError, match="synthmotion"):
        spec.clip_encoder(TrainingDataSpec(name="videofolder"))
    with pytest.raises(ConfigError, match="frames"):
        spec.clip_encoder(TrainingDataSpec(name="synthmotion", frames=4))
    g = torch.Generator().manual_seed(0)
    many = spec.train_sigmas(4000, g)  # the teacher's own ln σ ~ N(0.3, 1.4): median e^0.3
    assert 1.1 < float(many.median()) < 1.6 and not bool((many == spec.sigma_max).any())
    spec.write_one_step_sampler(tmp_path, spec.sigma_max)
    one = SynthLatentI2VAdapter.teacher(str(random_dir))
    one.default_steps = json.loads((tmp_path / "sampler.json").read_text())["steps"]
    assert one.default_steps == 1
    s = one.train_sigmas(4000, torch.Generator().manual_seed(0))
    at_max = float((s == one.sigma_max).float().mean())
    assert float(s.max()) == one.sigma_max and 0.4 < at_max < 0.6
    assert float(s.min()) > one.sigma_max * 0.01
