"""MagCache's calibration as a command: run diffusers' calibration mode on a registered model and
store the magnitude ratios as data.

``python -m baselines.magcache_calibrate --model synth-dit-t2v --out FILE [--weights W]
[--steps N] [--videos 4] [--options JSON] [--prompt P …] [--frames F --height H --width W --fps R]``

diffusers' ``MagCacheConfig(calibrate=True)`` computes every block, and after each step appends
``mean(‖r_t‖ / ‖r_{t−1}‖)`` of the transformer's residual ``r`` (output of the last block minus
input of the first) to its state. We enable it with ``num_inference_steps = steps + 1`` (so the
hook never reaches its end-of-run reset), generate each video alone and read, after every
transformer call (diffusers' pipelines reset the hooks when a call ends), the ratios of every
cache context the pipeline used (``cond``, ``uncond`` or ``cond_uncond``) from the hook's state;
the file stores their mean over videos and contexts (``ratios``, one per step) with the per-video
lists, the adapter name, the weights' sha256 (the ``magcache`` transform refuses ratios of other
weights), the steps and the diffusers version. Without ``--prompt`` the prompts are the first
``--videos`` captions of SynthMotion's test split.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from baselines.dit_cache import is_cache_model, reset_cache_state, transformer_of
from vdmbench.errors import UnsupportedError, VdmbenchError
from vdmbench.generation import GenerationRequest


def _context_ratios(transformer: Any) -> dict[str, list[float]]:
    """The calibration ratios recorded so far, per cache context."""
    from diffusers.hooks.mag_cache import _MAG_CACHE_LEADER_BLOCK_HOOK

    out: dict[str, list[float]] = {}
    for m in transformer.modules():
        reg = getattr(m, "_diffusers_hook", None)
        hook = reg.get_hook(_MAG_CACHE_LEADER_BLOCK_HOOK) if reg is not None else None
        if hook is not None:
            for name, state in hook.state_manager._state_cache.items():  # noqa: SLF001
                out[name] = [float(v) for v in state.calibration_ratios]
    return out


def calibrate(generator: Any, requests: Sequence[GenerationRequest], steps: int
              ) -> list[list[float]]:
    """Per video and cache context, diffusers' calibration ratios (``steps`` values each) of
    ``generator``'s transformer; the transformer is left without hooks."""
    from diffusers import MagCacheConfig

    from baselines.dit_cache import attach_cache

    transformer = transformer_of(generator)
    if transformer is None or not is_cache_model(transformer):
        raise UnsupportedError("magcache calibration: the model has no diffusers transformer "
                               "(CacheMixin) to calibrate")
    undo, _ = attach_cache(transformer, lambda _t: MagCacheConfig(
        calibrate=True, num_inference_steps=steps + 1))
    # diffusers' pipelines reset the hooks at the end of a call (maybe_free_model_hooks): keep
    # what each transformer call leaves recorded
    seen: dict[str, list[float]] = {}
    handle = transformer.register_forward_hook(
        lambda _m, _a, _o: seen.update(_context_ratios(transformer)))
    out: list[list[float]] = []
    try:
        for r in requests:
            reset_cache_state(transformer)
            seen.clear()
            generator.generate([r])
            got = list(seen.values())
            if not got or any(len(g) != steps for g in got):
                raise UnsupportedError(f"magcache calibration: expected {steps} ratios per "
                                       f"context, got {[len(g) for g in got]}")
            out += got
    finally:
        handle.remove()
        undo()
    return out


def _requests(args: argparse.Namespace) -> list[GenerationRequest]:
    prompts = list(args.prompt or [])
    if not prompts:
        from vdmbench.data.synthmotion import SynthMotionDataset
        from vdmbench.suite import DatasetSpec

        spec = DatasetSpec(name="synthmotion", split="test", num_videos=args.videos,
                           frames=args.frames, height=args.height, width=args.width,
                           fps=args.fps, seed=0)
        prompts = [r.prompt or "" for r in SynthMotionDataset(spec).requests()]
    return [GenerationRequest(id=f"calib{i}", seed=i, frames=args.frames, height=args.height,
                              width=args.width, fps=args.fps, prompt=p)
            for i, p in enumerate(prompts[:args.videos])]


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m baselines.magcache_calibrate",
                                 description="MagCache calibration (diffusers' calibrate mode)")
    ap.add_argument("--model", required=True, help="registered adapter, e.g. synth-dit-t2v")
    ap.add_argument("--weights", default=None)
    ap.add_argument("--options", default="{}", help="the adapter's options as JSON")
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--videos", type=int, default=4)
    ap.add_argument("--prompt", action="append")
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--height", type=int, default=16)
    ap.add_argument("--width", type=int, default=16)
    ap.add_argument("--fps", type=float, default=8.0)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    try:
        import diffusers

        from vdmbench.catalog import MODELS

        gen = MODELS.get(args.model).load(args.model, args.weights, json.loads(args.options),
                                          args.device, steps=args.steps, dtype=args.dtype)
        card = gen.describe()
        ratios = calibrate(gen, _requests(args), card.steps)
        mean = [sum(col) / len(col) for col in zip(*ratios)]
        data = {"adapter": card.adapter, "weights_sha256": card.weights_sha256,
                "steps": card.steps, "ratios": mean, "per_video": ratios,
                "diffusers": diffusers.__version__}
        args.out.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=args.out.parent, suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=1)
        os.replace(tmp, args.out)
    except VdmbenchError as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(2) from None
    print(f"wrote {args.out}: {len(mean)} ratios")


if __name__ == "__main__":
    main()
