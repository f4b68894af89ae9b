"""The SF-V stage (``vdmbench compress --method sfv``) on a tiny random SVD pipeline and a test
video folder: a student the ``sfv`` adapter loads and samples in one step (and ``compress --model
sfv`` compresses), exact resume, 2 processes = 1, the method learns, the frozen backbone stays
frozen, and bad input exits 2."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from click.testing import CliRunner
from safetensors.torch import load_file

import compression.distill as distill
import compression.sfv_stage as sfv_stage
from compression.cli import compress_cmd
from compression.icmd import MCADiscriminator
from compression.recipe import RECIPE_DIR
from compression.sfv_stage import SFVCompressor, SFVRecipe, generate, sample_sigmas, train_sfv
from vdmbench.errors import ConfigError, UnsupportedError
from vdmbench.models.svd_denoiser import SVDDenoiser, random_svd_unet

ROOT = Path(__file__).resolve().parents[2]
ACCELERATE = Path(sys.executable).with_name("accelerate")
TEST_RECIPE = RECIPE_DIR / "svd-to-sfv-test.yaml"


def _video_helpers():  # noqa: ANN202 (the training-data tests' helpers: folder writer, T2V spec)
    sys.path.insert(0, str(ROOT / "tests" / "training_data"))
    import training_data_utils

    return training_data_utils


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _video_helpers().make_folder(tmp_path_factory.mktemp("videos"))


@pytest.fixture(scope="module")
def svd_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from vdmbench.models.svd_random import random_svd_pipeline

    path = tmp_path_factory.mktemp("weights") / "svd-tiny"
    random_svd_pipeline("tiny", num_frames=4, seed=0).save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


def _args(svd_dir: Path, folder: Path, cache: Path, out: Path, steps: int) -> list[str]:
    return ["--model", "svd", "--method", "sfv", "--weights", str(svd_dir), "--recipe",
            str(TEST_RECIPE), "--dataset-option", f"root={folder}", "--data-cache", str(cache),
            "--max-steps", str(steps), "--out", str(out)]


def _compress(args: list[str]) -> None:
    res = CliRunner().invoke(compress_cmd, args)
    assert res.exit_code == 0, res.output + repr(res.exception)


def _log(out: Path) -> list[dict[str, str]]:
    with (out / "train" / "loss_log.csv").open() as f:
        return list(csv.DictReader(f))


def _unet(out: Path) -> dict[str, torch.Tensor]:
    (path,) = (out / "unet").glob("*.safetensors")
    return load_file(path)


def test_student_loads_in_the_sfv_adapter_samples_in_one_step_and_compresses_further(
        svd_dir: Path, folder: Path, cache: Path, tmp_path: Path) -> None:
    from vdmbench.models.svd import SFVAdapter, SVDAdapter

    out = tmp_path / "sfv-student"
    _compress(_args(svd_dir, folder, cache, out, 3))
    meta = json.loads((out / "compression.json").read_text())
    assert (meta["method"], meta["base_model"], meta["train_steps"]) == ("sfv", "svd", 3)
    assert (out / meta["base_weights"]).resolve() == svd_dir.resolve()  # relative to out
    assert meta["teacher"]["model"] == "svd" and meta["sampler"]["adapter"] == "sfv"
    assert (meta["data"]["dataset"], meta["data"]["clips"], meta["data"]["clips_seen"]) == \
        ("videofolder", 9, 6)  # 3 steps × batch 2 of the folder's 9 good clips
    assert (out / "train" / "loss.png").is_file() and len(_log(out)) == 3

    m = SFVAdapter.load("my-sfv", str(out), {}, "cpu")
    saved = _unet(out)
    assert all(torch.equal(v, saved[k]) for k, v in m.pipe.unet.state_dict().items())
    assert m.sources["vae"].folder == (svd_dir / "vae").resolve()
    calls: list[int] = []
    h = m.pipe.unet.register_forward_pre_hook(lambda *_: calls.append(1))
    sys.path.insert(0, str(ROOT / "tests" / "svd"))
    from svd_test_utils import make_request

    video = m.generate([make_request(seed=3)])[0]
    h.remove()
    assert calls == [1] and video.frames.shape == (4, 16, 16, 3)
    # the one-step student is not a multi-step model
    with pytest.raises(ConfigError, match="model 'my-sfv', method 'sfv'.*steps must be 1"):
        SFVAdapter.load("my-sfv", str(out), {}, "cpu", steps=4)
    with pytest.raises(ConfigError, match="one-step model.*adapter 'sfv'"):
        SVDAdapter.load("svd", str(out), {}, "cpu", steps=4)
    from vdmbench.cli import main

    for steps, code in ((4, 2), (1, 0)):  # a suite asking for more steps: exit 2 at validate
        suite = tmp_path / f"suite{steps}.yaml"
        suite.write_text(yaml.safe_dump({
            "schema_version": 2, "name": "sfv-steps", "task": "i2v",
            "dataset": {"name": "test-patterns", "num_videos": 2, "frames": 4, "height": 16,
                        "width": 16, "fps": 8},
            "models": [{"name": "my-sfv", "adapter": "sfv", "weights": str(out),
                        "steps": steps}],
            "metrics": [{"name": "temporal_flickering"}]}))
        res = CliRunner().invoke(main, ["validate", str(suite)])
        assert res.exit_code == code, res.output
        assert code == 0 or "model 'my-sfv', method 'sfv'" in res.output, res.output

    # SVD → SF-V → VDMini-I2V: the one-step student is the teacher of `compress --model sfv`
    vdmini = tmp_path / "vdmini.yaml"
    vdmini.write_text(yaml.safe_dump({
        "model": "sfv", "plan": {"preset": "vdmini"}, "loss": {"lambda_mca": 0.0},
        "train": {"max_steps": 1, "batch_size": 1, "ema_decay": None, "checkpoint_every": 5},
        "data": {"name": "videofolder", "options": {"root": str(folder)}, "frames": 4,
                 "height": 16, "width": 16, "fps": 8, "max_bad_fraction": 0.3}}))
    _compress(["--model", "sfv", "--weights", str(out), "--recipe", str(vdmini),
               "--data-cache", str(cache), "--out", str(tmp_path / "vdmini")])
    small = SFVAdapter.load("vdmini-i2v", str(tmp_path / "vdmini"), {}, "cpu")
    assert small.generate([make_request(seed=3)])[0].frames.shape == (4, 16, 16, 3)
    assert sum(p.numel() for p in small.pipe.unet.parameters()) < \
        sum(p.numel() for p in m.pipe.unet.parameters())


def test_a_synthetic_svd_convention_teacher_becomes_a_one_step_student(tmp_path: Path) -> None:
    """``synth-i2v`` (SVD architecture in pixel space, its own SynthMotion clips): the student
    loads in that adapter with ``steps: 1`` and samples with one UNet call."""
    from vdmbench.data.synthmotion import render_batch
    from vdmbench.generation import GenerationRequest
    from vdmbench.models.synth_i2v import SynthI2VAdapter

    recipe = tmp_path / "synth.yaml"
    recipe.write_text(yaml.safe_dump({
        "model": "synth-i2v", "loss": {"sigma_mean": 3.0, "disc_hidden": 8},
        "train": {"max_steps": 2, "batch_size": 1, "ema_decay": None, "checkpoint_every": 2}}))
    out = tmp_path / "synth-sfv"
    _compress(["--model", "synth-i2v", "--method", "sfv", "--recipe", str(recipe),
               "--out", str(out)])
    meta = json.loads((out / "compression.json").read_text())
    assert (meta["base_model"], meta["base_weights"], meta["sampler"]["adapter"]) == \
        ("synth-i2v", None, "synth-i2v")
    assert meta["data"]["dataset"] == "synthmotion" and meta["sampler"]["steps"] == 1
    m = SynthI2VAdapter.load("synth-sfv", str(out), {}, "cpu", steps=1)
    saved = _unet(out)
    unet = m.denoiser().unet
    assert all(torch.equal(v, saved[k]) for k, v in unet.state_dict().items())
    videos, metas = render_batch([0], "test", 8, 16, 16, 0)
    r = GenerationRequest(id="r", seed=1, frames=8, height=16, width=16, fps=8.0,
                          image=videos[0, 0].clone(), extra={"motion_class": metas[0].motion})
    calls: list[int] = []
    h = unet.register_forward_pre_hook(lambda *_: calls.append(1))
    video = m.generate([r])[0]
    h.remove()
    assert calls == [1] and video.frames.shape == (8, 16, 16, 3)


def test_resume_equals_one_go_bit_for_bit(svd_dir: Path, folder: Path, cache: Path,
                                          tmp_path: Path) -> None:
    _compress(_args(svd_dir, folder, cache, tmp_path / "one", 4))
    _compress(_args(svd_dir, folder, cache, tmp_path / "two", 2))
    _compress(_args(svd_dir, folder, cache, tmp_path / "two", 4))  # resumes at step 2
    a, b = _unet(tmp_path / "one"), _unet(tmp_path / "two")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    la, lb = _log(tmp_path / "one"), _log(tmp_path / "two")
    assert [r["step"] for r in lb] == ["1", "2", "3", "4"]
    drop = ("seconds",)
    assert [{k: v for k, v in r.items() if k not in drop} for r in la] == \
        [{k: v for k, v in r.items() if k not in drop} for r in lb]
    segs = json.loads((tmp_path / "two" / "compression.json").read_text())["train_segments"]
    assert [(s["from_step"], s["to_step"]) for s in segs] == [(0, 2), (2, 4)]
    # the generator moved: the check above compares trained weights
    teacher = load_file(next((svd_dir / "unet").glob("*.safetensors")))
    assert any(not torch.equal(a[k], teacher[k]) for k in a)


@pytest.mark.skipif(not ACCELERATE.exists(), reason="accelerate not installed")
def test_two_processes_equal_one_with_the_same_global_batch(svd_dir: Path, folder: Path,
                                                            cache: Path, tmp_path: Path) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE",
           "PYTHONPATH": str(ROOT)}

    def run(nproc: int, out: Path, accum: int) -> None:
        args = ["compress", *_args(svd_dir, folder, cache, out, 3), "--grad-accum", str(accum)]
        cmd = [sys.executable, "-m", "vdmbench", *args] if nproc == 1 else [
            str(ACCELERATE), "launch", "--multi_gpu", "--num_processes", str(nproc),
            "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
            "-m", "vdmbench", *args]
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=600)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    run(1, tmp_path / "one", 2)
    run(2, tmp_path / "two", 1)
    la, lb = _log(tmp_path / "one"), _log(tmp_path / "two")
    for ra, rb in zip(la, lb, strict=True):
        for k in ("loss", "recon", "adv_g", "adv_d", "adv_gap"):
            assert float(ra[k]) == pytest.approx(float(rb[k]), rel=1e-5, abs=1e-9), (k, ra)
    a, b = _unet(tmp_path / "one"), _unet(tmp_path / "two")
    assert max(float((a[k] - b[k]).abs().max()) for k in a) <= 1e-6
    info = json.loads((tmp_path / "two" / "compression.json").read_text())
    assert (info["num_processes"], info["global_batch"]) == (2, 4)


def _fixed_batch_run(tmp: Path, monkeypatch: pytest.MonkeyPatch, cut: bool, steps: int = 40
                     ) -> tuple[float, float, list[dict[str, float]], dict, dict, dict]:
    """``steps`` steps on one fixed batch (every step the same clips, σ_t = σ_max = 700, noise and
    σ'); returns the one-step MSE to the data before and after, the logged rows, the teacher's
    state before and after, and the heads at birth and at the end."""
    monkeypatch.setattr(distill, "_step_seed", lambda *a: 5)
    if cut:  # a generator whose gradients are cut: its output no longer depends on its weights
        def cut_generate(*a, **k):  # noqa: ANN002, ANN003, ANN202
            x = generate(*a, **k)
            return x.detach() + 0.0 * x
        monkeypatch.setattr(sfv_stage, "generate", cut_generate)
    fam = SVDDenoiser(random_svd_unet(0), frames=4, size=8)
    rec = SFVRecipe(model="random-svd", data={"frames": 4},
                    loss={"sigma_mean": 20.0, "disc_hidden": 8},
                    train={"max_steps": steps, "batch_size": 2, "lr": 1e-3, "disc_lr": 2e-3,
                           "ema_decay": None, "seed": 1, "checkpoint_every": steps,
                           "grad_clip": None})
    batch = fam.batch(2, 5)
    g = torch.Generator().manual_seed(5)
    sigma = sample_sigmas(2, g, 20.0, 1.5, fam.sigma_max)
    assert torch.equal(sigma, torch.full((2,), 700.0))
    x_t = batch["x0"] + 700.0 * torch.randn(batch["x0"].shape, generator=g)

    def one_step_mse(unet: torch.nn.Module) -> float:
        with torch.no_grad():
            return float(((generate(fam, unet, x_t, sigma, batch) - batch["x0"]) ** 2).mean())

    teacher_before = {k: v.clone() for k, v in fam.unet.state_dict().items()}
    before = one_step_mse(fam.unet)
    gen = random_svd_unet(0)
    rows: list[dict[str, float]] = []
    train_sfv(fam, gen, rec, tmp / "t", progress=False, resume=False,
              on_step=lambda s, p: rows.append(dict(p)))
    torch.manual_seed(1)
    heads0 = MCADiscriminator(list(fam.unet.config.block_out_channels), 8).state_dict()
    heads1 = load_file(str(tmp / "t" / "ckpt" / f"step-{steps:06d}" / "heads.safetensors"))
    return before, one_step_mse(gen), rows, teacher_before, fam.unet.state_dict(), \
        {"start": heads0, "end": heads1}


def test_the_method_learns_and_the_backbone_stays_frozen(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    before, after, rows, t0, t1, heads = _fixed_batch_run(tmp_path, monkeypatch, cut=False)
    assert after < 0.8 * before, (before, after)
    assert rows[-1]["recon"] < 0.9 * rows[0]["recon"]
    gaps = [r["adv_gap"] for r in rows]
    assert abs(gaps[-1] - gaps[0]) > 0.05 and len(set(r["adv_d"] for r in rows)) > 1, gaps
    assert t0.keys() == t1.keys() and all(torch.equal(t0[k], t1[k]) for k in t0)
    changed = [k for k, v in heads["start"].items() if not torch.equal(v, heads["end"][k])]
    assert len(changed) > len(heads["start"]) // 2, changed


def test_a_generator_with_cut_gradients_fails_the_learning_check(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before, after, rows, *_ = _fixed_batch_run(tmp_path, monkeypatch, cut=True, steps=8)
    # the weights never move, so `after < 0.8·before` above fails after any number of steps
    assert after == pytest.approx(before, rel=1e-6)
    assert rows[-1]["recon"] == pytest.approx(rows[0]["recon"], rel=1e-6)


def test_bad_input_exits_2_naming_model_method_and_reason(svd_dir: Path, folder: Path,
                                                          cache: Path, tmp_path: Path) -> None:
    # a teacher without the SVD convention (a VideoCrafter2 UNet)
    t2v = tmp_path / "t2v.yaml"
    t2v.write_text(yaml.safe_dump({"model": "synth-t2v", "train": {"max_steps": 1}}))
    res = CliRunner().invoke(compress_cmd, ["--model", "synth-t2v", "--method", "sfv",
                                            "--recipe", str(t2v), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2, res.output
    assert "model 'synth-t2v', method 'sfv'" in res.output and "SVD-convention" in res.output
    assert not (tmp_path / "o").exists()
    # a dataset without the conditioning the teacher needs
    args = _args(svd_dir, folder, cache, tmp_path / "n", 1)
    i = args.index("--dataset-option")  # the noise dataset has no root (an unknown key is
    no_root = args[:i] + args[i + 2:]   # its own error)
    res = CliRunner().invoke(compress_cmd, [*no_root, "--dataset", "noise"])
    assert res.exit_code == 2, res.output
    assert "model 'svd', method 'sfv'" in res.output and "no conditioning" in res.output

    class NoContext(SVDDenoiser):
        def batch(self, n: int, seed: int, split: str = "train") -> dict[str, torch.Tensor]:
            out = super().batch(n, seed, split)
            del out["context"]
            return out

    rec = SFVRecipe(model="random-svd", data={"frames": 4}, train={"max_steps": 1})
    bad = NoContext(random_svd_unet(0), frames=4, size=8, name="random-svd")
    bad.noise_by_default = True
    with pytest.raises(ConfigError, match="model 'random-svd', method 'sfv'.*no context"):
        SFVCompressor().fit(bad, rec, tmp_path / "c", progress=False)
    assert not (tmp_path / "c").exists()
    # no shipped recipe; --plan belongs to vdmini
    with pytest.raises(ConfigError, match="method 'sfv': no shipped recipe"):
        SFVCompressor().default_recipe("synth-i2v")
    res = CliRunner().invoke(compress_cmd, [*args, "--plan", "vdmini"])
    assert res.exit_code == 2 and "method 'sfv'" in res.output and "--plan" in res.output
    with pytest.raises(UnsupportedError):
        sfv_stage.check_teacher(_video_helpers().t2v_denoiser())


REAL_SIZE_CHILD = r"""
import json, os, resource, sys, threading, time
import torch
torch.set_num_threads(1)
t0 = time.perf_counter()
log = os.environ.get("VDMBENCH_TEST_RSS_LOG")
def sample():
    while log:
        rss = open("/proc/self/status").read().split("VmRSS:")[1].split()[0]
        with open(log, "a") as f:
            f.write(f"{time.perf_counter() - t0:.0f} {int(rss) / 2**20:.2f}\n")
        time.sleep(5)
threading.Thread(target=sample, daemon=True).start()
from diffusers import UNetSpatioTemporalConditionModel
from compression.recipe import RECIPE_DIR, load_recipe
from compression.sfv_stage import SFVCompressor, SFVRecipe
from vdmbench.models.svd_denoiser import SVDDenoiser
torch.manual_seed(0)
unet = UNetSpatioTemporalConditionModel(sample_size=96, num_frames=25).eval()
spec = SVDDenoiser(unet, frames=14, size=16, name="svd-xt-random")
spec.noise_by_default = True
lean = load_recipe(RECIPE_DIR / "svd-to-sfv-24gb.yaml", SFVRecipe).model_dump()
lean.update(model="svd-xt-random", data={"frames": 14})
lean["train"].update(max_steps=1, grad_accum=1, num_threads=1, checkpoint_every=1)
out = SFVCompressor().fit(spec, SFVRecipe.model_validate(lean), sys.argv[1], progress=False,
                          release_teacher=True)
meta = json.loads((out / "compression.json").read_text())
print(json.dumps({"unet_params": meta["unet_params"], "seconds": time.perf_counter() - t0,
                  "step_seconds": meta["final_losses"]["seconds"],
                  "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}))
"""


@pytest.mark.slow
def test_real_size_lean_step(tmp_path: Path) -> None:
    """One SF-V step at SVD-xt's UNet configuration (random weights; 14 frames of 16×16
    latents, as the VDMini trainer's real-size test) with ``svd-to-sfv-24gb.yaml`` on the CPU,
    in a child process: the student has the teacher's 1,524,623,082 parameters and the peak
    resident set stays ≤ 20 GB (docs/compression.md, "SF-V")."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-c", REAL_SIZE_CHILD, str(tmp_path / "s")],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=3 * 3600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    print(res)
    assert res["unet_params"] == 1_524_623_082
    assert res["peak_rss_gib"] * 2**30 / 1e9 <= 20.0
