"""The real-size path on a CPU, as a user with the published checkpoints meets it (slow).

Random weights in the real configurations (UNet 1,524,623,082 parameters, VAE 97,742,847, CLIP
image encoder 632,076,800), saved in the published diffusers layout with both float32 files
and ``*.fp16.safetensors`` variants; its ``unet/`` folder doubles as a bare SF-V UNet folder.

- ``test_lean_distillation_step``: ``vdmbench compress --model sfv --max-steps 1`` with the
  ``sfv-24gb.yaml`` preset in a child process; the student's parameter count and the child's
  peak RSS (≤ 20 GB).
- ``test_vae_decoder_pruning``: the preset's pruning of the real VAE decoder.
- ``test_ucf101_i2v_suite_at_64px``: ``vdmbench run`` on a suite derived from
  ``suites/ucf101_i2v.yaml`` (SF-V, SVD-xt, VDMini-I2V; 4 videos at 64×64) in a child process,
  then a fresh rerun that must find every video in the cache.

Run with ``python -m pytest -q -m slow tests/svd/test_real_size.py -s`` (about 16 GB of disk
under the pytest temp folder; ``VDMBENCH_TEST_REAL_SVD_DIR`` reuses a folder written before,
``VDMBENCH_TEST_RSS_LOG`` appends the child's resident set every 5 s to a file). Timings and
peak memory: docs/compression.md ("Fitting a 24 GB GPU") and docs/svd_ucf101.md ("Real size on
a CPU").
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SUITE = ROOT / "suites" / "ucf101_i2v.yaml"
PRESET = ROOT / "compression" / "recipes" / "sfv-24gb.yaml"
UNET_PARAMS = 1_524_623_082
VAE_PARAMS = 97_742_847
CLIP_PARAMS = 632_076_800
STUDENT_UNET_PARAMS = 1_133_279_389  # the vdmini plan
STUDENT_DECODER_PARAMS_M = 27.66  # the preset's decoder pruning (teacher 63.58M)
PEAK_RSS_LIMIT_GB = 20.0  # 10^9 bytes (the child reports GiB)
# the suite run holds one model at a time (no timing phase): all three at once would be
# 12.7 GB of bfloat16 weights alone
SUITE_PEAK_RSS_LIMIT_GB = 11.0


def _child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT),
                                                         os.environ.get("PYTHONPATH", "")]),
            "OMP_NUM_THREADS": "1", **(extra or {})}


def run_child(code: str, timeout: float = 3 * 3600) -> dict:
    """Run ``code`` in a fresh one-thread Python; it must print one JSON line last. Adds the
    child's peak RSS (GB) and wall time."""
    prologue = textwrap.dedent("""
        import json, os, resource, threading, time, torch
        torch.set_num_threads(1)
        _t0 = time.perf_counter()
        def _sample(path=os.environ.get("VDMBENCH_TEST_RSS_LOG")):
            while path:  # a timeline of the resident set, for finding where the peak is
                rss = open("/proc/self/status").read().split("VmRSS:")[1].split()[0]
                with open(path, "a") as f:
                    f.write(f"{time.perf_counter() - _t0:.0f} {int(rss) / 2**20:.2f}\\n")
                time.sleep(5)
        threading.Thread(target=_sample, daemon=True).start()
        def _report(**kw):  # peak resident set in GiB (ru_maxrss is in KiB)
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
            print(json.dumps({**kw, "peak_rss_gb": peak,
                              "seconds": time.perf_counter() - _t0}))
    """)
    proc = subprocess.run([sys.executable, "-c", prologue + textwrap.dedent(code)], cwd=ROOT,
                          env=_child_env(), capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_cli(args: list[str], env: dict[str, str] | None = None,
            timeout: float = 3 * 3600) -> dict[str, Any]:
    """``python -m vdmbench ARGS`` in a child process (one thread; ``env`` added to the
    environment). Returns ``rc``, ``output`` (stdout and stderr), ``peak_rss_gib`` (that child's
    own ``ru_maxrss``, from ``os.wait4``; GiB) and ``seconds`` (wall time). With
    ``VDMBENCH_TEST_RSS_LOG`` set, the child's resident set (GiB) is appended to that file every
    5 s."""
    log = os.environ.get("VDMBENCH_TEST_RSS_LOG")
    t0 = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen([sys.executable, "-m", "vdmbench", *args], cwd=ROOT,
                                env=_child_env(env), stdout=out, stderr=subprocess.STDOUT)
        done = threading.Event()
        timer = threading.Timer(timeout, proc.kill)
        timer.start()

        def sample() -> None:
            while log and not done.wait(5):
                try:
                    status = Path(f"/proc/{proc.pid}/status").read_text()
                except OSError:
                    return
                if "VmRSS:" not in status:  # exited, not yet reaped
                    return
                rss = int(status.split("VmRSS:")[1].split()[0]) / 2**20
                with open(log, "a") as f:
                    f.write(f"{time.perf_counter() - t0:.0f} {rss:.2f} {args[0]}\n")

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            done.set()
            timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read().decode(errors="replace")
    return {"rc": proc.returncode, "output": text, "peak_rss_gib": usage.ru_maxrss / 2**20,
            "seconds": time.perf_counter() - t0}


@pytest.fixture(scope="module")
def real_svd_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """SVD-xt's architecture with random weights: float32 files and fp16 variants (or the
    folder ``$VDMBENCH_TEST_REAL_SVD_DIR`` names: one this fixture wrote before)."""
    if os.environ.get("VDMBENCH_TEST_REAL_SVD_DIR"):
        return Path(os.environ["VDMBENCH_TEST_REAL_SVD_DIR"])
    path = tmp_path_factory.mktemp("real") / "svd-xt"
    info = run_child(f"""
        from vdmbench.models.svd import random_svd_pipeline
        pipe = random_svd_pipeline("real", num_frames=14, seed=0)
        n = {{k: sum(p.numel() for p in getattr(pipe, k).parameters())
             for k in ("unet", "vae", "image_encoder")}}
        pipe.save_pretrained({str(path)!r})
        pipe.to(torch.float16)
        pipe.save_pretrained({str(path)!r}, variant="fp16")
        _report(params=n)
    """)
    print("real-size folder:", info)
    assert info["params"] == {"unet": UNET_PARAMS, "vae": VAE_PARAMS,
                              "image_encoder": CLIP_PARAMS}
    return path


def _safetensors_params(path: Path) -> int:
    from safetensors import safe_open

    n = 0
    with safe_open(str(path), "pt") as f:
        for k in f.keys():
            shape = f.get_slice(k).get_shape()
            size = 1
            for d in shape:
                size *= int(d)
            n += size
    return n


def test_lean_distillation_step(real_svd_dir: Path, tmp_path: Path) -> None:
    """``vdmbench compress --model sfv --recipe … --max-steps 1`` with the 24 GB preset, as a
    user runs it, in a copy of the preset with three changes: ``data: noise`` (Gaussian
    latents: memory, not data, is under test), ``grad_accum: 1`` (accumulation
    repeats the micro-step: four times the time, not more memory) and ``vae.enabled: false``
    (the decoder's fine-tuning at 14 frames does not fit beside the two UNets in this machine's
    memory, docs/compression.md; :func:`test_vae_decoder_pruning` checks the pruning)."""
    recipe = yaml.safe_load(PRESET.read_text())
    recipe["train"]["grad_accum"] = 1
    recipe["vae"]["enabled"] = False
    recipe["data"] = {"name": "noise", "frames": 14}  # memory, not data, is under test here
    recipe_file = tmp_path / "sfv-24gb-one-step.yaml"
    recipe_file.write_text(yaml.safe_dump(recipe, sort_keys=False))
    out = tmp_path / "student"
    info = run_cli(["compress", "--model", "sfv", "--weights", str(real_svd_dir),
                    "--recipe", str(recipe_file), "--max-steps", "1", "--out", str(out)])
    print("lean distillation step:", {k: v for k, v in info.items() if k != "output"})
    assert info["rc"] == 0, info["output"][-4000:]
    assert f"student written to {out}" in info["output"]
    meta = json.loads((out / "compression.json").read_text())
    state = json.loads((out / "train" / "train_state.json").read_text())
    assert state["finished"] and state["optimizer"] == "adafactor"
    assert meta["teacher_unet_params"] == UNET_PARAMS
    assert meta["unet_params"] == STUDENT_UNET_PARAMS and meta["train_steps"] == 1
    student = out / "unet" / "diffusion_pytorch_model.safetensors"
    assert _safetensors_params(student) == STUDENT_UNET_PARAMS
    assert info["peak_rss_gib"] * 2**30 / 1e9 <= PEAK_RSS_LIMIT_GB, info["peak_rss_gib"]


def test_vae_decoder_pruning(real_svd_dir: Path) -> None:
    """The preset's decoder pruning on the real VAE: 63.58M → 27.66M decoder parameters."""
    info = run_child(f"""
        from vdmbench.models.svd import load_component
        from compression.recipe import RECIPE_DIR, load_recipe
        from compression.vae_cuts import prune_decoder
        from vdmbench.models.pruned_vae import decoder_params
        spec = load_recipe(RECIPE_DIR / "sfv-24gb.yaml").vae
        vae = load_component("sfv", {str(real_svd_dir)!r}, "vae")
        n_up = len(vae.decoder.up_blocks)
        z = torch.randn(2, 4, 16, 16)
        student = prune_decoder(vae, drop_mid_block=spec.drop_mid_block,
                                up_block_layers={{n_up - 1: spec.last_up_block_layers}},
                                channel_ratio=spec.channel_ratio, example_latents=z,
                                num_frames=2)
        _report(teacher=decoder_params(vae), student=decoder_params(student))
    """)
    print("decoder pruning:", info)
    assert round(info["teacher"] / 1e6, 2) == 63.58
    assert round(info["student"] / 1e6, 2) == 27.66


@pytest.fixture(scope="module")
def real_student_dir(real_svd_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A VDMini-I2V folder in the layout ``vdmbench compress`` writes with ``sfv-24gb.yaml``,
    untrained: the ``vdmini`` plan applied to the real UNet (bfloat16, from the fp16 files; no
    fp16 variant, so a suite's ``variant: fp16`` falls back to the plain file) and the preset's
    pruned decoder (float32); ``compression.json`` names the bare SF-V UNet folder
    (``real_svd_dir/unet``) as ``base_weights``, so the VAE encoder, CLIP and the scheduler come
    from the suite's ``base``."""
    out = tmp_path_factory.mktemp("real") / "vdmini-i2v"
    sfv = real_svd_dir / "unet"
    info = run_child(f"""
        from diffusers import AutoencoderKLTemporalDecoder, UNetSpatioTemporalConditionModel
        from compression.plan import make_plan
        from compression.recipe import RECIPE_DIR, load_recipe
        from compression.student import apply, save_student
        from compression.vae_cuts import prune_decoder
        from vdmbench.models.pruned_vae import decoder_params
        from vdmbench.models.svd_components import (ComponentOptions, resolve_components,
                                                    weights_hash)
        svd, sfv = {str(real_svd_dir)!r}, {str(sfv)!r}
        teacher = UNetSpatioTemporalConditionModel.from_pretrained(
            sfv, variant="fp16", torch_dtype=torch.bfloat16)
        plan = make_plan("vdmini", teacher.config, base="sfv")
        student = apply(teacher, plan)
        del teacher
        spec = load_recipe(RECIPE_DIR / "sfv-24gb.yaml").vae
        vae = AutoencoderKLTemporalDecoder.from_pretrained(svd + "/vae")
        n_up = len(vae.decoder.up_blocks)
        pruned = prune_decoder(vae, drop_mid_block=spec.drop_mid_block,
                               up_block_layers={{n_up - 1: spec.last_up_block_layers}},
                               channel_ratio=spec.channel_ratio,
                               example_latents=torch.randn(2, 4, 16, 16), num_frames=2)
        sha = weights_hash(resolve_components("sfv", sfv, ComponentOptions(base=svd,
                                                                           variant="fp16")))
        cls = type(pruned)
        save_student({str(out)!r}, student, plan, base_model="sfv", base_weights_sha256=sha,
                     base_weights=sfv, recipe_sha256=None, vae=pruned,
                     extra={{"classes": {{"vae": f"{{cls.__module__}}:{{cls.__qualname__}}"}}}})
        _report(unet=sum(p.numel() for p in student.parameters()),
                decoder=decoder_params(pruned))
    """)
    print("real-size student folder:", info)
    assert info["unet"] == STUDENT_UNET_PARAMS
    assert round(info["decoder"] / 1e6, 2) == STUDENT_DECODER_PARAMS_M
    return out


SUITE_MODELS_64PX = ("sf-v", "svd-xt", "vdmini-i2v")


def _suite_64px(path: Path) -> Path:
    """``suites/ucf101_i2v.yaml`` cut to what a CPU does in minutes: 4 videos at 64×64 (16
    frames, the clip preset's); the models SF-V, SVD-xt (25 steps, CFG) and VDMini-I2V; bfloat16
    instead of float16 (float16 convolutions on this CPU take about 30× as long: 140 s against
    4.4 s per SVD-xt UNet call at this size); FVD over 4 real clips and IS over 2 splits (4
    videos); no timing phase. Left out: the Triton student (its transform keeps the model
    loaded until the run ends) and the SVD-xt baselines (four more 25- and 12-step runs of the
    same UNet). Weights, data and detectors come from the suite's environment variables."""
    suite = yaml.safe_load(SUITE.read_text())
    suite["dataset"].update(num_videos=4, height=64, width=64)
    suite["models"] = [{**m, "dtype": "bfloat16", "options": {**m["options"], "height": 64,
                                                               "width": 64}}
                       for m in suite["models"] if m["name"] in SUITE_MODELS_64PX]
    for m in suite["metrics"]:
        if m["name"] == "fvd_styleganv_2048_16f":
            m["options"]["num_real"] = 4
        elif m["name"] == "is_styleganv_ucf101":
            m["options"]["splits"] = 2
    suite["speed"] = {"enabled": False}
    path.write_text(yaml.safe_dump(suite, sort_keys=False))
    return path


def _records(out: Path) -> dict[str, dict[str, Any]]:
    """{model: record} of the newest run folder of the suite under ``out``."""
    run_dir = max((out / "ucf101_i2v").iterdir(), key=lambda p: p.stat().st_mtime)
    return {r["model"]["name"]: r for r in (json.loads(f.read_text()) for f in
                                              sorted((run_dir / "records").glob("*.json")))}


def _tree_sha256(folder: Path) -> dict[str, str]:
    return {str(f.relative_to(folder)): hashlib.sha256(f.read_bytes()).hexdigest()
            for f in sorted(folder.rglob("*")) if f.is_file()}


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated")
def test_ucf101_i2v_suite_at_64px(real_svd_dir: Path, real_student_dir: Path, tmp_path: Path,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """``vdmbench run`` on the UCF101 I2V suite (see :func:`_suite_64px` for what differs from
    the shipped file) with real-size models: a synthesized UCF101 tree, TorchScript detectors
    with the real files' call signatures; every metric of every model present, finite and over
    4 videos; the parameter counts and where each component came from; then a rerun with
    ``--no-resume`` that loads every model again, generates nothing and gives the same cache
    keys, videos and metric values. Peak RSS is that of each ``vdmbench`` child process."""
    monkeypatch.syspath_prepend(ROOT / "tests" / "ucf101")
    monkeypatch.syspath_prepend(ROOT / "tests" / "metrics")
    from metric_test_utils import FakeC3D, FakeI3D, script_to
    from ucf101_test_utils import make_ucf101

    make_ucf101(tmp_path / "ucf")
    env = {"UCF101_ROOT": str(tmp_path / "ucf"), "SVD_XT_DIR": str(real_svd_dir),
           "SFV_DIR": str(real_svd_dir / "unet"), "VDMINI_I2V_DIR": str(real_student_dir),
           "VDMBENCH_I3D_TORCHSCRIPT": str(script_to(FakeI3D(), tmp_path / "i3d.pt")),
           "VDMBENCH_C3D_TORCHSCRIPT": str(script_to(FakeC3D(), tmp_path / "c3d.pt"))}
    suite = _suite_64px(tmp_path / "ucf101_i2v_64px.yaml")
    out = tmp_path / "out"
    first = run_cli(["run", str(suite), "--out", str(out), "--quiet"], env=env)
    print("suite run:", {k: v for k, v in first.items() if k != "output"})
    assert first["rc"] == 0, first["output"][-4000:]
    assert first["peak_rss_gib"] * 2**30 / 1e9 <= SUITE_PEAK_RSS_LIMIT_GB, first["peak_rss_gib"]
    recs = _records(out)
    assert sorted(recs) == sorted(SUITE_MODELS_64PX)
    metric_names = {m["name"] for m in yaml.safe_load(suite.read_text())["metrics"]}
    for name, rec in recs.items():
        assert rec["dataset"]["n_requests"] == 4 and rec["generation"]["generated_now"] == 4
        assert set(rec["metrics"]) == metric_names, name
        for metric, value in rec["metrics"].items():
            assert value["n"] == 4 and math.isfinite(value["value"]), (name, metric, value)
        assert rec["model"]["card"]["dtype"] == "bfloat16"
        assert (rec["model"]["card"]["height"], rec["model"]["card"]["width"]) == (64, 64)
    params = {n: r["model"]["card"]["params"] for n, r in recs.items()}
    sources = {n: r["model"]["card"]["sampler"]["sources"] for n, r in recs.items()}
    assert params["svd-xt"]["unet"] == params["sf-v"]["unet"] == UNET_PARAMS
    assert params["vdmini-i2v"]["unet"] == STUDENT_UNET_PARAMS
    assert round(params["sf-v"]["vae_decoder"] / 1e6, 2) == 63.58
    assert round(params["vdmini-i2v"]["vae_decoder"] / 1e6, 2) == STUDENT_DECODER_PARAMS_M
    assert params["vdmini-i2v"]["image_encoder"] == CLIP_PARAMS
    assert sources["sf-v"]["unet"] == "weights" and sources["sf-v"]["vae"] == "base"
    assert sources["vdmini-i2v"]["unet"] == sources["vdmini-i2v"]["vae"] == "weights"
    assert sources["vdmini-i2v"]["image_encoder"] == "base"
    # SF-V is the teacher: its videos against themselves are identical
    assert recs["sf-v"]["metrics"]["psnr"]["details"]["n_capped"] == 4
    assert recs["svd-xt"]["metrics"]["psnr"]["details"]["n_capped"] == 0
    videos = _tree_sha256(out / ".cache" / "videos")
    assert sum(k.endswith(".npy") for k in videos) == 3 * 4  # and a .json beside each

    second = run_cli(["run", str(suite), "--out", str(out), "--quiet", "--no-resume"], env=env)
    print("suite rerun:", {k: v for k, v in second.items() if k != "output"})
    assert second["rc"] == 0, second["output"][-4000:]
    assert second["peak_rss_gib"] * 2**30 / 1e9 <= SUITE_PEAK_RSS_LIMIT_GB, second["peak_rss_gib"]
    again = _records(out)
    assert {r["run_id"] for r in again.values()} != {r["run_id"] for r in recs.values()}
    for name, rec in again.items():
        assert rec["generation"] == {"generated_now": 0, "from_cache": 4}, name
        assert rec["model"]["cache_key"] == recs[name]["model"]["cache_key"], name
        assert {k: v["value"] for k, v in rec["metrics"].items()} == {
            k: v["value"] for k, v in recs[name]["metrics"].items()}, name
    assert _tree_sha256(out / ".cache" / "videos") == videos
