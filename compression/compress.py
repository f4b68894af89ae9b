"""plan → prune → distil → student directory (the library behind ``vdmbench compress``).

Student directory::

    <out>/unet/                 diffusers save_pretrained (config.json + safetensors); a video
                                transformer teacher's student is <out>/transformer/ instead
                                (its diffusers class with fewer blocks, compression.json
                                kept_blocks; docs/compression.md "Video DiTs")
    <out>/compression.json      base model, its weights hash, plan, recipe hash, kernel backend,
                                base_weights (teacher dir, or null = the base model's shipped
                                synthetic teacher: synth-i2v, synth-t2v),
                                classes (component → class, e.g. the UNet's), num_processes,
                                global_batch (clips per optimizer step: per-process batch ×
                                processes × grad_accum) and train_segments (those of every
                                resumed part of the training)
    <out>/plan.json, recipe.yaml (as used), train/loss_log.csv, train/loss.png, train/ckpt/
    <out>/vae/                  (sfv with ``vae.enabled``) the pruned, fine-tuned VAE in the
                                format of :mod:`vdmbench.models.pruned_vae`; train/vae_loss_log.csv
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
import yaml

from compression.dit_student import dit_tap_map
from compression.dit_units import units_of
from compression.icmd import check_mca_teacher
from compression.plan import DepthPlan, check_plan, make_plan, with_kept_blocks
from compression.recipe import PlanSpec, Recipe
from compression.student import apply, save_student
from compression.units import count_params, unit_params
from vdmbench import training_data
from vdmbench.acceleration import teacher_of
from vdmbench.diffusion.denoiser import DenoiserSpec
from vdmbench.errors import ConfigError, UnsupportedError
from vdmbench.models.pruned_dit import is_transformer
from vdmbench.records import atomic_write_text


def plan_for(spec: PlanSpec | str, teacher: DenoiserSpec, analysis: str | None = None
             ) -> DepthPlan:
    """A plan from a recipe's plan spec, a preset name or a plan JSON path."""
    if isinstance(spec, str):
        spec = PlanSpec(path=spec) if spec.endswith(".json") else PlanSpec(preset=spec)  # type: ignore[arg-type]
    unet = teacher.unet
    dit = is_transformer(unet)
    target = unet if dit else unet.config  # a transformer's blocks are read from the module
    if spec.path:
        plan = DepthPlan.load(spec.path)
        check_plan(target, plan)
        return with_kept_blocks(plan, unet) if dit else plan
    scores: dict = {}
    src = analysis or spec.analysis
    if spec.preset == "auto" or (dit and spec.preset == "vdmini" and src is not None):
        from compression.analysis import load_scores

        if src is None:
            raise ConfigError("plan preset 'auto' needs an analysis (--analysis FILE)")
        scores = load_scores(src)
    up = {u.name: unit_params(unet, u) for u in units_of(unet)}
    return make_plan(spec.preset, target, base=teacher.name, scores=scores,
                     unit_params=up, total_params=count_params(unet),
                     target_speedup=spec.target_speedup, param_budget=spec.param_budget)


def teacher_vae(teacher: DenoiserSpec) -> Any:
    """The teacher's VAE (float32, eval) for decoder pruning, from the folders the teacher's
    weights came from (variants and ``base`` folders included); a teacher without one is an
    :class:`UnsupportedError` saying to set ``vae.enabled: false``."""
    try:
        return teacher.component("vae").float().eval()
    except UnsupportedError as e:
        raise UnsupportedError(f"vae pruning: {e}; set vae.enabled: false in the recipe, or "
                               f"give a teacher whose folders hold a vae/") from None


def compress_vae(recipe: Recipe, teacher: DenoiserSpec, out_dir: Path, device: str = "cpu",
                 finetune_steps: int | None = None) -> tuple[Any, dict[str, Any]]:
    """Prune and fine-tune the teacher's VAE decoder (recipe ``vae:``; ``finetune_steps``
    overrides ``vae.finetune_steps``); returns the pruned VAE and the facts recorded in
    ``compression.json``. Latents for the decoder distillation are the teacher's training clips
    ``x0`` (B, F, C, h, w) divided by the VAE's scaling factor: the cached real latents when a
    dataset is attached, with the same clips' real frames (``teacher.train_frames``) for the
    reconstruction term; else the teacher's Gaussian latents (``noise``)."""
    import csv

    from compression.vae_cuts import prune_decoder
    from compression.vae_finetune import finetune_decoder
    from vdmbench.models.pruned_vae import decoder_params

    spec = recipe.vae
    vae_t = teacher_vae(teacher).to(device)
    n_up = len(vae_t.decoder.up_blocks)
    fam = teacher
    scale = float(vae_t.config.scaling_factor)

    real = getattr(fam, "train_frames", None) is not None
    row_of = {f: i for i, f in enumerate(fam.train_data.files)} if real else {}

    def clips(start: int) -> Any:
        step = start
        while True:
            seed = recipe.train.seed * 1_000_003 + step
            step += 1
            if not real:
                x0 = fam.batch(spec.batch_size, seed=seed)["x0"]
                yield (x0.reshape(-1, *x0.shape[2:]) / scale).float()
                continue
            # clips with real frames (the frame cache may hold a prefix of the latent cache)
            g = torch.Generator().manual_seed(seed)
            ks = torch.randint(0, len(fam.train_frames), (spec.batch_size,), generator=g)
            frames = fam.train_frames.get(ks.tolist())["frames"]
            rows = [row_of[fam.train_frames.files[k]] for k in ks.tolist()]
            x0 = fam.train_data.get(rows)["x0"].float()  # the same clips' latents
            z = (x0.reshape(-1, *x0.shape[2:]) / scale).to(fam.device)
            x = frames.reshape(-1, *frames.shape[2:]).permute(0, 3, 1, 2)  # (B·F, 3, H, W)
            yield z, (x.float() / 127.5 - 1.0)

    frames = int(fam.batch(1, seed=0)["x0"].shape[1])
    example = next(clips(10**6))
    example = example[0] if isinstance(example, tuple) else example
    vae_s = prune_decoder(vae_t, drop_mid_block=spec.drop_mid_block,
                          up_block_layers={n_up - 1: spec.last_up_block_layers},
                          channel_ratio=spec.channel_ratio, example_latents=example.cpu(),
                          num_frames=frames).to(device)
    perceptual = None
    if spec.perceptual > 0 and spec.perceptual_weights:
        from compression.vae_finetune import load_lpips_vgg

        perceptual = load_lpips_vgg(spec.perceptual_weights).to(device)
    steps = spec.finetune_steps if finetune_steps is None else finetune_steps
    res = finetune_decoder(vae_t, vae_s, clips(0), steps=steps, lr=spec.lr,
                           adv_weight=spec.adversarial, perceptual=perceptual,
                           perceptual_weight=spec.perceptual, num_frames=frames,
                           disc_lr=spec.disc_lr, seed=recipe.train.seed, real_weight=spec.real)
    (out_dir / "train").mkdir(parents=True, exist_ok=True)
    cols = ["step", "loss", "rec", "rec_real", "adv_g", "adv_d", "perceptual"]
    with open(out_dir / "train" / "vae_loss_log.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols)
        w.writeheader()
        for row in res.log:
            w.writerow({k: row.get(k, "") for k in cols})
    info = {"vae_teacher_decoder_params": decoder_params(vae_t),
            "vae_decoder_params": decoder_params(vae_s),
            "vae_finetune_steps": res.steps, "vae_real_frames": real,
            "vae_final_losses": res.log[-1] if res.log else None}
    return vae_s, info


def attach_data(teacher: DenoiserSpec, data: Any, cache: str | os.PathLike[str] | None, *,
                source: Any = None, frames: bool = False, frame_clips: int | None = None,
                progress: bool = True) -> dict[str, Any]:
    """:func:`vdmbench.training_data.attach` for a trainer (under torchrun / accelerate launch
    the ranks encode disjoint shards); returns the ``data`` record of ``compression.json``."""
    from vdmbench.distributed import init_world, world_from_env

    world = world_from_env()
    cached = data.name not in (None, training_data.NOISE, teacher.clip_dataset)
    if world.distributed and cached:  # the ranks share the encoding (accelerate reuses the group)
        world = init_world("cuda" if torch.cuda.is_available() else "cpu")
    return training_data.attach(teacher, data, cache, frames=frames, frame_clips=frame_clips,
                                world=world,
                                progress=progress and world.is_main, source=source)


def clips_seen(segments: list[dict[str, Any]]) -> int:
    """Clips drawn by the training (with repeats): Σ steps × global batch over its segments."""
    return int(sum((s["to_step"] - s["from_step"]) * s["global_batch"] for s in segments))


def compress(recipe: Recipe, out: str | os.PathLike[str], *, weights: str | None = None,
             plan: DepthPlan | None = None, device: str = "cpu", resume: bool = True,
             progress: bool = True, stop_after: int | None = None,
             teacher: DenoiserSpec | None = None, model_options: dict[str, Any] | None = None,
             vae_finetune_steps: int | None = None, release_teacher: bool | None = None,
             data_cache: str | os.PathLike[str] | None = None) -> Path:
    """Run plan → prune → distil and write the student directory; returns its path.

    The teacher is ``teacher`` or the one the adapter registered as ``recipe.model`` hands out
    (:func:`vdmbench.acceleration.teacher_of`, with ``weights`` and ``model_options``).
    ``release_teacher`` (default: when this call loaded the teacher): drop the teacher UNet
    before the VAE decoder stage, which needs only the teacher's data and VAE (memory).
    Training data: ``recipe.data`` through :func:`attach_data` (latent cache under
    ``data_cache``, default :func:`vdmbench.training_data.default_cache_root`)."""
    from compression.distill import train

    if recipe.train.num_threads is not None:
        torch.set_num_threads(recipe.train.num_threads)
    out_dir = Path(out)
    owns_teacher = teacher is None if release_teacher is None else release_teacher
    source = training_data.check(recipe.data)  # before any model loads
    if teacher is None:
        teacher = teacher_of(recipe.model, weights, device, frames=recipe.data.frames,
                             options=model_options)
    if recipe.loss.lambda_mca > 0:  # a teacher UNet whose encoder MCA cannot read: fail now
        check_mca_teacher(teacher.unet)
    plan = plan or plan_for(recipe.plan, teacher)
    dit = is_transformer(teacher.unet)
    if dit:  # the saved plan names the kept blocks
        plan = with_kept_blocks(plan, teacher.unet)
    if recipe.vae.enabled:  # fail before training, not after it
        teacher_vae(teacher)
    steps_vae = recipe.vae.finetune_steps if vae_finetune_steps is None else vae_finetune_steps
    data_info = attach_data(teacher, recipe.data, data_cache, source=source,
                            frames=recipe.vae.enabled and steps_vae > 0,
                            frame_clips=recipe.vae.frame_clips, progress=progress)
    out_dir.mkdir(parents=True, exist_ok=True)
    main = int(os.environ.get("RANK", "0")) == 0  # accelerate launch / torchrun: one writer
    if main:
        plan.save(out_dir / "plan.json")
        atomic_write_text(out_dir / "recipe.yaml",
                          yaml.safe_dump(recipe.model_dump(mode="json"), sort_keys=False))
    teacher_sha = teacher.sha256  # before training (the teacher is frozen; hashed once)
    student = apply(teacher.unet, plan)
    res = train(teacher, student, recipe, out_dir / "train", resume=resume,
                progress=progress, stop_after=stop_after,
                teacher_taps=dit_tap_map(teacher.unet, plan) if dit else None)
    if res.steps < recipe.train.max_steps or not res.is_main:
        return out_dir  # unfinished, or a process other than the main one (it writes)
    teacher_params = count_params(teacher.unet)
    extra: dict[str, Any] = {"teacher_unet_params": teacher_params,
                             "train_steps": res.steps, "final_losses": res.final_row,
                             "num_processes": res.num_processes,
                             "global_batch": res.segments[-1]["global_batch"],
                             "train_segments": res.segments,
                             "data": {**data_info, "clips_seen": clips_seen(res.segments)}}
    vae = None
    if recipe.vae.enabled:
        if owns_teacher:  # the decoder stage needs the teacher's data and VAE, not its UNet
            teacher.release_denoiser()
        vae, vae_info = compress_vae(recipe, teacher, out_dir, device, vae_finetune_steps)
        extra.update(vae_info)
        extra["classes"] = {"vae": f"{type(vae).__module__}:{type(vae).__qualname__}"}
    save_student(out_dir, student, plan, base_model=teacher.name,
                 base_weights_sha256=teacher_sha, base_weights=teacher.weights,
                 recipe_sha256=recipe.content_hash(), kernel_backend="none", vae=vae,
                 extra=extra)
    return out_dir
