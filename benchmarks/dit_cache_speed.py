"""Per-video speed of diffusers' DiT cache methods on the synthetic DiT, interleaved, and how much
of the transformer's block compute each one still does.

Loads every model entry of the suite (default ``suites/synth_dit_t2v.yaml``: the 8-step
``synth-dit-t2v``, fewer steps, each cache method at 2-3 settings, and the depth-pruned VDMini-DiT
students, whose ``weights`` are student directories) with its transforms applied as ``vdmbench
run`` does, then times one whole video (batch 1, the suite's first request) per
entry with :func:`vdmbench.timing.time_interleaved`: ``--rounds`` rounds, every entry once per
round in suite order (A/B/A/B…), so machine load hits every entry alike; the speed-up against the
reference is the median of the per-round ratios with its 95% order-statistics interval.

Then, outside the timing, each entry generates the same video once more with counters on every
``nn.Linear`` inside the transformer's blocks: ``block MACs`` is the multiply-accumulates of those
layers (tokens × in × out, summed over calls) relative to the reference — the share of the
blocks' projection and feed-forward work a method still does, independent of the machine
(attention-score products, embeddings and the output head are left out).

    python -m benchmarks.dit_cache_speed --rounds 10 [--only dit-8step,fbc-0.12] [--out F.json]

Prints a Markdown table. Run it as a module from the repository root (``python -m``): run as a
script, ``benchmarks/`` would come first on ``sys.path`` and its ``kernels.py`` would shadow the
``kernels`` package that transformers imports.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import platform
from pathlib import Path
from typing import Any

import diffusers
import torch

from vdmbench.acceleration import TransformedGenerator, make_transforms, transformed
from vdmbench.catalog import DATASETS, MODELS
from vdmbench.resolve import resolve_suite
from vdmbench.suite import TransformSpec
from vdmbench.timing import TimedModel, load_average, time_interleaved

ROOT = Path(__file__).resolve().parents[1]


def block_macs(transformer: torch.nn.Module, fn: Any) -> int:
    """Multiply-accumulates of the ``nn.Linear`` layers inside ``transformer.blocks`` during
    ``fn()``."""
    total = [0]

    def count(m: torch.nn.Linear, args: tuple[Any, ...], _out: Any) -> None:
        total[0] += args[0].numel() // m.in_features * m.in_features * m.out_features

    handles = [m.register_forward_hook(count) for m in transformer.blocks.modules()  # type: ignore[union-attr]
               if isinstance(m, torch.nn.Linear)]
    try:
        with torch.inference_mode():
            fn()
    finally:
        for h in handles:
            h.remove()
    return total[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suite", type=Path, default=ROOT / "suites" / "synth_dit_t2v.yaml")
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--only", default=None, help="comma-separated entries (and the reference)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    resolved = resolve_suite(args.suite)
    suite = resolved.suite
    ref = suite.reference_model or suite.models[0].name
    wanted = None if args.only is None else {*args.only.split(","), ref}
    request = DATASETS.get(suite.dataset.name)(suite.dataset).requests()[0]
    models: list[TimedModel] = []
    macs: dict[str, int] = {}
    describe: dict[str, str] = {}
    with contextlib.ExitStack() as stack:
        for spec in suite.models:
            if wanted is not None and spec.name not in wanted:
                continue
            gen = MODELS.get(spec.adapter).load(spec.name, spec.weights,
                                                resolved.model_options[spec.name], "cpu",
                                                steps=spec.steps, dtype=spec.dtype)
            transformer = gen.transformer()
            if spec.transforms:
                opts = resolved.transform_options[spec.name]
                ts = make_transforms([TransformSpec(name=t.name, options=o.model_dump())
                                      for t, o in zip(spec.transforms, opts)], model=spec.name)
                gen = TransformedGenerator(gen, stack.enter_context(
                    transformed(gen, ts, model=spec.name)))
                describe[spec.name] = "; ".join(f"{t.name} {json.dumps(t.options)}"
                                                for t in spec.transforms)
            else:
                describe[spec.name] = f"{spec.steps} steps"
            if spec.weights:  # a student directory: say which and how deep
                describe[spec.name] += (f"; {Path(spec.weights).name} "
                                        f"({len(transformer.blocks)} blocks)")

            def video(g: Any = gen) -> object:
                return g.generate([request])

            models.append(TimedModel(spec.name, {"video": video}))
            macs[spec.name] = block_macs(transformer, video)
        result = time_interleaved(models, reference=ref, rounds=args.rounds, warmup=1,
                                  iterations=args.rounds, threads=args.threads)
    print(f"suite {suite.name}; reference {ref}; {args.rounds} interleaved rounds, 1 video "
          f"(batch 1) per entry per round; torch {torch.__version__}, diffusers "
          f"{diffusers.__version__}, python {platform.python_version()}, {args.threads} "
          f"thread(s); {platform.processor() or platform.machine()}; load average at the end "
          f"{load_average()}\n")
    print("| entry | setting | per video (ms) | speed-up × [95% CI] | block MACs vs ref |")
    print("|---|---|---:|---:|---:|")
    rows = []
    for m in models:
        r = result["models"][m.name]
        s = r["speedup"]["per_video"]
        row = {"model": m.name, "setting": describe[m.name],
               "per_video_ms": r["per_video"]["median_s"] * 1e3,
               "speedup": s["median"], "ci95": s["ci95"],
               "block_macs_ratio": macs[m.name] / macs[ref]}
        rows.append(row)
        print(f"| {m.name} | {row['setting']} | {row['per_video_ms']:.0f} | "
              f"{s['median']:.2f} [{s['ci95'][0]:.2f}, {s['ci95'][1]:.2f}] | "
              f"{row['block_macs_ratio']:.2f} |")
    if args.out:
        args.out.write_text(json.dumps({"suite": suite.name, "reference": ref,
                                        "session": result["session"], "rows": rows,
                                        "torch": torch.__version__,
                                        "diffusers": diffusers.__version__}, indent=1))


if __name__ == "__main__":
    main()
