"""DeepCache (Ma, Fang and Wang, CVPR 2024) at the UNet level: ``deepcache``.

A UNet's deep features change slowly from one sampler step to the next. DeepCache computes the
whole UNet on every ``interval``-th noise level (a "full" step) and, on the levels between, only
the shallow branch: ``down_blocks[0..branch]`` and ``up_blocks[n-1-branch..]``; the deeper down
blocks, the mid block and the deeper up blocks return what they returned on the last full step,
so the shallow up blocks combine fresh skip connections with cached deep features.

Written for our two UNet families, from the paper: diffusers' ``UNetSpatioTemporalConditionModel``
(synth-i2v, svd) and :class:`~vdmbench.models.videocrafter2_unet.VideoCrafter2UNet` (synth-t2v,
t2v-turbo-v2). Skipping a block replaces its ``forward`` by an instance attribute (removed after
the context), so parameters and buffers are never touched. Steps are noise levels counted by
:class:`~baselines.steps.StepTracker` (not UNet calls: Heun and CFG make several calls per
step), and caches are dropped whenever a new video or batch starts.

``interval`` 1 computes every step in full: the untransformed videos, bit for bit.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from baselines.deepcache_config import DeepCacheConfig
from baselines.steps import StepTracker, sampler_steps
from vdmbench.acceleration import Applicability
from vdmbench.errors import UnsupportedError
from vdmbench.models.videocrafter2_unet import VC2UpBlock


def unet_blocks(unet: nn.Module) -> tuple[list[nn.Module], nn.Module, list[nn.Module]] | None:
    """``(down_blocks, mid_block, up_blocks)`` of a UNet with that layout, else None."""
    down = getattr(unet, "down_blocks", None)
    up = getattr(unet, "up_blocks", None)
    mid = getattr(unet, "mid_block", None)
    if down is None or up is None or mid is None or len(down) != len(up) or not len(down):
        return None
    return list(down), mid, list(up)


class _Cached:
    """Replaces ``module.forward``: the original on full steps (remembering its output), the
    remembered output otherwise. A skipped ``VC2UpBlock`` still pops its skip connections from
    the shared list, as its computation would."""

    def __init__(self, module: nn.Module, is_full: Any) -> None:
        self.module, self.is_full = module, is_full
        self.original = module.forward
        self.output: Any = None
        self.pops = len(module.resnets) if isinstance(module, VC2UpBlock) else 0  # type: ignore[arg-type]

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.output is None or self.is_full():
            self.output = self.original(*args, **kwargs)
            return self.output
        if self.pops:
            skips = kwargs["skips"] if "skips" in kwargs else args[1]
            del skips[-self.pops:]
        return self.output

    def clear(self) -> None:
        self.output = None


class DeepCache(DeepCacheConfig):
    """``deepcache``: reuse the deep UNet features between full steps (see the module
    docstring)."""

    def applies_to_denoiser(self, generator: Any, spec: Any) -> Applicability:
        blocks = unet_blocks(spec.unet)
        if blocks is None:
            return Applicability(False, f"its UNet ({type(spec.unet).__name__}) has no "
                                        f"down_blocks / mid_block / up_blocks of equal length")
        steps = sampler_steps(generator)
        if steps is not None and steps <= 1:
            return Applicability(False, "it samples in one step: there is no later step to "
                                        "reuse features in")
        n = len(blocks[0])
        branch = self.options.branch  # type: ignore[attr-defined]
        if branch >= n:
            return Applicability(False, f"branch {branch} needs more than the UNet's {n} down "
                                        f"blocks (branch must be ≤ {n - 1})")
        return Applicability(True)

    def _attach(self, generator: Any) -> tuple[Any, dict[str, Any]]:
        spec = self.denoiser(generator)
        blocks = unet_blocks(spec.unet)
        if blocks is None:
            raise UnsupportedError("deepcache: no UNet with down/mid/up blocks")
        down, mid, up = blocks
        n = len(down)
        interval = int(self.options.interval)  # type: ignore[attr-defined]
        branch = int(self.options.branch)  # type: ignore[attr-defined]
        tracker = StepTracker(spec.unet)

        def is_full() -> bool:
            return tracker.step % interval == 0

        names = {id(m): k for k, m in spec.unet.named_modules()}
        skipped = [*down[branch + 1:], mid, *up[:n - 1 - branch]]
        patched: list[tuple[nn.Module, _Cached, Any]] = []
        for module in skipped:
            cached = _Cached(module, is_full)
            had = module.__dict__.get("forward")
            module.forward = cached  # type: ignore[method-assign]
            tracker.on_reset(cached.clear)
            patched.append((module, cached, had))

        def undo() -> None:
            tracker.remove()
            for module, cached, had in reversed(patched):
                cached.clear()
                if had is None:
                    del module.forward
                else:
                    module.forward = had  # type: ignore[method-assign]

        return undo, {"interval": interval, "branch": branch,
                      "cached": [names.get(id(m), type(m).__name__) for m in skipped]}
