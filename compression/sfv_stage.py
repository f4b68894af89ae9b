"""The SF-V stage (``vdmbench compress --method sfv``): one-step adversarial fine-tuning of an
SVD-convention teacher (Zhang et al., "SF-V: Single Forward Video Generation Model", 2024).

- **Generator**: a float32 copy of the teacher UNet, trained to return the clean clip in one
  forward pass: ``x̂0 = D_G(x0 + σ_t·n; σ_t)`` with the family's own preconditioning
  (``DenoiserSpec.denoise``: SVD's v-prediction / EDM scalings), σ_t = exp(N(``sigma_mean``,
  ``sigma_std``)) clamped to ``sigma_max`` (default the teacher's σ_max, the level its one-step
  sampler starts from: 700 for SVD/SF-V), so a share of every batch is trained exactly where the
  ``sfv`` adapter samples.
- **Discriminator**: the frozen teacher's encoder (embedding, ``conv_in``, down blocks:
  :func:`compression.icmd.encoder_features`) as backbone, a spatial and a temporal head after
  each down block (:class:`compression.icmd.MCADiscriminator`, the same module ICMD's MCA term
  uses); only the heads train. Real = ``x0 + σ'·n'``, fake = ``x̂0 + σ'·n'`` (the same σ', n'),
  σ' = exp(N(``disc_sigma_mean``, ``disc_sigma_std``)), both with the clip's own conditioning.
- **Losses**: ``L_G = λ_recon·L_recon(x̂0, x0) + λ_adv·(−mean D(fake))`` and the heads' hinge loss
  ``mean relu(1 − D(real)) + mean relu(1 + D(fake))`` per head; ``L_recon`` per clip is the
  pseudo-Huber ``√(mean (x̂0 − x0)² + c²) − c`` (``recon: pseudo-huber``) or the mean squared
  error (``l2``).
- **Loop**: :func:`compression.distill.run_loop`, the VDMini trainer's (accelerate/DDP,
  micro-batch seeds from (step, index in the global batch), EMA, checkpoints, resume, loss log
  and plot): a resumed or multi-process run reproduces a single uninterrupted one.

Output: a student directory (``unet/`` + ``compression.json`` with ``method: sfv``, the teacher,
its weights and hash, the data) whose ``base_weights`` is the teacher's folder, so the one-step
adapter (``sfv`` for an SVD teacher) loads it as it is and ``vdmbench compress --model sfv
--weights DIR`` compresses it further. A teacher whose own adapter samples the student (the
latent synthetic model ``synth-latent-i2v``) also gets a ``sampler.json`` with ``steps: 1``
from σ_max (its ``write_one_step_sampler``), so the student loads as a one-step model.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
from pathlib import Path
from typing import Any, ClassVar, Literal

import torch
import yaml
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from compression.recipe import RECIPE_DIR, DataSpec, TrainSpec, load_recipe
from vdmbench.acceleration import Compressor
from vdmbench.diffusion.denoiser import DenoiserSpec, state_hash
from vdmbench.errors import ConfigError, UnsupportedError
from vdmbench.paths import link_path
from vdmbench.records import atomic_write_text

METHOD = "sfv"
STUDENT_FORMAT = "vdmbench-student-1"
#: the adapter that samples the one-step student of a teacher adapter in one forward pass
#: (others: the teacher's own adapter with ``steps: 1``)
ONE_STEP_ADAPTER = {"svd": "sfv", "sfv": "sfv"}
#: what an SVD-convention batch holds besides ``x0`` (the I2V conditioning)
CONDITIONING = ("cond", "context", "added_time_ids")
LOG_PARTS = ["loss", "recon", "mse", "adv_g", "adv_d", "adv_gap", "sigma"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SFVLossSpec(_Strict):
    """The SF-V objective (see the module docstring and docs/compression.md, "SF-V")."""

    recon: Literal["pseudo-huber", "l2"] = Field("pseudo-huber", description="reconstruction "
                                                 "distance between x̂0 and x0")
    huber_c: float = Field(0.00054, gt=0, description="pseudo-Huber c on the per-element RMS "
                           "(iCT's 0.00054·√d on the whole clip, divided by √d)")
    lambda_recon: float = Field(1.0, ge=0)
    lambda_adv: float = Field(1.0, ge=0)
    sigma_mean: float = Field(5.0, description="mean of ln σ_t (generator input noise)")
    sigma_std: float = Field(1.5, gt=0)
    sigma_max: float | None = Field(None, gt=0, description="σ_t is clamped to it; null = the "
                                    "teacher's σ_max (the one-step sampler's level)")
    disc_sigma_mean: float = Field(0.0, description="mean of ln σ' (re-noising before the "
                                   "discriminator)")
    disc_sigma_std: float = Field(1.0, gt=0)
    disc_hidden: int = Field(32, gt=0, description="discriminator head width")
    adv_start_step: int = Field(0, ge=0, description="steps of reconstruction only before the "
                                "adversarial terms start")


class SFVRecipe(_Strict):
    """A recipe of the SF-V stage: ``loss`` (:class:`SFVLossSpec`), ``train`` and ``data`` as
    in the VDMini recipe (:class:`compression.recipe.TrainSpec`, :class:`DataSpec`)."""

    schema_version: Literal[1] = 1
    model: str = Field(description="registered model adapter whose (SVD-convention) teacher "
                                   "is fine-tuned")
    description: str = ""
    loss: SFVLossSpec = Field(default_factory=SFVLossSpec)
    train: TrainSpec = Field(default_factory=TrainSpec)
    data: DataSpec = Field(default_factory=DataSpec)

    def content_hash(self) -> str:
        blob = json.dumps(self.model_dump(mode="json"), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()


def recipe_path(model: str) -> Path:
    """The shipped SF-V recipe of ``model``: ``compression/recipes/<model>-to-sfv.yaml``."""
    return RECIPE_DIR / f"{model}-to-sfv.yaml"


def _fail(teacher: DenoiserSpec | str, reason: str, cls: type[Exception] = ConfigError,
          **kw: Any) -> Exception:
    name = teacher if isinstance(teacher, str) else teacher.name
    return cls(f"model '{name}', method '{METHOD}': {reason}", **kw)


def check_teacher(teacher: DenoiserSpec) -> None:
    """Refuse a teacher without the SVD convention: its UNet must be a diffusers
    ``UNetSpatioTemporalConditionModel`` (the discriminator reads its encoder) taking the
    noisy clip and the conditioning frame's latent along channels."""
    from diffusers import UNetSpatioTemporalConditionModel

    unet = teacher.unet
    if not isinstance(unet, UNetSpatioTemporalConditionModel):
        raise _fail(teacher, f"SF-V fine-tunes an SVD-convention teacher (a "
                             f"UNetSpatioTemporalConditionModel conditioned on a first frame); "
                             f"this one is a {type(unet).__name__}", UnsupportedError)
    cfg = unet.config
    if int(cfg.in_channels) != 2 * int(cfg.out_channels):
        raise _fail(teacher, f"SF-V needs the SVD convention (UNet input = noisy latent ‖ "
                             f"conditioning-frame latent: in_channels = 2·out_channels); "
                             f"this UNet has in_channels {cfg.in_channels}, out_channels "
                             f"{cfg.out_channels}", UnsupportedError)


def check_dataset(teacher: DenoiserSpec, recipe: SFVRecipe) -> None:
    """Refuse, before anything is encoded, the ``noise`` dataset for a model that is not a
    test model: Gaussian latents with a random image embedding carry no conditioning and
    nothing of a video to learn."""
    if recipe.data.name == "noise" and not teacher.noise_by_default:
        raise _fail(teacher, "dataset 'noise' carries no conditioning (Gaussian latents, a "
                             "random image embedding): SF-V learns the videos themselves; name "
                             "a video dataset (--dataset videofolder, ucf101)", field="data.name")


def check_data(teacher: DenoiserSpec, recipe: SFVRecipe) -> None:
    """Refuse training data without the conditioning the teacher needs, before training
    (:func:`check_dataset`, then one attached batch): batches lacking the conditioning frame,
    the image embedding or ``added_time_ids``, or whose shapes the UNet cannot take."""
    data = recipe.data
    check_dataset(teacher, recipe)
    batch = teacher.batch(1, seed=0, split=data.split)
    missing = [k for k in ("x0", *CONDITIONING) if k not in batch]
    if missing:
        raise _fail(teacher, f"dataset '{data.name or teacher.clip_dataset or 'default'}' gives "
                             f"no {', '.join(missing)}: the teacher is conditioned on the first "
                             f"frame (its latent, its image embedding, added_time_ids)",
                    field="data.name")
    cfg = teacher.unet.config
    x0, cond = batch["x0"], batch["cond"]
    ctx, ids = batch["context"], batch["added_time_ids"]
    ctx_dim = cfg.cross_attention_dim if isinstance(cfg.cross_attention_dim, int) \
        else cfg.cross_attention_dim[0]
    problems = []
    if x0.ndim != 5 or x0.shape[2] != cfg.out_channels:
        problems.append(f"x0 {tuple(x0.shape)} is not (B, F, {cfg.out_channels}, h, w)")
    if cond.ndim != 4 or cond.shape[1] != cfg.in_channels - cfg.out_channels:
        problems.append(f"cond {tuple(cond.shape)} is not (B, "
                        f"{cfg.in_channels - cfg.out_channels}, h, w)")
    if ctx.shape[-1] != ctx_dim:
        problems.append(f"context {tuple(ctx.shape)} does not end in the UNet's "
                        f"cross_attention_dim {ctx_dim}")
    if ids.ndim != 2 or ids.shape[1] != 3:
        problems.append(f"added_time_ids {tuple(ids.shape)} is not (B, 3)")
    if problems:
        raise _fail(teacher, "the training batches do not fit the teacher: "
                             + "; ".join(problems), field="data")


def recon_loss(x_hat: torch.Tensor, x0: torch.Tensor, kind: str, c: float) -> torch.Tensor:
    """Mean over clips of the per-clip distance: pseudo-Huber ``√(mean (x̂0 − x0)² + c²) − c``
    (mean over F·C·H·W) or the mean squared error; float32."""
    sq = ((x_hat.float() - x0.float()) ** 2).flatten(1).mean(dim=1)
    if kind == "l2":
        return sq.mean()
    return ((sq + c * c).sqrt() - c).mean()


def sample_sigmas(n: int, g: torch.Generator, mean: float, std: float, hi: float
                  ) -> torch.Tensor:
    """σ = exp(N(mean, std)) clamped to ``hi``: (n,)."""
    return (mean + std * torch.randn(n, generator=g)).exp().clamp(max=hi)


def generate(family: DenoiserSpec, generator: nn.Module, x_t: torch.Tensor,
             sigma: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """The generator's one-step estimate ``x̂0 = D_G(x_t; σ)`` (the family's preconditioning)."""
    return family.denoise(generator, x_t, sigma, batch)


def train_sfv(family: DenoiserSpec, generator: nn.Module, recipe: SFVRecipe,
              out_dir: str | os.PathLike[str], *, resume: bool = True,
              stop_after: int | None = None, progress: bool = True,
              on_step: Any = None) -> Any:
    """Train ``generator`` (initialised from ``family.unet``) in place against the frozen
    ``family.unet`` encoder's heads; :func:`compression.distill.run_loop` with the SF-V
    micro-batch. Returns its :class:`~compression.distill.TrainResult`."""
    from compression.distill import Loop, run_loop

    ls, tr = recipe.loss, recipe.train
    hi = float(ls.sigma_max if ls.sigma_max is not None else family.sigma_max)
    split = recipe.data.split

    def micro(loop: Loop, step: int, s: int) -> dict[str, float]:
        g = torch.Generator().manual_seed(s)
        batch = family.batch(tr.batch_size, s, split=split)
        x0 = batch["x0"]
        b, f = x0.shape[:2]
        sigma = sample_sigmas(b, g, ls.sigma_mean, ls.sigma_std, hi).to(x0)
        noise = torch.randn(x0.shape, generator=g).to(x0)
        x_t = x0 + sigma.reshape(-1, 1, 1, 1, 1) * noise
        adv = step >= ls.adv_start_step
        out: dict[str, float] = {}
        with loop.acc.autocast():
            x_hat = generate(family, loop.student, x_t, sigma, batch)
            recon = recon_loss(x_hat, x0, ls.recon, ls.huber_c)
            loss = ls.lambda_recon * recon
            adv_g = torch.zeros(())
            if adv:
                sig2 = sample_sigmas(b, g, ls.disc_sigma_mean, ls.disc_sigma_std,
                                     float("inf")).to(x0)
                n2 = torch.randn(x0.shape, generator=g).to(x0)
                enc = loop.encoder(batch, sig2, n2)
                fake_feats = enc(x_hat)
                adv_g = loop.generator_adv(fake_feats, f)
                loss = loss + ls.lambda_adv * adv_g
        loop.backward(loss)
        if adv:
            with loop.acc.autocast(), torch.no_grad():
                real_feats = enc(x0)
            out["adv_d"], out["adv_gap"] = loop.discriminator_step(real_feats, fake_feats, f)
        out.update(loss=float(loss.detach()), recon=float(recon.detach()),
                   mse=float(((x_hat.detach().float() - x0.float()) ** 2).mean()),
                   adv_g=float(adv_g.detach()), sigma=float(sigma.float().mean()))
        return out

    def plot(log: Path, png: Path) -> Path:
        from compression.distill import plot_log

        return plot_log(log, png, left=("loss", "recon", "mse"), right=("adv_g", "adv_d"),
                        gap="adv_gap", title="SF-V discriminator (hinge)")

    return run_loop(family, generator, tr, out_dir, micro, parts=LOG_PARTS,
                    heads_hidden=ls.disc_hidden, adv_from=ls.adv_start_step, resume=resume,
                    stop_after=stop_after, progress=progress, on_step=on_step, plot=plot,
                    description="SF-V")


def backbone_only(unet: nn.Module) -> None:
    """Drop the parts of a frozen ``UNetSpatioTemporalConditionModel`` the discriminator
    backbone never runs (mid block, up blocks, output norm and conv: about 68% of SVD's
    parameters), in place."""
    unet.mid_block = None
    unet.up_blocks = nn.ModuleList()
    unet.conv_norm_out = None
    unet.conv_out = None


def save_sfv_student(out_dir: Path, generator: nn.Module, teacher: DenoiserSpec,
                     teacher_sha: str, recipe: SFVRecipe, extra: dict[str, Any]) -> Path:
    """``out_dir/unet`` (``save_pretrained``, safetensors) and ``out_dir/compression.json``
    (written last, atomically)."""
    generator.save_pretrained(str(out_dir / "unet"), safe_serialization=True)
    one_step = ONE_STEP_ADAPTER.get(teacher.name, teacher.name)
    hi = recipe.loss.sigma_max if recipe.loss.sigma_max is not None else teacher.sigma_max
    writer = getattr(teacher, "write_one_step_sampler", None)
    if one_step == teacher.name and writer is not None:  # its own adapter samples it: 1 step
        writer(out_dir, float(hi))
    record = {
        "format": STUDENT_FORMAT,
        "method": METHOD,
        "base_model": teacher.name,
        "base_weights": link_path(teacher.weights, out_dir),
        "base_weights_sha256": teacher_sha,
        "teacher": {"model": teacher.name, "weights": teacher.weights,
                    "unet_sha256": teacher_sha},
        "sampler": {"adapter": one_step, "steps": 1, "sigma": float(hi)},
        "classes": {"unet": f"{type(generator).__module__}:{type(generator).__qualname__}"},
        "unet_class": type(generator).__name__,
        "unet_params": sum(p.numel() for p in generator.parameters()),
        "unet_sha256": state_hash(generator),
        "recipe_sha256": recipe.content_hash(),
        "kernel_backend": "none",
        "vae": False,
        **extra,
    }
    atomic_write_text(out_dir / "compression.json",
                      json.dumps(record, indent=2, sort_keys=True) + "\n")
    return out_dir


class SFVCompressor(Compressor):
    """``sfv``: SF-V's one-step adversarial fine-tuning (see the module docstring)."""

    name: ClassVar[str] = METHOD
    Recipe: ClassVar[type[BaseModel]] = SFVRecipe

    def default_recipe(self, model: str) -> SFVRecipe:
        p = recipe_path(model)
        if not p.is_file():
            shipped = sorted(q.name[:-len("-to-sfv.yaml")]
                             for q in RECIPE_DIR.glob("*-to-sfv.yaml"))
            raise ConfigError(f"model '{model}', method '{METHOD}': no shipped recipe (shipped "
                              f"for: {', '.join(shipped)}); give --recipe FILE", file=str(p))
        return self.load_recipe(p)

    def load_recipe(self, path: str | Path) -> SFVRecipe:
        return load_recipe(path, SFVRecipe)

    def fit(self, teacher: DenoiserSpec, recipe: BaseModel, out: str | Path, *,
            plan: Any = None, resume: bool = True, progress: bool = True,
            stop_after: int | None = None, vae_finetune_steps: int | None = None,
            release_teacher: bool = False, data_cache: str | Path | None = None,
            **kwargs: Any) -> Path:
        """Fine-tune ``teacher`` into a one-step generator and write the student directory
        ``out``. ``release_teacher``: keep only the frozen encoder of the teacher UNet during
        training (the rest is never run; the CLI sets it)."""
        from compression.compress import attach_data, clips_seen
        from vdmbench import training_data

        if not isinstance(recipe, SFVRecipe):
            raise TypeError(f"sfv needs an SFVRecipe, got {type(recipe)}")
        if plan is not None:
            raise _fail(teacher, "--plan/--analysis select a VDMini depth plan; the SF-V stage "
                                 "keeps the teacher's architecture", field="plan")
        if vae_finetune_steps is not None:
            raise _fail(teacher, "--vae-steps belongs to method 'vdmini' (VAE decoder "
                                 "pruning)", field="vae.finetune_steps")
        if kwargs:
            raise TypeError(f"unexpected arguments {sorted(kwargs)}")
        check_teacher(teacher)
        cast = getattr(teacher.unet, "_frozen_in_dtype", None)
        if cast is not None:  # its weights were rounded by an earlier training in this process
            raise _fail(teacher, f"the teacher UNet was cast to {cast} by an earlier training "
                                 f"in this process; load the teacher again")
        if recipe.train.num_threads is not None:
            torch.set_num_threads(recipe.train.num_threads)
        source = training_data.check(recipe.data)
        check_dataset(teacher, recipe)
        data_info = attach_data(teacher, recipe.data, data_cache, source=source,
                                progress=progress)
        check_data(teacher, recipe)
        out_dir = Path(out)
        out_dir.mkdir(parents=True, exist_ok=True)
        if int(os.environ.get("RANK", "0")) == 0:
            atomic_write_text(out_dir / "recipe.yaml",
                              yaml.safe_dump(recipe.model_dump(mode="json"), sort_keys=False))
        teacher_sha = teacher.sha256
        generator = copy.deepcopy(teacher.unet).float()
        if release_teacher:
            backbone_only(teacher.unet)
        res = train_sfv(teacher, generator, recipe, out_dir / "train", resume=resume,
                        progress=progress, stop_after=stop_after)
        if res.steps < recipe.train.max_steps or not res.is_main:
            return out_dir
        return save_sfv_student(out_dir, generator.float().cpu(), teacher, teacher_sha, recipe,
                                {"train_steps": res.steps, "final_losses": res.final_row,
                                 "num_processes": res.num_processes,
                                 "global_batch": res.segments[-1]["global_batch"],
                                 "train_segments": res.segments,
                                 "data": {**data_info, "clips_seen": clips_seen(res.segments)}})
