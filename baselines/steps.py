"""Where a sampler is, seen from inside the UNet: :class:`StepTracker`.

Caching methods (DeepCache, Pyramid Attention Broadcast, T-GATE) need to know, at every UNet
call, which sampler step it belongs to and when a new video starts. Samplers differ (synth-i2v:
one Euler call per step; synth-t2v: Heun, two calls per step with CFG batched into each; SVD:
one CFG-batched call per step), so the tracker counts **noise levels**, not calls: it reads the
UNet's ``timestep`` input (the adapter's own units, ``DenoiserSpec.timestep(σ)``) and advances
the step index whenever that value changes. A Heun step's corrector call at σ_{i+1} shares the
level of the next step's predictor call, so an N-step Heun sampler visits N levels, as an N-step
Euler sampler does.

A new trajectory (a new video or batch) starts when the timestep goes *up* (samplers only
decrease σ) or the input's shape changes; listeners registered with :meth:`on_reset` then drop
their caches.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from baselines.steps_config import AcrossStepsConfig, one_step_adapter
from vdmbench.acceleration import Applicability

__all__ = ["AcrossStepsAttentionTransform", "StepTracker", "attention_modules", "one_step_adapter",
           "sampler_steps"]


def _timestep_of(args: tuple[Any, ...], kwargs: dict[str, Any]) -> torch.Tensor:
    t = kwargs["timestep"] if "timestep" in kwargs else args[1]
    return torch.as_tensor(t).detach().float().reshape(-1).cpu()


class StepTracker:
    """A forward pre-hook on ``unet`` that keeps ``step`` (0-based index of the current noise
    level within the current trajectory), ``timestep`` (the current UNet timestep, a float: the
    first element of the input) and ``calls`` (UNet calls in this trajectory)."""

    def __init__(self, unet: nn.Module) -> None:
        self.unet = unet
        self.step = -1
        self.calls = 0
        self.timestep = float("nan")
        self.trajectories = 0
        self._last: torch.Tensor | None = None
        self._shape: tuple[int, ...] | None = None
        self._listeners: list[Callable[[], None]] = []
        self._handle = unet.register_forward_pre_hook(self._pre, with_kwargs=True)

    def on_reset(self, fn: Callable[[], None]) -> None:
        """Call ``fn()`` whenever a new trajectory starts (and on :meth:`reset`)."""
        self._listeners.append(fn)

    def reset(self) -> None:
        self.step, self.calls, self._last, self._shape = -1, 0, None, None
        for fn in self._listeners:
            fn()

    def _pre(self, module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        t = _timestep_of(args, kwargs)
        sample = kwargs["sample"] if "sample" in kwargs else args[0]
        shape = tuple(sample.shape)
        last = self._last
        if (last is None or shape != self._shape or last.shape != t.shape
                or float(t.max()) > float(last.max())):
            self.reset()
            self.trajectories += 1
            self.step = 0
        elif not torch.equal(t, last):
            self.step += 1
        self._last, self._shape = t, shape
        self.timestep = float(t[0])
        self.calls += 1

    def remove(self) -> None:
        self._handle.remove()
        self.reset()
        self._listeners.clear()


def sampler_steps(generator: Any) -> int | None:
    """The number of sampler steps a loaded generator uses (its card's ``steps``), or None."""
    steps = getattr(generator, "steps", None)
    if isinstance(steps, int):
        return steps
    try:
        return int(generator.describe().steps)
    except Exception:  # noqa: BLE001 (an adapter without a card entry for steps)
        return None


def attention_modules(unet: nn.Module) -> list[nn.Module]:
    """Every diffusers ``Attention`` module of ``unet``, in module order."""
    from diffusers.models.attention_processor import Attention

    return [m for m in unet.modules() if isinstance(m, Attention)]


class AcrossStepsAttentionTransform(AcrossStepsConfig):
    """Base of transforms that reuse attention results from earlier sampler steps (``pab``,
    ``tgate``): refused for one-step samplers (:class:`~baselines.steps_config.AcrossStepsConfig`)
    and for UNets without diffusers ``Attention``."""

    def applies_to_denoiser(self, generator: Any, spec: Any) -> Applicability:
        if not attention_modules(spec.unet):
            return Applicability(False, f"its UNet ({type(spec.unet).__name__}) has no "
                                        f"diffusers Attention modules to hook")
        steps = sampler_steps(generator)
        if steps is not None and steps <= 1:
            return Applicability(False, f"it samples in one step: there is no "
                                        f"{self.one_step_reason}")
        return Applicability(True)
