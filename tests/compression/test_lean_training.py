"""The memory-lean training settings (compression/recipes/sfv-24gb.yaml): a low-precision
frozen teacher, gradient checkpointing, a small-state optimizer and an EMA kept on the CPU."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import pytest
import torch

import compression.distill as distill
from compression.distill import EMA, frozen_in_dtype, student_optimizer, train
from compression.plan import make_plan
from compression.recipe import RECIPE_DIR, Recipe, load_recipe
from compression.student import apply
from vdmbench.errors import ConfigError
from vdmbench.models.svd_denoiser import SVDDenoiser


def _recipe(**train_kw: object) -> Recipe:
    base: dict[str, object] = dict(max_steps=1, batch_size=1, checkpoint_every=100,
                                   ema_decay=None, lr=1e-3, seed=1)
    base.update(train_kw)
    return Recipe(model="random-svd", train=base, data={"frames": 4})


def _step(unet: torch.nn.Module, tmp: Path, **train_kw: object) -> tuple[torch.nn.Module, dict]:
    fam = SVDDenoiser(unet, frames=4, size=8)
    student = apply(unet, make_plan("vdmini", unet.config))
    parts: dict = {}
    train(fam, student, _recipe(**train_kw), tmp, progress=False,
          on_step=lambda s, p: parts.update(p))
    return student, parts


def test_shipped_lean_preset_sets_every_memory_option() -> None:
    r = load_recipe(RECIPE_DIR / "sfv-24gb.yaml")
    t = r.train
    assert r.model == "sfv" and t.teacher_dtype == "bfloat16" and t.gradient_checkpointing
    assert t.optimizer == "small-state" and t.ema_decay is None and t.mixed_precision == "bf16"
    # the same objective, plan and VAE pruning as the full-memory recipe
    full = load_recipe(RECIPE_DIR / "sfv.yaml")
    assert r.loss == full.loss and r.plan == full.plan and r.vae == full.vae


def test_gradient_checkpointing_gives_the_same_step(tmp_path: Path, unet) -> None:
    """Recomputing activations in the backward pass changes memory, not the numbers."""
    plain, p_plain = _step(unet, tmp_path / "a")
    ckpt, p_ckpt = _step(unet, tmp_path / "b", gradient_checkpointing=True)
    assert p_plain["loss"] == pytest.approx(p_ckpt["loss"], rel=1e-6)
    for (k, a), b in zip(plain.state_dict().items(), ckpt.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6, msg=k)
    assert not ckpt.is_gradient_checkpointing  # switched off again after training


def test_bf16_teacher_and_adafactor_step(tmp_path: Path, unet) -> None:
    """A bf16 teacher gives nearly the fp32 teacher's losses; the student steps with Adafactor
    (what 'small-state' picks on a CPU) and stays float32."""
    _, p32 = _step(unet, tmp_path / "a", optimizer="adafactor")
    teacher = unet
    student, p16 = _step(teacher, tmp_path / "b", teacher_dtype="bfloat16",
                         optimizer="small-state")
    assert next(teacher.parameters()).dtype == torch.bfloat16
    assert next(student.parameters()).dtype == torch.float32
    assert p16["output"] == pytest.approx(p32["output"], rel=0.05)
    assert p16["icd"] == pytest.approx(p32["icd"], rel=0.05)
    state = json.loads((tmp_path / "b" / "train_state.json").read_text())
    assert state["optimizer"] == "adafactor" and state["teacher_dtype"] == "bfloat16"
    # the hooked teacher still takes float32 inputs and returns float32
    fam = SVDDenoiser(teacher, frames=4, size=8)
    b = fam.batch(1, seed=0)
    out = fam.denoise(teacher, b["x0"], torch.ones(1), b)
    assert out.dtype == torch.float32 and torch.isfinite(out).all()


def test_teacher_dtype_cannot_change_once_cast(unet) -> None:
    assert len(frozen_in_dtype(unet, torch.bfloat16)) == 2
    assert frozen_in_dtype(unet, torch.bfloat16) == []  # already so: no second pair of hooks
    with pytest.raises(ConfigError, match="teacher_dtype"):
        frozen_in_dtype(unet, torch.float16)


def test_small_state_picks_8bit_adamw_where_bitsandbytes_serves(monkeypatch) -> None:
    made: list[str] = []

    class AdamW8bit(torch.optim.SGD):  # stands in for bitsandbytes.optim.AdamW8bit
        def __init__(self, params, lr: float, weight_decay: float) -> None:
            made.append("8bit")
            super().__init__(params, lr=lr)

    fake = types.ModuleType("bitsandbytes")
    fake.optim = types.SimpleNamespace(AdamW8bit=AdamW8bit)  # type: ignore[attr-defined]
    p = [torch.nn.Parameter(torch.zeros(3, 2))]
    rec = _recipe(optimizer="small-state")
    monkeypatch.setitem(sys.modules, "bitsandbytes", fake)
    assert student_optimizer(p, rec, torch.device("cuda"))[1] == "adamw8bit" and made
    assert student_optimizer(p, rec, torch.device("cpu"))[1] == "adafactor"
    monkeypatch.setattr(distill, "_bitsandbytes", lambda: None)
    assert student_optimizer(p, rec, torch.device("cuda"))[1] == "adafactor"
    with pytest.raises(ConfigError, match="bitsandbytes"):
        student_optimizer(p, _recipe(optimizer="adamw8bit"), torch.device("cuda"))
    opt, name = student_optimizer(p, _recipe(optimizer="adafactor", adafactor_lr=0.3),
                                  torch.device("cpu"))
    assert name == "adafactor" and opt.param_groups[0]["lr"] == 0.3


def test_ema_on_cpu_tracks_the_model() -> None:
    m = torch.nn.Linear(3, 2)
    ema = EMA(m, 0.5, "cpu")
    assert all(v.device.type == "cpu" and v.dtype == torch.float32 for v in ema.shadow.values())
    before = m.weight.detach().clone()
    with torch.no_grad():
        m.weight.add_(2.0)
    ema.update(m)
    ema.copy_to(m)
    torch.testing.assert_close(m.weight.detach(), before + 1.0)
