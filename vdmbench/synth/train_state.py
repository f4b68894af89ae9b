"""The resumable state of the synthetic teachers' training scripts (``DIR/train_state.pt``).

One file holds the model, its EMA, the optimizer, the noise generator's state, the number of
finished steps and the training seconds so far; it is written to a temporary file and renamed,
so a run killed while saving keeps the previous state.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import torch


def save_train_state(path: Path, model: torch.nn.Module, ema: torch.nn.Module,
                     opt: torch.optim.Optimizer, gen: torch.Generator, step: int,
                     elapsed: float) -> None:
    """Write the state after ``step`` finished steps and ``elapsed`` training seconds."""
    tmp = path.with_suffix(".tmp")
    torch.save({"model": model.state_dict(), "ema": ema.state_dict(), "opt": opt.state_dict(),
                "gen": gen.get_state(), "step": step, "elapsed": elapsed}, tmp)
    tmp.replace(path)


def load_train_state(path: Path, model: torch.nn.Module, ema: torch.nn.Module,
                     opt: torch.optim.Optimizer, gen: torch.Generator,
                     device: torch.device | str = "cpu") -> tuple[int, float] | None:
    """Restore the state at ``path`` into the given objects and return (finished steps,
    training seconds); None when there is no state file (a fresh run)."""
    if not path.is_file():
        return None
    st = torch.load(path, map_location=device, weights_only=True)
    model.load_state_dict(st["model"])
    ema.load_state_dict(st["ema"])
    opt.load_state_dict(st["opt"])
    gen.set_state(st["gen"])
    print(f"resuming from step {int(st['step'])}", flush=True)
    return int(st["step"]), float(st["elapsed"])


def ema_update(ema: torch.nn.Module, model: torch.nn.Module, decay: float) -> None:
    """``ema ← decay·ema + (1 − decay)·model``, parameter by parameter."""
    with torch.no_grad():
        for pe, pm in zip(ema.parameters(), model.parameters(), strict=True):
            pe.lerp_(pm.detach(), 1.0 - decay)


def truncate_log(path: Path, steps: int) -> None:
    """Keep the header and the rows of a CSV log whose step (first column) is below ``steps``
    (``eval.csv`` rows are numbered by finished steps, so those up to ``steps`` stay): a resumed
    run rewrites what the killed one logged after its last checkpoint."""
    if not path.is_file():
        return
    lines = path.read_text().splitlines(keepends=True)
    limit = steps + 1 if path.name == "eval.csv" else steps
    keep = [ln for ln in lines[1:] if int(ln.split(",", 1)[0]) < limit]
    path.write_text("".join(lines[:1] + keep))


def check_args(parser: argparse.ArgumentParser, args: argparse.Namespace,
               positive: Sequence[str], channels: bool = True) -> None:
    """``parser.error`` (exit 2) unless every option in ``positive`` is ≥ 1 and, with
    ``channels``, every ``--channels`` width is a multiple of 32 (GroupNorm with 32 groups)."""
    for k in positive:
        if getattr(args, k) < 1:
            parser.error(f"--{k.replace('_', '-')} must be ≥ 1")
    if channels and any(c % 32 for c in args.channels):
        parser.error("--channels must be multiples of 32 (GroupNorm with 32 groups)")
