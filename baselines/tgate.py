"""T-GATE (Zhang et al., 2024) through our attention processors: ``tgate``.

Cross-attention settles early in sampling: after the gate step its output hardly changes. T-GATE
computes every cross-attention up to noise level ``gate_step`` and afterwards returns the output
it computed last; self-attention (spatial and temporal) is computed once every
``self_every_before`` noise levels before the gate and every ``self_every_after`` levels after it,
reusing its last output in between.

Each diffusers ``Attention`` module of the UNet gets a :class:`_GateProcessor` wrapping its own
processor (``set_processor``; the original processor is put back after the context). Levels are
counted by :class:`~baselines.steps.StepTracker` (noise levels, not UNet calls) and caches are
dropped when a new video or batch starts. The paper also drops the classifier-free-guidance
batch after the gate; a UNet-level transform does not change the sampler's batch, so that part is
left out (see docs/baselines.md). ``gate_step`` at or past the last step with both intervals 1 is
the identity.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from baselines.steps import AcrossStepsAttentionTransform, StepTracker, attention_modules
from baselines.tgate_config import TGateConfig


class _GateProcessor:
    """Calls ``inner`` (the module's own processor) when ``compute()`` says so, else returns the
    last output."""

    def __init__(self, inner: Any, compute: Any) -> None:
        self.inner, self.compute = inner, compute
        self.output: Any = None

    def __call__(self, attn: nn.Module, hidden_states: Any, *args: Any, **kwargs: Any) -> Any:
        if self.output is None or self.compute() or self.output.shape != hidden_states.shape:
            self.output = self.inner(attn, hidden_states, *args, **kwargs)
        return self.output

    def clear(self) -> None:
        self.output = None


class TGate(TGateConfig, AcrossStepsAttentionTransform):
    """``tgate``: cache cross-attention after the gate step, self-attention every k steps."""


    def _attach(self, generator: Any) -> tuple[Any, dict[str, Any]]:
        spec = self.denoiser(generator)
        o = self.options
        gate = int(o.gate_step)  # type: ignore[attr-defined]
        before = int(o.self_every_before)  # type: ignore[attr-defined]
        after = int(o.self_every_after)  # type: ignore[attr-defined]
        tracker = StepTracker(spec.unet)

        def cross() -> bool:
            return tracker.step < gate

        def self_attn() -> bool:
            k = tracker.step
            return k % before == 0 if k < gate else (k - gate) % after == 0

        swapped: list[tuple[nn.Module, Any]] = []
        n_cross = 0
        for attn in attention_modules(spec.unet):
            is_cross = bool(getattr(attn, "is_cross_attention", False))
            n_cross += is_cross
            inner = attn.processor
            proc = _GateProcessor(inner, cross if is_cross else self_attn)
            tracker.on_reset(proc.clear)
            attn.set_processor(proc)
            swapped.append((attn, inner))

        def undo() -> None:
            tracker.remove()
            for attn, inner in reversed(swapped):
                attn.set_processor(inner)

        return undo, {"cross_attention": n_cross, "self_attention": len(swapped) - n_cross}
