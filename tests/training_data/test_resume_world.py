"""prepare-data killed with SIGKILL and rerun writes the same cache bit for bit; two processes
under torchrun write the same cache as one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from training_data_utils import make_folder

ROOT = Path(__file__).resolve().parents[2]
TORCHRUN = Path(sys.executable).with_name("torchrun")


def _recipe(tmp: Path) -> Path:
    path = tmp / "sfv-tiny.yaml"
    path.write_text(yaml.safe_dump({
        "model": "sfv", "data": {"frames": 4, "height": 16, "width": 16, "fps": 8,
                                 "max_bad_fraction": 0.3}}))
    return path


def _args(tmp: Path, folder: Path, weights: Path, cache: Path, shard: int) -> list[str]:
    return ["prepare-data", "--model", "sfv", "--weights", str(weights), "--recipe",
            str(_recipe(tmp)), "--dataset", "videofolder", "--dataset-option", f"root={folder}",
            "--data-cache", str(cache), "--shard-clips", str(shard), "--device", "cpu",
            "--threads", "1"]


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}


def _run(cmd: list[str]) -> str:
    proc = subprocess.run(cmd, cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


def _in_process(args: list[str]) -> None:
    """The single-process reference, run in this process (saves a process start)."""
    from click.testing import CliRunner

    from compression.cli import prepare_data_cmd

    res = CliRunner().invoke(prepare_data_cmd, args[1:])
    assert res.exit_code == 0, res.output


def _files(cache: Path) -> dict[str, bytes]:
    """Every file of the cache (hidden temporaries included) → its bytes."""
    return {str(p.relative_to(cache)): p.read_bytes() for p in sorted(cache.rglob("*"))
            if p.is_file()}


def test_sigkill_then_rerun_gives_the_same_cache(tmp_path: Path, svd_dir: Path) -> None:
    folder = make_folder(tmp_path / "videos",
                         [(f"clips/v{i:02d}.avi", 12, "good") for i in range(24)])
    ref = tmp_path / "ref"
    _in_process(_args(tmp_path, folder, svd_dir, ref, 1))
    cache = tmp_path / "cache"
    proc = subprocess.Popen([sys.executable, "-m", "vdmbench",
                             *_args(tmp_path, folder, svd_dir, cache, 1)], cwd=ROOT, env=_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if len(list(cache.glob("*/shards/*.json"))) >= 3:
                proc.send_signal(signal.SIGKILL)
                break
            time.sleep(0.005)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    (key,) = [p.name for p in cache.iterdir()]
    done = len(list((cache / key / "shards").glob("*.json")))
    assert 3 <= done < 24 and not (cache / key / "manifest.json").exists(), done
    out = _run([sys.executable, "-m", "vdmbench", *_args(tmp_path, folder, svd_dir, cache, 1)])
    assert f"24 clips ({24 - done} encoded now, {done} reused)" in out
    assert _files(cache) == _files(ref)


@pytest.mark.skipif(not TORCHRUN.exists(), reason="torchrun not installed")
def test_two_processes_write_the_cache_one_writes(tmp_path: Path, folder: Path,
                                                  svd_dir: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    _in_process(_args(tmp_path, folder, svd_dir, one, 2))
    out = _run([str(TORCHRUN), "--standalone", "--nproc-per-node=2", "-m", "vdmbench",
                *_args(tmp_path, folder, svd_dir, two, 2)])
    assert "9 clips (9 encoded now, 0 reused), 3 skipped" in out
    files = _files(two)
    assert files == _files(one) and len([f for f in files if f.endswith(".json")]) == 8
