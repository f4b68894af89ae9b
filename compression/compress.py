"""plan → prune → distil → student directory (the library behind ``vdmbench compress``).

Student directory::

    <out>/unet/                 diffusers save_pretrained (config.json + safetensors)
    <out>/compression.json      base model, its weights hash, plan, recipe hash, kernel backend,
                                base_weights (teacher dir, or null = the base model's shipped
                                synthetic teacher: synth-i2v, synth-t2v),
                                unet_loader ("compression.student:load_unet")
    <out>/plan.json, recipe.yaml (as used), train/loss_log.csv, train/loss.png, train/ckpt/
    <out>/vae/                  (sfv with ``vae.enabled``) the pruned, fine-tuned VAE in the
                                format of :mod:`compression.vae_prune`; train/vae_loss_log.csv
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import yaml

from compression.family import Family, SVDFamily
from compression.icmd import check_mca_teacher
from compression.plan import DepthPlan, make_plan
from compression.recipe import PlanSpec, Recipe
from compression.student import apply, load_unet, save_student, state_hash
from compression.units import count_params, list_units, unit_params
from vdmbench.errors import ConfigError, WeightsNotFoundError
from vdmbench.paths import expand_path

MODELS = ("synth-i2v", "synth-t2v", "sfv", "random-svd")


@dataclass
class Teacher:
    """A loaded teacher: its family, name, weights path (None = shipped) and weights hash."""

    family: Family
    name: str
    weights: str | None
    sha256: str


def random_svd_unet(seed: int = 0) -> Any:
    """A tiny random SVD-architecture UNet (4 levels, layers_per_block 2; for tests/smoke)."""
    from diffusers import UNetSpatioTemporalConditionModel

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return UNetSpatioTemporalConditionModel(
            sample_size=8, in_channels=8, out_channels=4, block_out_channels=(32, 32, 32, 32),
            num_attention_heads=(2, 2, 2, 2), cross_attention_dim=16, layers_per_block=2,
            addition_time_embed_dim=8, projection_class_embeddings_input_dim=24,
            num_frames=4).eval()


def load_teacher(model: str, weights: str | os.PathLike[str] | None, device: str = "cpu",
                 frames: int | None = None) -> Teacher:
    """Load the teacher of ``model`` (see :data:`MODELS`)."""
    if model == "synth-i2v":
        from compression.synth_family import SynthFamily
        from vdmbench.models.synth_i2v import load_pipeline

        pipe, _ = load_pipeline(None if weights is None else str(weights), device=device)
        w = None if weights is None else str(expand_path(weights, "synth-i2v weights").resolve())
        return Teacher(SynthFamily(pipe, device), model, w, state_hash(pipe.unet))
    if model == "synth-t2v":
        from compression.synth_t2v_family import SynthT2VFamily
        from vdmbench.models.synth_t2v import load_pipeline as load_t2v_pipeline

        t2v, _ = load_t2v_pipeline(None if weights is None else str(weights), device=device)
        w = None if weights is None else str(expand_path(weights, "synth-t2v weights").resolve())
        return Teacher(SynthT2VFamily(t2v, device), model, w, state_hash(t2v.unet))
    if model == "sfv":
        if weights is None:
            raise WeightsNotFoundError(
                "sfv: no weights given. Pass --weights DIR, a diffusers SF-V/SVD directory with "
                "unet/ (config.json + diffusion_pytorch_model.safetensors); nothing is downloaded")
        p = expand_path(weights, "sfv weights")
        if not (p / "unet" / "config.json").is_file():
            raise WeightsNotFoundError(f"sfv: unet not found at {p / 'unet'}; put the SF-V UNet "
                                       f"(diffusers save_pretrained) there")
        unet = load_unet(p / "unet").to(device).eval()
        return Teacher(SVDFamily(unet, device, frames=frames or 14, size=16), model,
                       str(p.resolve()), state_hash(unet))
    if model == "random-svd":
        unet = random_svd_unet()
        return Teacher(SVDFamily(unet, device), model, None, state_hash(unet))
    raise ConfigError(f"unknown model '{model}' (known: {', '.join(MODELS)})")


def plan_for(spec: PlanSpec | str, teacher: Teacher, analysis: str | None = None) -> DepthPlan:
    """A plan from a recipe's plan spec, a preset name or a plan JSON path."""
    if isinstance(spec, str):
        spec = PlanSpec(path=spec) if spec.endswith(".json") else PlanSpec(preset=spec)  # type: ignore[arg-type]
    unet = teacher.family.unet
    if spec.path:
        plan = DepthPlan.load(spec.path)
        from compression.plan import check_plan

        check_plan(unet.config, plan)
        return plan
    scores: dict = {}
    if spec.preset == "auto":
        from compression.analysis import load_scores

        src = analysis or spec.analysis
        if src is None:
            raise ConfigError("plan preset 'auto' needs an analysis (--analysis FILE)")
        scores = load_scores(src)
    up = {u.name: unit_params(unet, u) for u in list_units(unet.config)}
    return make_plan(spec.preset, unet.config, base=teacher.name, scores=scores,
                     unit_params=up, total_params=count_params(unet),
                     target_speedup=spec.target_speedup, param_budget=spec.param_budget)


def load_teacher_vae(weights: str | os.PathLike[str]) -> Any:
    """The teacher's ``AutoencoderKLTemporalDecoder`` from ``<weights>/vae`` (float32, eval)."""
    from diffusers import AutoencoderKLTemporalDecoder

    p = expand_path(weights, "sfv weights") / "vae"
    if not (p / "config.json").is_file() or not (
            p / "diffusion_pytorch_model.safetensors").is_file():
        raise WeightsNotFoundError(
            f"vae pruning: teacher VAE not found at {p}; put the SF-V/SVD "
            f"AutoencoderKLTemporalDecoder there (save_pretrained: config.json + "
            f"diffusion_pytorch_model.safetensors) or set vae.enabled: false in the recipe")
    try:
        vae = AutoencoderKLTemporalDecoder.from_pretrained(
            str(p), local_files_only=True, use_safetensors=True, torch_dtype=torch.float32)
    except (OSError, ValueError) as e:
        raise WeightsNotFoundError(f"vae pruning: cannot load the teacher VAE from {p}: {e}"
                                   ) from None
    return vae.eval()


def compress_vae(recipe: Recipe, teacher: Teacher, out_dir: Path, device: str = "cpu"
                 ) -> tuple[Any, dict[str, Any]]:
    """Prune and fine-tune the teacher's VAE decoder (recipe ``vae:``); returns the pruned VAE
    and the facts recorded in ``compression.json``. Latents for the decoder distillation are the
    family's training clips ``x0`` (B, F, C, h, w) divided by the VAE's scaling factor."""
    import csv

    from compression.vae_prune import decoder_params, finetune_decoder, prune_decoder

    spec = recipe.vae
    if teacher.weights is None:
        raise ConfigError(f"vae pruning: model '{teacher.name}' has no VAE weights")
    vae_t = load_teacher_vae(teacher.weights).to(device)
    n_up = len(vae_t.decoder.up_blocks)
    fam = teacher.family
    scale = float(vae_t.config.scaling_factor)

    def clips(start: int) -> Any:
        step = start
        while True:
            x0 = fam.batch(spec.batch_size, seed=recipe.train.seed * 1_000_003 + step)["x0"]
            step += 1
            yield (x0.reshape(-1, *x0.shape[2:]) / scale).float()

    frames = int(fam.batch(1, seed=0)["x0"].shape[1])
    example = next(clips(10**6))
    vae_s = prune_decoder(vae_t, drop_mid_block=spec.drop_mid_block,
                          up_block_layers={n_up - 1: spec.last_up_block_layers},
                          channel_ratio=spec.channel_ratio, example_latents=example.cpu(),
                          num_frames=frames).to(device)
    perceptual = None
    if spec.perceptual > 0 and spec.perceptual_weights:
        from compression.vae_prune import load_lpips_vgg

        perceptual = load_lpips_vgg(spec.perceptual_weights).to(device)
    res = finetune_decoder(vae_t, vae_s, clips(0), steps=spec.finetune_steps, lr=spec.lr,
                           adv_weight=spec.adversarial, perceptual=perceptual,
                           perceptual_weight=spec.perceptual, num_frames=frames,
                           disc_lr=spec.disc_lr, seed=recipe.train.seed)
    (out_dir / "train").mkdir(parents=True, exist_ok=True)
    cols = ["step", "loss", "rec", "adv_g", "adv_d", "perceptual"]
    with open(out_dir / "train" / "vae_loss_log.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols)
        w.writeheader()
        for row in res.log:
            w.writerow({k: row.get(k, "") for k in cols})
    info = {"vae_teacher_decoder_params": decoder_params(vae_t),
            "vae_decoder_params": decoder_params(vae_s),
            "vae_finetune_steps": res.steps,
            "vae_final_losses": res.log[-1] if res.log else None}
    return vae_s, info


def compress(recipe: Recipe, out: str | os.PathLike[str], *, weights: str | None = None,
             plan: DepthPlan | None = None, device: str = "cpu", resume: bool = True,
             progress: bool = True, stop_after: int | None = None) -> Path:
    """Run plan → prune → distil and write the student directory; returns its path."""
    from compression.distill import train

    if recipe.train.num_threads is not None:
        torch.set_num_threads(recipe.train.num_threads)
    out_dir = Path(out)
    teacher = load_teacher(recipe.model, weights, device, frames=recipe.data.frames)
    if recipe.loss.lambda_mca > 0:  # a teacher UNet whose encoder MCA cannot read: fail now
        check_mca_teacher(teacher.family.unet)
    plan = plan or plan_for(recipe.plan, teacher)
    if recipe.vae.enabled and recipe.model == "sfv":  # fail before training, not after it
        load_teacher_vae(weights)  # type: ignore[arg-type]  (sfv has weights: load_teacher)
    out_dir.mkdir(parents=True, exist_ok=True)
    plan.save(out_dir / "plan.json")
    (out_dir / "recipe.yaml").write_text(yaml.safe_dump(recipe.model_dump(mode="json"),
                                                        sort_keys=False))
    student = apply(teacher.family.unet, plan)
    res = train(teacher.family, student, recipe, out_dir / "train", resume=resume,
                progress=progress, stop_after=stop_after)
    if res.steps < recipe.train.max_steps:
        return out_dir
    extra: dict[str, Any] = {"unet_loader": "compression.student:load_unet",
                             "teacher_unet_params": count_params(teacher.family.unet),
                             "train_steps": res.steps, "final_losses": res.final_row}
    vae = None
    if recipe.vae.enabled:
        vae, vae_info = compress_vae(recipe, teacher, out_dir, device)
        extra.update(vae_info)
    if vae is not None:  # save_student names the UNet class; adapters read classes.vae too
        extra["classes"] = {"vae": f"compression.vae_prune:{type(vae).__name__}"}
    save_student(out_dir, student, plan, base_model=teacher.name,
                 base_weights_sha256=teacher.sha256, base_weights=teacher.weights,
                 recipe_sha256=recipe.content_hash(), kernel_backend="none", vae=vae,
                 extra=extra)
    return out_dir
