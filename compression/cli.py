"""``vdmbench analyze`` and ``vdmbench compress`` (plain click commands the CLI group adds)."""

from __future__ import annotations

from pathlib import Path

import click
from pydantic import ValidationError

from vdmbench.errors import VdmbenchError

MODEL_CHOICES = click.Choice(["synth-i2v", "synth-t2v", "sfv", "random-svd"])
#: teachers of the synthetic world (their clips fit the synthetic content/motion nets)
SYNTH_MODELS = ("synth-i2v", "synth-t2v")


def _fail(e: VdmbenchError) -> None:
    click.echo(f"error: {e}", err=True)
    raise SystemExit(2)


@click.command("analyze")
@click.option("--model", required=True, type=MODEL_CHOICES, help="teacher to analyse")
@click.option("--weights", default=None, help="teacher directory (sfv: required)")
@click.option("--out", "out", default="analysis", show_default=True, type=click.Path())
@click.option("--clips", default=8, show_default=True, help="calibration clips")
@click.option("--steps", default=None, type=int, help="sampler steps (default: the model's)")
@click.option("--seed", default=0, show_default=True)
@click.option("--synth-nets/--no-synth-nets", default=True, show_default=True,
              help="synth-i2v/synth-t2v: use the synthetic content/motion nets when their "
                   "weights exist")
@click.option("--threads", default=1, show_default=True, help="torch CPU threads")
def analyze_cmd(model: str, weights: str | None, out: str, clips: int, steps: int | None,
                seed: int, synth_nets: bool, threads: int) -> None:
    """Block sensitivity analysis: content/motion damage, latency and parameters per unit."""
    import torch

    from compression.analysis import analyze, write_report
    from compression.compress import load_teacher
    from compression.units import count_params

    torch.set_num_threads(threads)
    try:
        teacher = load_teacher(model, weights)
        content_fn = motion_fn = None
        nets = "none (output RMSE / temporal-difference statistic)"
        if model in SYNTH_MODELS and synth_nets:
            try:
                from vdmbench.synth.extractor_nets import (
                    SynthContentExtractor,
                    SynthMotionExtractor,
                )

                content_fn = SynthContentExtractor().features
                motion_fn = SynthMotionExtractor().features
                nets = "synth content net (per frame) + synth motion net (per clip)"
            except VdmbenchError as e:
                click.echo(f"note: synthetic nets unavailable ({e}); using output statistics",
                           err=True)
        rows = analyze(teacher.family, num_clips=clips, batch_size=4, seed=seed, steps=steps,
                       content_fn=content_fn, motion_fn=motion_fn)
        info = {"model": model, "weights": teacher.weights or "(shipped)",
                "weights_sha256": teacher.sha256, "params": count_params(teacher.family.unet),
                "clips": clips, "steps": steps or teacher.family.default_steps, "seed": seed,
                "distances": nets, "threads": threads}
        paths = write_report(rows, out, info=info)
    except VdmbenchError as e:
        _fail(e)
    click.echo(Path(paths["md"]).read_text())
    click.echo(f"wrote {', '.join(str(p) for p in paths.values())}")


@click.command("compress")
@click.option("--model", required=True, type=MODEL_CHOICES, help="teacher to compress")
@click.option("--weights", default=None, help="teacher directory (sfv: required)")
@click.option("--plan", "plan", default=None,
              help="preset (vdmini, auto, uniform, deep-first, none) or a plan JSON file")
@click.option("--analysis", default=None, help="analysis.json for --plan auto")
@click.option("--target-speedup", default=None, type=float, help="--plan auto")
@click.option("--param-budget", default=None, type=float, help="--plan auto: kept fraction")
@click.option("--recipe", "recipe_file", default=None, type=click.Path(),
              help="recipe YAML (default: compression/recipes/<model>.yaml)")
@click.option("--max-steps", default=None, type=int, help="override train.max_steps")
@click.option("--no-resume", is_flag=True, help="ignore existing checkpoints in --out")
@click.option("--out", "out", required=True, type=click.Path())
def compress_cmd(model: str, weights: str | None, plan: str | None, analysis: str | None,
                 target_speedup: float | None, param_budget: float | None,
                 recipe_file: str | None, max_steps: int | None, no_resume: bool,
                 out: str) -> None:
    """Plan → prune → ICMD distil; writes a student directory loadable by `vdmbench run`."""
    from compression.compress import compress, load_teacher, plan_for
    from compression.recipe import PlanSpec, default_recipe, load_recipe, with_overrides

    try:
        recipe = load_recipe(recipe_file) if recipe_file else default_recipe(model)
        if recipe.model != model:
            raise VdmbenchError(f"recipe is for model '{recipe.model}', not '{model}'")
        recipe = with_overrides(recipe, max_steps=max_steps)
        depth_plan = None
        if plan is not None or analysis is not None:
            spec = (PlanSpec(path=plan) if plan and plan.endswith(".json") else
                    PlanSpec(preset=plan or recipe.plan.preset, analysis=analysis,
                             target_speedup=target_speedup, param_budget=param_budget))
            depth_plan = plan_for(spec, load_teacher(model, weights))
        out_dir = compress(recipe, out, weights=weights, plan=depth_plan, resume=not no_resume)
    except VdmbenchError as e:
        _fail(e)
    except ValidationError as e:
        _fail(VdmbenchError(f"--plan/--analysis options: {e.errors()[0]['msg']}"))
    click.echo(f"student written to {out_dir}")
