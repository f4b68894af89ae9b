"""The real-size path on a CPU, as a user with the published checkpoints meets it (slow).

Random weights in the real configurations (UNet 1,524,623,082 parameters, VAE 97,742,847, CLIP
image encoder 632,076,800), saved in the published diffusers layout with both float32 files
and ``*.fp16.safetensors`` variants. ``test_lean_distillation_step`` runs one distillation step
of ``compression/recipes/sfv-24gb.yaml`` through ``compression.compress.compress`` in a child
process and checks the student's parameter count and the child's peak RSS (≤ 20 GB);
``test_vae_decoder_pruning`` prunes the real VAE's decoder as the preset says.

Run with ``python -m pytest -q -m slow tests/svd/test_real_size.py -s`` (about 13 GB of disk
under the pytest temp folder; ``VDMBENCH_TEST_REAL_SVD_DIR`` reuses a folder written before,
``VDMBENCH_TEST_RSS_LOG`` appends the child's resident set every 5 s to a file). Timings and
peak memory: docs/compression.md ("Fitting a 24 GB GPU").
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
UNET_PARAMS = 1_524_623_082
VAE_PARAMS = 97_742_847
CLIP_PARAMS = 632_076_800
STUDENT_UNET_PARAMS = 1_133_279_389  # the vdmini plan
PEAK_RSS_LIMIT_GB = 20.0  # 10^9 bytes (the child reports GiB)


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
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT),
                                                         os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-c", prologue + textwrap.dedent(code)], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


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
    """One step of the 24 GB preset through ``compression.compress.compress`` (grad_accum 1:
    accumulation does not change the peak). The VAE decoder stage is left out here (see
    :func:`test_vae_decoder_pruning`): its fine-tuning at 14 frames does not fit beside the two
    UNets in this machine's memory (docs/compression.md)."""
    out = tmp_path / "student"
    info = run_child(f"""
        from compression.compress import compress
        from compression.recipe import RECIPE_DIR, load_recipe
        r = load_recipe(RECIPE_DIR / "sfv-24gb.yaml")
        r = r.model_copy(update={{
            "train": r.train.model_copy(update={{"max_steps": 1, "grad_accum": 1,
                                                 "num_threads": 1}}),
            "vae": r.vae.model_copy(update={{"enabled": False}})}})
        compress(r, {str(out)!r}, weights={str(real_svd_dir)!r}, progress=False)
        _report()
    """)
    print("lean distillation step:", info)
    meta = json.loads((out / "compression.json").read_text())
    state = json.loads((out / "train" / "train_state.json").read_text())
    assert state["finished"] and state["optimizer"] == "adafactor"
    assert meta["teacher_unet_params"] == UNET_PARAMS
    student = out / "unet" / "diffusion_pytorch_model.safetensors"
    assert _safetensors_params(student) == STUDENT_UNET_PARAMS
    assert info["peak_rss_gb"] * 2**30 / 1e9 <= PEAK_RSS_LIMIT_GB, info


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
