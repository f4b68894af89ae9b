"""ICMD distillation trainer (accelerate: CPU, one GPU, or ``accelerate launch`` multi-GPU).

One optimizer step (with ``grad_accum`` micro-batches):

1. a batch from ``family.batch(bs, seed=f(seed, step, j))`` with ``j = micro · N + rank`` the
   micro-batch's index in the global batch of ``bs · N · grad_accum`` clips (N processes): data
   and noise are pure functions of the step and of ``j``, so a resumed run sees exactly the
   batches it would have seen, and N processes with ``grad_accum`` a see the same global batch as
   one process with ``grad_accum`` N·a;
2. σ ~ log-normal(P_mean, P_std), ``x_t = x0 + σ·n``; teacher ``D_t`` and student ``D_s`` with
   feature taps;
3. ``L_task = denoise·λ(σ)‖D_s − x0‖² + output·λ(σ)‖D_s − D_t‖²`` (EDM weight λ(σ));
   ``L_ICD`` on the taps; ``L_MCA = −D(enc(D_s + σ'n'))`` with σ' ~ log-normal(mca_sigma_*);
4. the student steps on ``L = L_task + λ_ICD·L_ICD + λ_MCA·L_MCA``; the discriminator heads step on
   the hinge loss with ``enc(D_t + σ'n')`` real and ``enc(D_s + σ'n')`` fake.

Every ``checkpoint_every`` steps ``ckpt/step-XXXXXX/`` is written atomically (student, EMA,
heads: safetensors; optimizers: ``torch.save`` of tensors only, read back with
``weights_only=True``); ``train(..., resume=True)`` continues from the newest one and truncates
``loss_log.csv`` to it, so an interrupted run ends with the same weights and log as an
uninterrupted one (on CPU).

Under ``accelerate launch --num_processes N`` (or torchrun) the student is wrapped in DDP, whose
all-reduce averages the gradients over the processes; the discriminator heads (used in several
forwards per micro-batch, which DDP does not allow) are averaged by an explicit all-reduce; the
logged losses are means over every process's micro-batches. Checkpoints hold no per-process
state, so a run resumes under any process count (``train_state.json`` lists the segments).
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from compression.icmd import (
    FeatureTaps,
    MCADiscriminator,
    check_mca_teacher,
    default_taps,
    hinge_d_loss,
    hinge_g_loss,
    icd_loss,
    mca_channels,
    mca_features,
)
from compression.recipe import Recipe, TrainSpec
from vdmbench.diffusion.denoiser import DenoiserSpec
from vdmbench.errors import ConfigError
from vdmbench.generation import DTYPES
from vdmbench.models.pruned_dit import is_transformer
from vdmbench.records import atomic_save_figure, atomic_write_text

LOG_FIELDS = ["step", "loss", "task", "denoise", "output", "icd", "mca_g", "mca_d", "mca_gap",
              "lr", "seconds"]


def disc_optimizer(heads: nn.Module, lr: float) -> torch.optim.Optimizer:
    """The MCA heads' optimizer: AdamW, betas (0, 0.99) (no momentum, as usual for GAN
    discriminators), no weight decay."""
    return torch.optim.AdamW(heads.parameters(), lr=lr, betas=(0.0, 0.99), weight_decay=0.0)


def logit_gap(real: list[torch.Tensor], fake: list[torch.Tensor]) -> float:
    """Mean over heads of ``mean D(real) − mean D(fake)``: > 0 when the heads separate teacher
    from student samples, ≈ 0 at chance. (Inside the hinge margin the D loss is
    ``Σ_heads 2 − mean D(real) + mean D(fake)``, so a D loss of 2 per head means gap ≈ 0,
    not that the heads output 0.)"""
    return float(sum(float(r.detach().float().mean() - f.detach().float().mean())
                     for r, f in zip(real, fake)) / max(len(real), 1))


class EMA:
    """Exponential moving average of a module's float parameters (float32 shadow copies on
    ``device``, default: beside each parameter; ``"cpu"`` keeps them off the accelerator)."""

    def __init__(self, model: nn.Module, decay: float, device: str | None = None) -> None:
        self.decay = decay
        self.device = device
        self.shadow = {k: v.detach().to(device or v.device, torch.float32, copy=True)
                       for k, v in model.state_dict().items() if v.dtype.is_floating_point}

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        for k, v in model.state_dict().items():
            if k in self.shadow:
                sh = self.shadow[k]
                sh.mul_(self.decay).add_(v.detach().to(sh.device, torch.float32),
                                         alpha=1 - self.decay)

    def copy_to(self, model: nn.Module) -> None:
        state = model.state_dict()
        model.load_state_dict({k: (self.shadow[k].to(v.device, v.dtype) if k in self.shadow
                                   else v) for k, v in state.items()})


#: UNet inputs left in float32 when the teacher runs in low precision (diffusers computes the
#: time embeddings from them in float32 and casts the result itself)
_KEEP_FLOAT32 = frozenset({"timestep", "timesteps", "added_time_ids", "sigma"})


def _cast(x: Any, dtype: torch.dtype) -> Any:
    if torch.is_tensor(x) and x.is_floating_point():
        return x.to(dtype)
    if isinstance(x, (tuple, list)):
        return type(x)(_cast(v, dtype) for v in x)
    return x


def frozen_in_dtype(teacher: nn.Module, dtype: torch.dtype) -> list[Any]:
    """Cast the frozen ``teacher`` to ``dtype`` in place and hook its forward so callers need
    not care: floating inputs are cast to ``dtype`` (except :data:`_KEEP_FLOAT32` keywords),
    floating outputs back to float32. The teacher stays so (casting back would not restore the
    dropped bits). Returns the hook handles; none for float32 or a teacher already cast."""
    if dtype == torch.float32 or getattr(teacher, "_frozen_in_dtype", None) == dtype:
        return []
    if getattr(teacher, "_frozen_in_dtype", None) is not None:
        raise ConfigError(f"the teacher was already cast to {teacher._frozen_in_dtype}; "
                          f"train.teacher_dtype cannot change it to {dtype}",
                          field="train.teacher_dtype")
    teacher.to(dtype)
    teacher._frozen_in_dtype = dtype  # type: ignore[assignment]

    def pre(_m: nn.Module, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
        return (_cast(args, dtype),
                {k: (v if k in _KEEP_FLOAT32 else _cast(v, dtype)) for k, v in kwargs.items()})

    def post(_m: nn.Module, _args: tuple, _kwargs: dict, out: Any) -> Any:
        return _cast(out, torch.float32)

    return [teacher.register_forward_pre_hook(pre, with_kwargs=True),
            teacher.register_forward_hook(post, with_kwargs=True)]


def _return_freed_cpu_memory() -> None:
    """Hand the heap memory freed by training (gradients, optimizer state, activations) back to
    the operating system (glibc keeps freed blocks under its mmap threshold for reuse, so the
    process would keep their size resident through what follows, e.g. VAE pruning). A no-op
    where the C library has no ``malloc_trim``."""
    import ctypes
    import ctypes.util
    import gc

    gc.collect()
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        if libc is not None and hasattr(libc, "malloc_trim"):
            libc.malloc_trim(0)
    except OSError:
        pass


def student_optimizer(params: Any, recipe: Recipe | TrainSpec, device: torch.device
                      ) -> tuple[torch.optim.Optimizer, str]:
    """The student's optimizer and its name (``train.optimizer``):

    - ``adamw``: ``torch.optim.AdamW`` (two float32 moments: 8 bytes per parameter);
    - ``adamw8bit``: bitsandbytes' ``AdamW8bit`` (two 8-bit moments: ~2 bytes per parameter);
    - ``adafactor``: ``torch.optim.Adafactor`` (factored second moment, no first moment: a row
      and a column vector per matrix), lr ``train.adafactor_lr`` (relative to each parameter's
      RMS) or ``train.lr``;
    - ``small-state``: ``adamw8bit`` where bitsandbytes is importable and ``device`` is CUDA,
      else ``adafactor``.

    ``recipe``: a recipe (its ``train``) or the ``train`` section itself.
    """
    tr = recipe if isinstance(recipe, TrainSpec) else recipe.train
    kind = tr.optimizer
    if kind == "small-state":
        kind = "adamw8bit" if device.type == "cuda" and _bitsandbytes() is not None \
            else "adafactor"
    if kind == "adamw":
        return torch.optim.AdamW(params, lr=tr.lr, weight_decay=tr.weight_decay), kind
    if kind == "adafactor":
        if not hasattr(torch.optim, "Adafactor"):
            raise ConfigError(f"train.optimizer {tr.optimizer!r}: torch {torch.__version__} has "
                              f"no torch.optim.Adafactor (torch >= 2.5 has)",
                              field="train.optimizer")
        return torch.optim.Adafactor(params, lr=tr.adafactor_lr or tr.lr,
                                     weight_decay=tr.weight_decay), kind
    bnb = _bitsandbytes()
    if bnb is None:
        raise ConfigError("train.optimizer 'adamw8bit' needs bitsandbytes (pip install "
                          "bitsandbytes), or use 'small-state'", field="train.optimizer")
    return bnb.optim.AdamW8bit(params, lr=tr.lr, weight_decay=tr.weight_decay), kind


def _bitsandbytes() -> Any:
    try:
        import bitsandbytes  # type: ignore[import-not-found]
    except Exception:  # not installed, or no library for this machine
        return None
    return bitsandbytes


@dataclass
class TrainResult:
    steps: int
    log_path: Path
    plot_path: Path | None
    final_row: dict[str, float]
    #: processes of this call, whether this is the main one, and the batch of every segment
    #: of the training so far (main process only; see :func:`_segments`)
    num_processes: int = 1
    is_main: bool = True
    segments: list[dict[str, int]] = field(default_factory=list)


def _step_seed(seed: int, step: int, index: int) -> int:
    """Seed of micro-batch ``index`` (its place in the step's global batch) of ``step``."""
    return ((seed * 1_000_003 + step) * 101 + index) * 17


def _mean_grads(module: nn.Module, world: int) -> None:
    """Average ``module``'s gradients over the ``world`` processes (sum all-reduce, then ÷)."""
    import torch.distributed as dist

    for p in module.parameters():
        if p.grad is not None:
            dist.all_reduce(p.grad)
            p.grad /= world


def _segments(state_path: Path, start: int, world: int, tr: Any) -> list[dict[str, int]]:
    """The training's segments so far (those of ``train_state.json`` that end at or before
    ``start``) plus this call's: steps, processes, per-process batch, gradient accumulation,
    global batch (clips per optimizer step)."""
    old: list[dict[str, int]] = []
    if start and state_path.is_file():
        old = [s for s in json.loads(state_path.read_text()).get("segments", [])
               if s.get("to_step", 0) <= start]
        if old:
            old[-1]["to_step"] = min(old[-1]["to_step"], start)
    return [*old, {"from_step": start, "to_step": start, "num_processes": world,
                   "per_process_batch": tr.batch_size, "grad_accum": tr.grad_accum,
                   "global_batch": tr.batch_size * world * tr.grad_accum}]


def _checkpoints(ckpt_dir: Path) -> list[Path]:
    return sorted(p for p in ckpt_dir.glob("step-*") if p.is_dir() and (p / "done").is_file())


def _save_ckpt(ckpt_dir: Path, step: int, student: nn.Module, heads: nn.Module,
               opt_s: torch.optim.Optimizer, opt_d: torch.optim.Optimizer, ema: EMA | None,
               keep: int) -> Path:
    final = ckpt_dir / f"step-{step:06d}"
    tmp = ckpt_dir / f".tmp-step-{step:06d}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    save_file({k: v.detach().contiguous().cpu() for k, v in student.state_dict().items()},
              str(tmp / "student.safetensors"))
    save_file({k: v.detach().contiguous().cpu() for k, v in heads.state_dict().items()},
              str(tmp / "heads.safetensors"))
    if ema is not None:
        save_file({k: v.contiguous().cpu() for k, v in ema.shadow.items()},
                  str(tmp / "ema.safetensors"))
    torch.save({"student": opt_s.state_dict(), "heads": opt_d.state_dict()},
               tmp / "optimizers.pt")
    (tmp / "done").write_text(json.dumps({"step": step}))
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    for old in _checkpoints(ckpt_dir)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def _load_ckpt(path: Path, student: nn.Module, heads: nn.Module, opt_s: torch.optim.Optimizer,
               opt_d: torch.optim.Optimizer, ema: EMA | None) -> int:
    student.load_state_dict(load_file(str(path / "student.safetensors")))
    heads.load_state_dict(load_file(str(path / "heads.safetensors")))
    opts = torch.load(path / "optimizers.pt", weights_only=True, map_location="cpu")
    opt_s.load_state_dict(opts["student"])
    opt_d.load_state_dict(opts["heads"])
    if ema is not None and (path / "ema.safetensors").is_file():
        ema.shadow = {k: v.float() for k, v in load_file(str(path / "ema.safetensors")).items()}
    return int(json.loads((path / "done").read_text())["step"])


def _read_log(path: Path, upto: int) -> list[dict[str, str]]:
    if not path.is_file():
        return []
    with path.open(newline="") as f:
        return [r for r in csv.DictReader(f) if int(r["step"]) <= upto]


def _write_log(path: Path, rows: list[dict[str, Any]], fields: list[str] = LOG_FIELDS) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        for r in rows:
            w.writerow({k: r.get(k, "") for k in fields})  # older logs lack mca_gap
    os.replace(tmp, path)


def plot_log(log_path: Path, out: Path, left: tuple[str, ...] = ("loss", "task", "icd"),
             right: tuple[str, ...] = ("mca_g", "mca_d"), gap: str = "mca_gap",
             title: str = "MCA (hinge)") -> Path:
    """Loss curves from ``loss_log.csv``: the ``left`` columns (log scale), the ``right`` hinge
    losses and the heads' real − fake logit ``gap`` (ICMD: task, ICD, MCA; SF-V: its own)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    df = pd.read_csv(log_path)
    fig, ax = plt.subplots(1, 2, figsize=(9, 3.4))
    for col in left:
        ax[0].plot(df["step"], df[col], label=col)
    ax[0].set_yscale("log")
    ax[0].set_xlabel("step")
    ax[0].legend()
    for col in right:
        ax[1].plot(df["step"], df[col], label=col)
    ax[1].set_xlabel("step")
    ax[1].legend(loc="upper left")
    ax[1].set_title(title)
    if gap in df and df[gap].notna().any():
        gap_ax = ax[1].twinx()
        gap_ax.plot(df["step"], df[gap], color="tab:green", alpha=0.7, label=gap)
        gap_ax.axhline(0.0, color="tab:green", lw=0.5, ls=":")
        gap_ax.set_ylabel("mean D(real) − mean D(fake)")
        gap_ax.legend(loc="upper right")
    fig.tight_layout()
    return atomic_save_figure(fig, out, dpi=100)


@dataclass
class Loop:
    """What the shared loop (:func:`run_loop`) hands to a method's micro-batch function: the
    accelerator, the family, its frozen teacher (cast to ``t_dtype``), the prepared student
    (DDP-wrapped under several processes) and the discriminator heads (never wrapped)."""

    acc: Any
    family: DenoiserSpec
    teacher: nn.Module
    t_dtype: torch.dtype
    student: nn.Module
    heads: nn.Module
    grad_accum: int

    def backward(self, loss: torch.Tensor) -> None:
        """Accumulate ``loss``'s gradients as one of ``grad_accum`` micro-batches."""
        self.acc.backward(loss / self.grad_accum)

    def encoder(self, batch: dict[str, torch.Tensor], sigma: torch.Tensor, noise: torch.Tensor
                ) -> Callable[[torch.Tensor], list[torch.Tensor]]:
        """``x ↦`` the frozen teacher encoder's down-block features of ``x + σ'·n'``
        (:func:`compression.icmd.mca_features` on the family's UNet inputs at σ': a UNet's
        down blocks, a transformer's early blocks; float32), the discriminator backbone of MCA
        and SF-V. ``sigma`` (B,), ``noise`` like ``x``."""
        fam, teacher, t_dtype = self.family, self.teacher, self.t_dtype

        def enc(x: torch.Tensor) -> list[torch.Tensor]:
            xn = x + sigma.reshape(-1, *([1] * (x.ndim - 1))) * noise
            kw = fam.encode_inputs(xn, sigma, batch)
            kw = {k: (v if k in _KEEP_FLOAT32 else _cast(v, t_dtype)) for k, v in kw.items()}
            return [f.float() for f in mca_features(teacher, kw)]

        return enc

    def generator_adv(self, fake_feats: list[torch.Tensor], frames: int) -> torch.Tensor:
        """The generator's hinge term ``−mean D(fake)`` (the heads' weights get no gradient)."""
        self.heads.requires_grad_(False)
        try:
            return hinge_g_loss(self.heads(fake_feats, frames))
        finally:
            self.heads.requires_grad_(True)

    def discriminator_step(self, real_feats: list[torch.Tensor], fake_feats: list[torch.Tensor],
                           frames: int) -> tuple[float, float]:
        """Backward of the heads' hinge loss (real vs detached fake features) as one
        micro-batch; returns (D loss, real − fake logit gap)."""
        with self.acc.autocast():
            real_logits = self.heads([x.detach() for x in real_feats], frames)
            fake_logits = self.heads([x.detach() for x in fake_feats], frames)
            d = hinge_d_loss(real_logits, fake_logits)
        self.backward(d)
        return float(d.detach()), logit_gap(real_logits, fake_logits)


#: a method's micro-batch: (loop, step, micro-batch seed) → the logged parts (floats), after
#: its own backward calls (:meth:`Loop.backward`)
MicroStep = Callable[[Loop, int, int], dict[str, float]]


def run_loop(family: DenoiserSpec, student: nn.Module, tr: TrainSpec,
             out_dir: str | os.PathLike[str], micro: MicroStep, *, parts: list[str],
             heads_hidden: int, adv_from: int | None, resume: bool = True,
             stop_after: int | None = None, progress: bool = True,
             on_step: Callable[[int, dict[str, float]], None] | None = None,
             plot: Callable[[Path, Path], Path] | None = None, description: str = "training"
             ) -> TrainResult:
    """The training loop shared by ICMD (:func:`train`) and the SF-V stage: accelerate/DDP,
    the frozen teacher cast to ``tr.teacher_dtype``, MCA-structured discriminator heads
    (:class:`MCADiscriminator`, width ``heads_hidden``, seeded by ``tr.seed``), the student's
    optimizer, gradient accumulation with micro-batch seeds :func:`_step_seed` (step, index in
    the global batch), clipping, EMA, checkpoints and resume, ``loss_log.csv`` (columns
    ``step``, ``parts``, ``lr``, ``seconds``) and ``plot``. ``micro`` computes one micro-batch's
    losses and calls :meth:`Loop.backward`; the heads step from step ``adv_from`` on (None:
    never). ``student`` is trained in place (EMA weights copied in at the end)."""
    from accelerate import Accelerator

    if tr.num_threads is not None:
        torch.set_num_threads(tr.num_threads)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ckpt_dir = out / "ckpt"
    log_path = out / "loss_log.csv"
    fields = ["step", *parts, "lr", "seconds"]

    from accelerate.utils import AutocastKwargs

    # with gradient checkpointing, autocast's cache of low-precision weight copies (half the
    # student's float32 size) is the larger cost: recasting a weight when it is used is cheap
    handlers = [AutocastKwargs(cache_enabled=False)] if tr.gradient_checkpointing else []
    acc = Accelerator(mixed_precision=tr.mixed_precision, gradient_accumulation_steps=1,
                      cpu=not torch.cuda.is_available(), kwargs_handlers=handlers)
    teacher = family.unet
    teacher.requires_grad_(False).eval().to(acc.device)
    t_dtype = DTYPES[tr.teacher_dtype]
    frozen_in_dtype(teacher, t_dtype)
    family.device = str(acc.device)
    channels = mca_channels(teacher)
    torch.manual_seed(tr.seed)
    heads = MCADiscriminator(channels, heads_hidden)
    student.train().requires_grad_(True)
    if tr.gradient_checkpointing:
        if not getattr(student, "_supports_gradient_checkpointing", False):
            raise ConfigError(f"train.gradient_checkpointing: {type(student).__name__} does not "
                              f"support it", field="train.gradient_checkpointing")
        student.enable_gradient_checkpointing()  # type: ignore[operator]
    opt_s, opt_name = student_optimizer(student.parameters(), tr, acc.device)
    opt_d = disc_optimizer(heads, tr.disc_lr)
    ema = EMA(student, tr.ema_decay, "cpu" if tr.ema_device == "cpu" else None) \
        if tr.ema_decay else None

    start = 0
    if resume and _checkpoints(ckpt_dir):
        start = _load_ckpt(_checkpoints(ckpt_dir)[-1], student, heads, opt_s, opt_d, ema)
    rows: list[dict[str, Any]] = _read_log(log_path, start) if start else []
    # the heads stay unwrapped (DDP allows one forward per backward); _mean_grads averages them
    student_p, opt_s_p, opt_d_p = acc.prepare(student, opt_s, opt_d)
    heads_p = heads.to(acc.device)
    rank, world = acc.process_index, acc.num_processes
    segments = _segments(out / "train_state.json", start, world, tr) if acc.is_main_process \
        else []
    loop = Loop(acc, family, teacher, t_dtype, student_p, heads_p, tr.grad_accum)

    def lr_at(step: int) -> float:
        if tr.warmup_steps and step < tr.warmup_steps:
            return tr.lr * (step + 1) / tr.warmup_steps
        return tr.lr

    end = tr.max_steps if stop_after is None else min(tr.max_steps, start + stop_after)
    it: Any = range(start, end)
    if progress and acc.is_main_process:
        from rich.progress import track
        it = track(it, description=description, total=end - start)
    t0 = time.perf_counter()
    for step in it:
        for g in opt_s_p.param_groups:
            g["lr"] = lr_at(step)
        acc_parts = {k: 0.0 for k in parts}
        opt_s_p.zero_grad(set_to_none=True)
        opt_d_p.zero_grad(set_to_none=True)
        for m in range(tr.grad_accum):
            got = micro(loop, step, _step_seed(tr.seed, step, m * world + rank))
            for k, v in got.items():
                acc_parts[k] += v / tr.grad_accum
        if world > 1:
            _mean_grads(heads_p, world)
            reduced = acc.reduce(torch.tensor([acc_parts[k] for k in acc_parts],
                                              dtype=torch.float64, device=acc.device),
                                 reduction="mean")
            acc_parts = dict(zip(acc_parts, (float(v) for v in reduced.cpu())))
        if tr.grad_clip is not None:
            acc.clip_grad_norm_(student_p.parameters(), tr.grad_clip)
        opt_s_p.step()
        opt_s_p.zero_grad(set_to_none=True)  # free the gradients before checkpointing
        if adv_from is not None and step >= adv_from:
            opt_d_p.step()
        if ema is not None:
            ema.update(acc.unwrap_model(student_p))
        row = {"step": step + 1, **acc_parts, "lr": lr_at(step),
               "seconds": round(time.perf_counter() - t0, 3)}
        rows.append(row)
        if on_step is not None:
            on_step(step + 1, acc_parts)
        done = step + 1
        if acc.is_main_process and (done % tr.checkpoint_every == 0 or done == tr.max_steps):
            _save_ckpt(ckpt_dir, done, acc.unwrap_model(student_p), heads_p,
                       opt_s_p.optimizer if hasattr(opt_s_p, "optimizer") else opt_s_p,
                       opt_d_p.optimizer if hasattr(opt_d_p, "optimizer") else opt_d_p, ema,
                       tr.keep_checkpoints)
            _write_log(log_path, rows, fields)
    if acc.is_main_process and rows:
        _write_log(log_path, rows, fields)
    acc.wait_for_everyone()
    final_step = int(rows[-1]["step"]) if rows else start
    plot_path = None
    if acc.is_main_process and rows and final_step == tr.max_steps:
        plot_path = (plot or plot_log)(log_path, out / "loss.png")
    model = acc.unwrap_model(student_p)
    opt_s_p.zero_grad(set_to_none=True)
    acc.free_memory()  # drop accelerate's references to the optimizers (their state)
    del opt_s, opt_d, opt_s_p, opt_d_p, loop
    _return_freed_cpu_memory()
    if ema is not None and final_step == tr.max_steps:
        ema.copy_to(model)
    model.eval()
    if tr.gradient_checkpointing:
        model.disable_gradient_checkpointing()  # type: ignore[operator]
    last = {k: float(v) for k, v in rows[-1].items() if v != ""} if rows else {}
    if segments:
        segments[-1]["to_step"] = final_step
    if acc.is_main_process:
        atomic_write_text(out / "train_state.json", json.dumps(
            {"step": final_step, "max_steps": tr.max_steps,
             "finished": final_step == tr.max_steps, "optimizer": opt_name,
             "teacher_dtype": tr.teacher_dtype, "segments": segments}, indent=2) + "\n")
    if final_step > tr.max_steps:
        raise ConfigError(f"checkpoint step {final_step} is beyond max_steps {tr.max_steps}")
    return TrainResult(final_step, log_path, plot_path, last, world, acc.is_main_process,
                       segments)


def train(family: DenoiserSpec, student: nn.Module, recipe: Recipe,
          out_dir: str | os.PathLike[str], *, resume: bool = True,
          stop_after: int | None = None, progress: bool = True,
          on_step: Callable[[int, dict[str, float]], None] | None = None,
          teacher_taps: Mapping[str, str] | None = None) -> TrainResult:
    """Distil ``family.unet`` (frozen teacher) into ``student`` in place (EMA weights copied in
    at the end when EMA is on). Writes ``out_dir/loss_log.csv``, ``loss.png`` and ``ckpt/``.

    ``stop_after``: end after that many steps of this call (simulates an interruption).
    MCA (``lambda_mca > 0``) needs a teacher whose encoder :func:`compression.icmd.mca_features`
    reads (:data:`compression.icmd.MCA_UNETS`, or a video transformer of a known token grid),
    else a ``ConfigError`` before anything is written.
    The loop itself is :func:`run_loop`; this function is ICMD's micro-batch.

    ``teacher_taps``: student tap → teacher module for the ICD pairs whose names differ (a
    depth-pruned transformer: :func:`compression.dit_student.dit_tap_map`); other taps read the
    teacher module of the same name. A transformer student with fewer blocks than its teacher
    needs it (same names would pair the wrong blocks).
    """
    ls = recipe.loss
    if ls.lambda_mca > 0:  # before anything is written
        check_mca_teacher(family.unet)
    taps = ls.icd_taps or default_taps(student)
    pairs = {t: (teacher_taps or {}).get(t, t) for t in taps}
    if ls.lambda_icd > 0 and teacher_taps is None and is_transformer(student) and \
            default_taps(student) != default_taps(family.unet):
        raise ConfigError("ICD on a depth-pruned transformer needs teacher_taps (student block "
                          "→ the teacher block it was copied from: dit_tap_map(teacher, plan))")
    use_mca = ls.lambda_mca > 0
    split = recipe.data.split

    def micro(loop: Loop, step: int, s: int) -> dict[str, float]:
        acc, teacher = loop.acc, loop.teacher
        g = torch.Generator().manual_seed(s)
        batch = family.batch(recipe.train.batch_size, s, split=split)
        x0 = batch["x0"]
        b = x0.shape[0]
        sigma = family.train_sigmas(b, g).to(x0)
        noise = torch.randn(x0.shape, generator=g).to(x0)
        x_t = x0 + sigma.reshape(-1, 1, 1, 1, 1) * noise
        w = family.loss_weight(sigma).reshape(-1, 1, 1, 1, 1)
        out: dict[str, float] = {}
        with acc.autocast():
            with torch.no_grad(), FeatureTaps(teacher, pairs) as tt:
                d_t = family.denoise(teacher, x_t, sigma, batch)
            with FeatureTaps(acc.unwrap_model(loop.student), taps) as st:
                d_s = family.denoise(loop.student, x_t, sigma, batch)
            den = (w * (d_s.float() - x0.float()) ** 2).mean()
            outl = (w * (d_s.float() - d_t.float()) ** 2).mean()
            task = ls.denoise * den + ls.output * outl
            icd = icd_loss(st.features, tt.features) if ls.lambda_icd > 0 else torch.zeros(())
            loss = task + ls.lambda_icd * icd
            mca_g = torch.zeros(())
            adv = use_mca and step >= ls.mca_start_step
            if adv:
                sig2 = (ls.mca_sigma_mean + ls.mca_sigma_std * torch.randn(b, generator=g)
                        ).exp().to(x0)
                n2 = torch.randn(x0.shape, generator=g).to(x0)
                enc = loop.encoder(batch, sig2, n2)
                fake_feats = enc(d_s)
                f = fake_feats[0].shape[0] // b  # frames of the features (B·F, …): F' for a DiT
                mca_g = loop.generator_adv(fake_feats, f)
                loss = loss + ls.lambda_mca * mca_g
        loop.backward(loss)
        if adv:
            with acc.autocast(), torch.no_grad():
                real_feats = enc(d_t)
            out["mca_d"], out["mca_gap"] = loop.discriminator_step(real_feats, fake_feats, f)
        for k, v in (("loss", loss), ("task", task), ("denoise", den), ("output", outl),
                     ("icd", icd), ("mca_g", mca_g)):
            out[k] = float(v.detach())
        return out

    return run_loop(family, student, recipe.train, out_dir, micro,
                    parts=[f for f in LOG_FIELDS if f not in ("step", "lr", "seconds")],
                    heads_hidden=ls.mca_hidden, adv_from=ls.mca_start_step if use_mca else None,
                    resume=resume, stop_after=stop_after, progress=progress, on_step=on_step,
                    description="distilling")
