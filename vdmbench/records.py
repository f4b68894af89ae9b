"""Result records: one write-once JSON file per (suite, model, run), written atomically.

A record holds everything needed to trust and compare a number: the suite hash, the model card,
each metric's value / n / CI / direction / version / protocol, the speed measurements with their
validity, the environment (torch, CUDA, Triton, GPU, driver), the git commit and the seeds.
Leaderboards are views over records.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import tempfile
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from vdmbench.errors import VdmbenchError
from vdmbench.record_schema import RECORD_VERSION, validate_record

__all__ = ["RECORD_VERSION", "atomic_save_figure", "atomic_write_text", "environment",
           "find_records", "git_commit", "now_iso", "read_record", "write_once_json"]

_UMASK_LOCK = threading.Lock()


def default_file_mode() -> int:
    """The mode a file created by this user gets: ``0o666`` less the process umask."""
    with _UMASK_LOCK:  # reading the umask means setting it; put it back at once
        mask = os.umask(0o022)
        os.umask(mask)
    return 0o666 & ~mask


def give_default_mode(fd: int) -> None:
    """Give a file opened by ``tempfile.mkstemp`` (mode 0600) the mode the umask gives, so that
    renaming it into place leaves a file as readable as any the user creates."""
    os.fchmod(fd, default_file_mode())


def atomic_write_text(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` via a temporary file in the same folder and a rename (the file
    gets the mode the umask gives); returns ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        give_default_mode(fd)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_save_figure(fig: Any, path: Path, dpi: int) -> Path:
    """Save a matplotlib figure as PNG via a temporary file in the same folder and a rename,
    then close it; returns ``path``."""
    import matplotlib.pyplot as plt

    tmp = path.with_name(f".{path.name}.tmp.png")
    try:
        fig.savefig(tmp, dpi=dpi)
        os.replace(tmp, path)
    finally:
        plt.close(fig)
        tmp.unlink(missing_ok=True)
    return path


def write_once_json(path: Path, data: dict[str, Any]) -> None:
    """Write a JSON record that must not exist yet (atomic; never overwrites; the file gets the
    mode the umask gives)."""
    if path.exists():
        raise VdmbenchError(f"record {path} already exists; records are write-once")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        give_default_mode(fd)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2, sort_keys=True, default=str)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.link(tmp, path)  # fails if path appeared meanwhile: write-once even under races
    finally:
        Path(tmp).unlink(missing_ok=True)


def read_record(path: Path) -> dict[str, Any]:
    """Load one record, upgraded to the current version and checked against
    :class:`~vdmbench.record_schema.Record`; a malformed file is an error naming it."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise VdmbenchError(f"{path}: not a readable result record ({e})") from None
    return validate_record(data, str(path))


def find_records(root: Path) -> list[Path]:
    """All record files below ``root`` (``**/records/*.json``, every timing version), sorted."""
    return sorted(p for p in root.rglob("records/*.json") if not p.name.startswith("."))


def record_filename(model: str, timing_version: int = 1) -> str:
    """``<model>.json`` for a run's record; ``<model>@timing<N>.json`` for the record that
    ``vdmbench speed`` adds with timing version N ≥ 2 (model names cannot contain ``@``)."""
    return f"{model}.json" if timing_version == 1 else f"{model}@timing{timing_version}.json"


def timing_version(record: dict[str, Any]) -> int:
    """The timing version of a record: 1 for the run's own timing (and for records without
    speed), N for the N-th timing of the same run's model."""
    return int((record.get("speed") or {}).get("timing_version", 1))


def git_commit(start: Path | None = None) -> str | None:
    """HEAD of the git checkout containing the vdmbench package (None if not in one)."""
    here = start or Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True,
                             text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    commit = out.stdout.strip()
    if out.returncode != 0 or not commit:
        return None
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                           capture_output=True, text=True, timeout=5, check=False)
    return commit + ("+dirty" if dirty.stdout.strip() else "")


def environment(device: str) -> dict[str, Any]:
    """Versions and hardware that can change numbers: Python, torch, CUDA, Triton, GPU, driver."""
    import torch

    import vdmbench

    env: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "vdmbench": vdmbench.__version__,
        "device": device,
    }
    for mod in ("diffusers", "triton", "numpy", "scipy"):
        try:
            env[mod] = __import__(mod).__version__
        except Exception:  # noqa: BLE001 (absent or broken optional package)
            env[mod] = None
    if device.startswith("cuda") and torch.cuda.is_available():
        idx = torch.device(device).index or 0
        env["gpu"] = torch.cuda.get_device_name(idx)
        try:
            out = subprocess.run(["nvidia-smi", "--query-gpu=driver_version",
                                  "--format=csv,noheader"], capture_output=True, text=True,
                                 timeout=10, check=False)
            env["driver"] = out.stdout.strip().splitlines()[0] if out.stdout.strip() else None
        except (OSError, subprocess.SubprocessError):
            env["driver"] = None
    else:
        env["gpu"] = None
        env["driver"] = None
    return env


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
