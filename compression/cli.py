"""``vdmbench analyze`` and ``vdmbench compress`` (plain click commands the CLI group adds).

Both take the teacher from the model adapter registered under ``--model`` (its ``teacher``
method, through :func:`vdmbench.acceleration.teacher_of`); any registered adapter that hands out
a teacher is accepted, others are refused with exit status 2.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click
import yaml
from pydantic import ValidationError

from vdmbench.errors import ConfigError, VdmbenchError


def _fail(e: VdmbenchError) -> None:
    click.echo(f"error: {e}", err=True)
    raise SystemExit(2)


def _model_options(pairs: tuple[str, ...]) -> dict[str, Any]:
    """``KEY=VALUE`` pairs (values parsed as YAML scalars) → the adapter's options mapping."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"--model-option {pair!r}: expected KEY=VALUE")
        out[key] = yaml.safe_load(value)
    return out


_MODEL_OPTION = click.option(
    "--model-option", "model_option", multiple=True, metavar="KEY=VALUE",
    help="an option of the model's adapter, as in a suite's options: (e.g. variant=fp16, "
         "base=DIR); repeatable")


@click.command("analyze")
@click.option("--model", required=True, help="registered model whose teacher is analysed "
                                              "(vdmbench ls models)")
@click.option("--weights", default=None, help="teacher directory (default: the adapter's "
                                              "shipped model, where it has one)")
@_MODEL_OPTION
@click.option("--out", "out", default="analysis", show_default=True, type=click.Path())
@click.option("--clips", default=8, show_default=True, help="calibration clips")
@click.option("--steps", default=None, type=int, help="sampler steps (default: the model's)")
@click.option("--seed", default=0, show_default=True)
@click.option("--synth-nets/--no-synth-nets", default=True, show_default=True,
              help="teachers trained on SynthMotion clips: use the synthetic content/motion "
                   "nets when their weights exist")
@click.option("--threads", default=1, show_default=True, help="torch CPU threads")
def analyze_cmd(model: str, weights: str | None, model_option: tuple[str, ...], out: str,
                clips: int, steps: int | None, seed: int, synth_nets: bool, threads: int
                ) -> None:
    """Block sensitivity analysis: content/motion damage, latency and parameters per unit."""
    import torch

    from compression.analysis import analyze, write_report
    from compression.units import count_params
    from vdmbench.acceleration import teacher_of

    torch.set_num_threads(threads)
    try:
        teacher = teacher_of(model, weights, options=_model_options(model_option))
        content_fn = motion_fn = None
        nets = "none (output RMSE / temporal-difference statistic)"
        world = getattr(teacher, "synthetic_world", None) or teacher.clip_dataset
        if world == "synthmotion" and synth_nets:
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
        rows = analyze(teacher, num_clips=clips, batch_size=4, seed=seed, steps=steps,
                       content_fn=content_fn, motion_fn=motion_fn)
        info = {"model": model, "weights": teacher.weights or "(shipped)",
                "weights_sha256": teacher.sha256, "params": count_params(teacher.unet),
                "clips": clips, "steps": steps or teacher.default_steps, "seed": seed,
                "distances": nets, "threads": threads}
        paths = write_report(rows, out, info=info)
    except VdmbenchError as e:
        _fail(e)
    click.echo(Path(paths["md"]).read_text())
    click.echo(f"wrote {', '.join(str(p) for p in paths.values())}")


def _recipe_options(recipe: Any, pairs: tuple[str, ...]) -> Any:
    """``recipe`` with ``KEY=VALUE`` overrides (dotted keys, YAML values), validated by its
    own schema; an unknown key or a bad value is a :class:`ConfigError` naming the field."""
    if not pairs:
        return recipe
    data = recipe.model_dump(mode="json")
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"--recipe-option {pair!r}: expected KEY=VALUE")
        node = data
        *parents, leaf = key.split(".")
        for part in parents:
            if not isinstance(node.get(part), dict):
                raise ConfigError(f"--recipe-option {pair!r}: the recipe has no section "
                                  f"'{part}'", field=key)
            node = node[part]
        node[leaf] = yaml.safe_load(value)
    try:
        return type(recipe).model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        field = ".".join(str(x) for x in err["loc"]) or key
        raise ConfigError(f"--recipe-option: {err['msg']}", field=field) from None


def _data_options(recipe: Any, dataset: str | None, pairs: tuple[str, ...]) -> Any:
    """``recipe`` with ``data.name`` replaced by ``dataset`` (its options then start empty,
    unless it is the recipe's own dataset) and ``KEY=VALUE`` dataset options set (dotted keys
    for nested options, values parsed as YAML), validated by the recipe's schema."""
    if dataset is None and not pairs:
        return recipe
    data = recipe.data.model_dump(mode="json")
    if dataset is not None and dataset != data.get("name"):
        data["name"], data["options"] = dataset, {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"--dataset-option {pair!r}: expected KEY=VALUE")
        node = data["options"]
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"--dataset-option {pair!r}: option '{part}' is not a "
                                  f"mapping", field=f"data.options.{key}")
        node[leaf] = yaml.safe_load(value)
    try:
        return recipe.model_copy(update={"data": type(recipe.data).model_validate(data)})
    except ValidationError as e:
        err = e.errors()[0]
        field = ".".join(str(x) for x in err["loc"])
        raise ConfigError(f"--dataset/--dataset-option: {err['msg']}",
                          field=f"data.{field}") from None


_DATASET = click.option("--dataset", default=None,
                        help="training dataset (vdmbench ls datasets: videofolder, ucf101, "
                             "synthmotion, noise); overrides the recipe's data.name")
_DATASET_OPTION = click.option(
    "--dataset-option", "dataset_option", multiple=True, metavar="KEY=VALUE",
    help="a dataset option, as in a suite's dataset options (e.g. root=DIR, "
         "'columns={file_name: video, caption: caption}', columns.caption=text); repeatable")
_DATA_CACHE = click.option("--data-cache", "data_cache", default=None, type=click.Path(),
                           help="latent cache root (default: $VDMBENCH_DATA_CACHE or "
                                "~/.cache/vdmbench/training-data)")


@click.command("compress")
@click.option("--model", required=True, help="registered model whose teacher is compressed "
                                              "(vdmbench ls models)")
@click.option("--weights", default=None, help="teacher directory (default: the adapter's "
                                              "shipped model, where it has one)")
@_MODEL_OPTION
@click.option("--method", default="vdmini", show_default=True,
              help="registered compressor (vdmbench ls compressors)")
@click.option("--plan", "plan", default=None,
              help="preset (vdmini, auto, uniform, deep-first, none) or a plan JSON file")
@click.option("--analysis", default=None, help="analysis.json for --plan auto (and --plan "
                                               "vdmini on a video transformer)")
@click.option("--target-speedup", default=None, type=float, help="--plan auto")
@click.option("--param-budget", default=None, type=float, help="--plan auto: kept fraction")
@click.option("--recipe", "recipe_file", default=None, type=click.Path(),
              help="recipe YAML (default: compression/recipes/<model>.yaml)")
@click.option("--max-steps", default=None, type=int, help="override train.max_steps")
@click.option("--grad-accum", default=None, type=click.IntRange(min=1),
              help="override train.grad_accum (global batch = batch_size × processes × this)")
@click.option("--recipe-option", "recipe_option", multiple=True, metavar="KEY=VALUE",
              help="override a recipe field (dotted key, value parsed as YAML), e.g. "
                   "ratio=0.4 for --method channel or train.lr=1e-4; repeatable")
@click.option("--vae-steps", default=None, type=int,
              help="override vae.finetune_steps (VAE decoder fine-tuning)")
@click.option("--no-resume", is_flag=True, help="ignore existing checkpoints in --out")
@_DATASET
@_DATASET_OPTION
@_DATA_CACHE
@click.option("--out", "out", required=True, type=click.Path())
def compress_cmd(model: str, weights: str | None, model_option: tuple[str, ...], method: str,
                 plan: str | None, analysis: str | None, target_speedup: float | None,
                 param_budget: float | None, recipe_file: str | None, max_steps: int | None,
                 grad_accum: int | None, recipe_option: tuple[str, ...],
                 vae_steps: int | None, no_resume: bool, dataset: str | None,
                 dataset_option: tuple[str, ...], data_cache: str | None,
                 out: str) -> None:
    """Plan → prune → ICMD distil; writes a student directory loadable by `vdmbench run`."""
    from compression.compress import plan_for
    from compression.recipe import PlanSpec, with_overrides
    from vdmbench.acceleration import teacher_of
    from vdmbench.catalog import COMPRESSORS

    try:
        from vdmbench.catalog import MODELS

        MODELS.check(model)
        if vae_steps is not None and vae_steps < 0:
            raise ConfigError(f"--vae-steps must be ≥ 0, got {vae_steps}")
        compressor = COMPRESSORS.get(method)()
        recipe = (compressor.load_recipe(recipe_file) if recipe_file
                  else compressor.default_recipe(model))
        if recipe.model != model:
            raise VdmbenchError(f"recipe is for model '{recipe.model}', not '{model}'")
        recipe = with_overrides(_recipe_options(recipe, recipe_option), max_steps=max_steps,
                                grad_accum=grad_accum)
        recipe = _data_options(recipe, dataset, dataset_option)
        from vdmbench import training_data

        training_data.check(recipe.data)  # root, metadata, columns: before any model loads
        teacher = teacher_of(model, weights, frames=recipe.data.frames,
                             options=_model_options(model_option))
        depth_plan = None
        if plan is not None or analysis is not None:
            spec = (PlanSpec(path=plan) if plan and plan.endswith(".json") else
                    PlanSpec(preset=plan or recipe.plan.preset, analysis=analysis,
                             target_speedup=target_speedup, param_budget=param_budget))
            depth_plan = plan_for(spec, teacher)
        out_dir = compressor.fit(teacher, recipe, out, plan=depth_plan, resume=not no_resume,
                                 vae_finetune_steps=vae_steps, release_teacher=True,
                                 data_cache=data_cache)
    except VdmbenchError as e:
        _fail(e)
    except ValidationError as e:
        _fail(VdmbenchError(f"--plan/--analysis options: {e.errors()[0]['msg']}"))
    if int(os.environ.get("RANK", "0")) == 0:
        click.echo(f"student written to {out_dir}")


@click.command("prepare-data")
@click.option("--model", required=True, help="registered model whose encoders encode the clips "
                                              "(the teacher to compress)")
@click.option("--weights", default=None, help="teacher directory")
@_MODEL_OPTION
@click.option("--method", default="vdmini", show_default=True,
              help="compressor whose default recipe gives the data: section")
@click.option("--recipe", "recipe_file", default=None, type=click.Path(),
              help="recipe YAML whose data: section is used (default: the model's shipped one)")
@click.option("--recipe-option", "recipe_option", multiple=True, metavar="KEY=VALUE",
              help="override a recipe field, e.g. data.frames=14 or data.num_videos=1000")
@_DATASET
@_DATASET_OPTION
@_DATA_CACHE
@click.option("--dtype", "storage", default="float16", show_default=True,
              type=click.Choice(["float16", "bfloat16", "float32"]),
              help="cache dtype of latents and embeddings")
@click.option("--shard-clips", default=64, show_default=True, type=click.IntRange(min=1),
              help="candidate clips per shard (the unit of work and of resumption)")
@click.option("--frames/--no-frames", "with_frames", default=None,
              help="also cache the clips' uint8 frames (the VAE decoder stage's real frames); "
                   "default: when the recipe fine-tunes a VAE decoder")
@click.option("--device", default=None, help="cpu or cuda (default: cuda when available; "
                                            "under torchrun each rank takes cuda:LOCAL_RANK)")
@click.option("--threads", default=None, type=int, help="torch CPU threads")
def prepare_data_cmd(model: str, weights: str | None, model_option: tuple[str, ...],
                     method: str, recipe_file: str | None, recipe_option: tuple[str, ...],
                     dataset: str | None, dataset_option: tuple[str, ...],
                     data_cache: str | None, storage: str, shard_clips: int,
                     with_frames: bool | None, device: str | None, threads: int | None) -> None:
    """Encode a dataset's clips into the latent cache that `vdmbench compress` reads (alone,
    before training; under torchrun the ranks encode disjoint shards)."""
    import torch

    from vdmbench import training_data
    from vdmbench.acceleration import teacher_of
    from vdmbench.catalog import COMPRESSORS, MODELS
    from vdmbench.distributed import init_world

    if threads is not None:
        torch.set_num_threads(threads)
    try:
        MODELS.check(model)
        compressor = COMPRESSORS.get(method)()
        recipe = (compressor.load_recipe(recipe_file) if recipe_file
                  else compressor.default_recipe(model))
        recipe = _data_options(_recipe_options(recipe, recipe_option), dataset, dataset_option)
        source = training_data.check(recipe.data)  # before any model loads
        if source is None:
            raise ConfigError("prepare-data needs a dataset with videos (--dataset videofolder, "
                              "ucf101, …)", field="data.name")
        dev = device or ("cuda" if torch.cuda.is_available() else "cpu")
        world = init_world(dev)
        dev = world.device(dev)
        teacher = teacher_of(model, weights, dev, frames=recipe.data.frames,
                             options=_model_options(model_option))
        vae = getattr(recipe, "vae", None)
        frames = with_frames if with_frames is not None else bool(
            vae is not None and vae.enabled and vae.finetune_steps > 0)
        info = training_data.attach(teacher, recipe.data, data_cache, frames=frames,
                                    frame_clips=getattr(vae, "frame_clips", None),
                                    storage=storage, world=world, shard_clips=shard_clips,
                                    progress=world.is_main, source=source)
        world.close()
    except VdmbenchError as e:
        _fail(e)
    if int(os.environ.get("RANK", "0")) == 0:
        click.echo(f"cache {info['cache_key']}: {info['clips']} clips ({info['clips_encoded']} "
                   f"encoded now, {info['clips_reused']} reused), {info['skipped']} skipped, "
                   f"{info['cache_bytes']} bytes; manifest sha256 {info['manifest_sha256']}")
