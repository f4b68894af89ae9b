"""diffusers' cache methods for video diffusion transformers: ``firstblockcache``,
``fastercache``, ``taylorseer``, ``magcache`` (and the transformer path of ``pab``).

Each transform builds one diffusers config (``FirstBlockCacheConfig``, ``FasterCacheConfig``,
``TaylorSeerCacheConfig``, ``MagCacheConfig``, ``PyramidAttentionBroadcastConfig``) from its
validated options and calls the transformer's own ``enable_cache(config)`` (``CacheMixin``); the
hooks, their decisions and their state are diffusers'. What is ours:

- **which module**: :func:`transformer_of` — the adapter's ``transformer()`` (the ``diffusers``
  model, ``synth-dit-t2v``). An adapter without that method (every UNet adapter) is refused by
  ``vdmbench validate``, a module that is not a ``CacheMixin`` when the model is loaded:
  diffusers' cache hooks attach only to transformer models.
- **when a trajectory starts**: diffusers' pipelines reset the hooks' state when a call ends
  (``maybe_free_model_hooks``), but a sampler of ours or a batch made in several calls does not,
  so :class:`TrajectoryTracker` (a forward pre-hook on the transformer) resets it
  (``_reset_stateful_cache``) whenever the transformer's ``timestep`` input goes *up* or the
  ``hidden_states`` shape changes — every new video or batch — and keeps the cache context the
  pipeline had set (``cache_context("cond")`` …). It also reports the current timestep to the
  configs that ask for one (PAB, FasterCache).
- **restoring**: after the block ``disable_cache()`` removes the hooks, and the registries,
  instance ``forward`` attributes and ``_cache_config`` that enabling left behind are removed,
  so the transformer is the object it was (state dict, forward, hooks).

Timestep ranges are in the transformer's own ``timestep`` units (0–1000 for Wan, CogVideoX, LTX
and the flow-matching ``synth-dit-t2v``), as diffusers' configs take them. Options classes import
no torch (``vdmbench validate`` reads them); torch and diffusers are imported when a transform
is applied.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from baselines.steps_config import one_step_adapter
from vdmbench.acceleration import (
    Applicability,
    Transform,
    hands_out_denoiser,
    hands_out_transformer,
)
from vdmbench.errors import ConfigError, UnsupportedError

#: why a UNet (or any non-CacheMixin denoiser) is refused
NOT_A_TRANSFORMER = ("diffusers' cache hooks attach only to transformer models (CacheMixin: "
                     "enable_cache / disable_cache)")
#: where shipped MagCache ratios live: ``<adapter name>.json``
MAGCACHE_DIR = Path(__file__).resolve().parent.parent / "vdmbench" / "assets" / "magcache"
#: transformer class → layout of its output for FasterCache's frequency split of the CFG batch
FASTERCACHE_FORMATS = {"WanTransformer3DModel": "BCFHW", "HunyuanVideoTransformer3DModel": "BCFHW",
                       "MochiTransformer3DModel": "BCFHW", "CogVideoXTransformer3DModel": "BFCHW"}


def _range(v: tuple[float, float], what: str) -> tuple[float, float]:
    lo, hi = v
    if lo > hi:
        raise ValueError(f"{what} must be [lo, hi] with lo ≤ hi, got [{lo}, {hi}]")
    return v


# ------------------------------------------------------------------------------ the options


class FirstBlockCacheOptions(BaseModel):
    """``threshold``: the rest of the blocks are skipped (their last residual reused) when the
    first block's residual changed by less than this relative L1 amount since the last full
    call; 0 = never skip (the identity)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    threshold: float = Field(0.05, ge=0.0, le=10.0)


class FasterCacheOptions(BaseModel):
    """``spatial_every`` / ``temporal_every``: compute that self-attention once every N calls
    inside ``timestep_range`` and extrapolate it in between (``attention_weight``: the weight
    of the last difference); ``skip_uncond``: also approximate the unconditional half of a
    batched CFG call ([uncond, cond], as CogVideoX and ``synth-dit-t2v`` batch it) from the
    conditional one by its low/high-frequency differences, except every ``uncond_every``-th
    call and outside ``uncond_timestep_range``. An empty ``timestep_range`` (lo == hi) with
    ``skip_uncond`` false is the identity. The range must leave out the first step's timestep
    (diffusers' hook has nothing to reuse there)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    spatial_every: int | None = Field(2, ge=1, le=100)
    temporal_every: int | None = Field(None, ge=1, le=100)
    timestep_range: tuple[float, float] = (-1.0, 681.0)
    attention_weight: float = Field(0.5, ge=0.0, le=2.0)
    skip_uncond: bool = False
    uncond_every: int = Field(5, ge=1, le=100)
    uncond_timestep_range: tuple[float, float] = (-1.0, 641.0)
    alpha_low_frequency: float = Field(1.1, ge=0.0, le=10.0)
    alpha_high_frequency: float = Field(1.1, ge=0.0, le=10.0)

    @model_validator(mode="after")
    def _check(self) -> FasterCacheOptions:
        _range(self.timestep_range, "timestep_range")
        _range(self.uncond_timestep_range, "uncond_timestep_range")
        if self.spatial_every is None and self.temporal_every is None:
            raise ValueError("set at least one of spatial_every, temporal_every")
        return self


class TaylorSeerOptions(BaseModel):
    """``cache_interval``: after a full call, the next ``cache_interval - 1`` calls of each
    transformer block are predicted by a Taylor expansion (order ``max_order``) of its past
    outputs; ``warmup``: calls computed in full first; ``stop_after``: calls from this index on
    computed in full (None: never); ``factors_dtype``: dtype the Taylor factors are stored in;
    ``modules``: what is predicted — ``attention`` (every block's attention modules,
    ``attn``/``attn1``/``attn2``) or ``blocks`` (whole transformer blocks). diffusers' default
    patterns (``^blocks.*attn`` under ``re.fullmatch``) match no module of Wan, CogVideoX or
    LTX, whose attention modules are ``attn1``/``attn2``, so the patterns are given explicitly.
    ``cache_interval`` 1 is the identity."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    cache_interval: int = Field(3, ge=1, le=100)
    warmup: int = Field(3, ge=0, le=1000)
    stop_after: int | None = Field(None, ge=0, le=1000)
    max_order: int = Field(1, ge=0, le=4)
    factors_dtype: Literal["float32", "bfloat16"] = "float32"
    modules: Literal["attention", "blocks"] = "attention"


_BLOCK_LISTS = r"(blocks|transformer_blocks|single_transformer_blocks|temporal_transformer_blocks)"
#: TaylorSeer's ``cache_identifiers`` (``re.fullmatch`` on module names) per ``modules`` option
TAYLORSEER_PATTERNS = {"attention": [_BLOCK_LISTS + r"\.\d+\.attn\d*"],
                       "blocks": [_BLOCK_LISTS + r"\.\d+"]}


class MagCacheOptions(BaseModel):
    """``threshold``: skip the transformer blocks (reuse the last residual) while the error
    accumulated from the calibrated magnitude ratios stays below it, at most ``max_skip_steps``
    steps in a row, never in the first ``retention_ratio`` of the steps; ``ratios``: a JSON
    file written by ``python -m baselines.magcache_calibrate`` (None: the ratios shipped for
    the model's adapter, ``vdmbench/assets/magcache/<adapter>.json``). ``max_skip_steps`` 0 is
    the identity."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    threshold: float = Field(0.06, ge=0.0, le=10.0)
    max_skip_steps: int = Field(3, ge=0, le=100)
    retention_ratio: float = Field(0.2, ge=0.0, le=1.0)
    ratios: str | None = None


# ---------------------------------------------------------------------------- the machinery


def transformer_of(generator: Any) -> Any:
    """The transformer of a loaded generator: its adapter's ``transformer()`` (the ``diffusers``
    model: the pipeline's ``transformer`` component; ``synth-dit-t2v``: its
    ``WanTransformer3DModel``); None where the adapter has no such method or the model no such
    module."""
    fn = getattr(generator, "transformer", None)
    return fn() if callable(fn) else None


def is_cache_model(module: Any) -> bool:
    """Whether diffusers' cache hooks can attach to ``module`` (a ``CacheMixin``)."""
    from diffusers.models.cache_utils import CacheMixin

    return isinstance(module, CacheMixin)


def _state_managers(transformer: Any) -> list[Any]:
    from diffusers.hooks.hooks import StateManager

    out = []
    for m in transformer.modules():
        reg = getattr(m, "_diffusers_hook", None)
        for hook in getattr(reg, "hooks", {}).values():
            out += [a for a in vars(hook).values() if isinstance(a, StateManager)]
    return out


def reset_cache_state(transformer: Any) -> None:
    """Reset every cache hook's state on ``transformer`` (a new trajectory), keeping the cache
    context the pipeline set for the call in progress."""
    from diffusers.hooks.hooks import _set_cache_context

    context = next((sm._context for sm in _state_managers(transformer)  # noqa: SLF001
                    if sm._context is not None), None)  # noqa: SLF001
    transformer._reset_stateful_cache()  # noqa: SLF001
    if context is not None:
        _set_cache_context(transformer, context)


class TrajectoryTracker:
    """A forward pre-hook on ``transformer``: ``timestep`` is the current call's timestep (the
    first element of its ``timestep`` input, a float); a new trajectory (timestep up, or another
    ``hidden_states`` shape) resets the cache hooks' state (:func:`reset_cache_state`);
    ``trajectories`` counts them."""

    def __init__(self, transformer: Any) -> None:
        self.transformer = transformer
        self.timestep = float("nan")
        self.trajectories = 0
        self._last: Any = None
        self._shape: tuple[int, ...] | None = None
        self._handle = transformer.register_forward_pre_hook(self._pre, with_kwargs=True)

    def _pre(self, module: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        import torch

        t = kwargs.get("timestep", args[2] if len(args) > 2 else None)
        x = kwargs.get("hidden_states", args[0] if args else None)
        t = torch.as_tensor(t).detach().float().reshape(-1).cpu()
        shape = tuple(x.shape) if x is not None else None
        last = self._last
        if last is None or shape != self._shape or float(t.max()) > float(last.max()):
            if last is not None:
                reset_cache_state(self.transformer)
            self.trajectories += 1
        self._last, self._shape = t, shape
        self.timestep = float(t.max())

    def remove(self) -> None:
        self._handle.remove()


def cache_applicability(generator: Any) -> Applicability:
    """Whether diffusers' cache hooks can go on ``generator``'s transformer: a ``CacheMixin``
    without a cache enabled, sampled in more than one step."""
    from baselines.steps import sampler_steps

    module = transformer_of(generator)
    if module is None:
        return Applicability(False, f"{NOT_A_TRANSFORMER}; the model has no transformer")
    if not is_cache_model(module):
        return Applicability(False, f"{NOT_A_TRANSFORMER}; its denoiser is a "
                                    f"{type(module).__name__}")
    if module.is_cache_enabled:
        return Applicability(False, f"a cache ({type(module._cache_config).__name__}) is "  # noqa: SLF001
                                    f"already enabled on its transformer; diffusers allows one "
                                    f"cache method at a time")
    steps = sampler_steps(generator)
    if steps is not None and steps <= 1:
        return Applicability(False, "it samples in one step: there is no later step to reuse "
                                    "a cache in")
    return Applicability(True)


def adapter_applicability(factory: Any, *, unet_too: bool = False) -> Applicability:
    """What the adapter class tells (``vdmbench validate``): it hands out a transformer
    (``transformer()``; with ``unet_too``, a denoiser will do) and samples in more than one
    step."""
    if not hands_out_transformer(factory) and not (unet_too and hands_out_denoiser(factory)):
        return Applicability(False, f"{NOT_A_TRANSFORMER}; the adapter hands out no "
                                    f"transformer (it has no transformer() method)")
    if one_step_adapter(factory):
        return Applicability(False, "its adapter samples in one step: there is no later step "
                                    "to reuse a cache in")
    return Applicability(True)


class DiTCacheTransform(Transform):
    """Base of the transforms over ``transformer.enable_cache(config)`` (module docstring).
    Subclasses set ``name``, ``Options`` and :meth:`config`."""

    needs_denoiser: ClassVar[bool] = False
    #: the diffusers config class the transform builds (for the docs and the summary)
    config_class: ClassVar[str] = ""

    @classmethod
    def applies_to_adapter(cls, factory: Any) -> Applicability:
        return adapter_applicability(factory)

    def applies_to(self, generator: Any) -> Applicability:
        verdict = cache_applicability(generator)
        if not verdict:
            return verdict
        return self.applies_to_transformer(generator, transformer_of(generator))

    def applies_to_transformer(self, generator: Any, transformer: Any) -> Applicability:
        """What else decides whether the transform applies (default: nothing)."""
        return Applicability(True)

    def config(self, generator: Any, transformer: Any, tracker: TrajectoryTracker) -> Any:
        """The diffusers cache config for ``transformer``."""
        raise NotImplementedError

    def _attach(self, generator: Any) -> tuple[Any, dict[str, Any]]:
        transformer = transformer_of(generator)
        return attach_cache(transformer, lambda tr: self.config(generator, transformer, tr))


def attach_cache(transformer: Any, make_config: Any) -> tuple[Any, dict[str, Any]]:
    """``transformer.enable_cache(make_config(tracker))`` with a :class:`TrajectoryTracker`;
    returns ``(undo, summary)``; ``undo`` disables the cache and removes what enabling left."""
    modules = list(transformer.modules())
    had_registry = {id(m): "_diffusers_hook" in m.__dict__ for m in modules}
    had_forward = {id(m): m.__dict__.get("forward") for m in modules}
    had_config = "_cache_config" in transformer.__dict__
    tracker = TrajectoryTracker(transformer)
    hooks_log = logging.getLogger("diffusers.hooks")
    level = hooks_log.level
    try:
        config = make_config(tracker)
        # FasterCache announces on every enable that it is experimental; said once in the docs
        hooks_log.setLevel(logging.ERROR)
        try:
            transformer.enable_cache(config)
        finally:
            hooks_log.setLevel(level)
    except BaseException:
        tracker.remove()
        raise
    hooked = sum(bool(getattr(getattr(m, "_diffusers_hook", None), "hooks", None))
                 for m in modules if m is not transformer)

    def undo() -> None:
        tracker.remove()
        transformer.disable_cache()
        for m in modules:
            reg = m.__dict__.get("_diffusers_hook")
            if not had_registry[id(m)] and reg is not None and not reg.hooks:
                del m._diffusers_hook  # noqa: SLF001
            if had_forward[id(m)] is None:
                m.__dict__.pop("forward", None)
            else:
                m.forward = had_forward[id(m)]
        if not had_config:
            transformer.__dict__.pop("_cache_config", None)

    if not hooked:
        undo()
        raise UnsupportedError(f"{type(config).__name__} hooked no module of "
                               f"{type(transformer).__name__}: nothing would be cached")
    return undo, {"config": type(config).__name__, "hooked_modules": hooked,
                  "transformer": type(transformer).__name__}


# ----------------------------------------------------------------------------- the methods


class FirstBlockCache(DiTCacheTransform):
    """``firstblockcache``: diffusers' ``FirstBlockCacheConfig``."""

    name: ClassVar[str] = "firstblockcache"
    Options: ClassVar[type[BaseModel]] = FirstBlockCacheOptions
    config_class: ClassVar[str] = "FirstBlockCacheConfig"

    def config(self, generator: Any, transformer: Any, tracker: TrajectoryTracker) -> Any:
        from diffusers import FirstBlockCacheConfig

        return FirstBlockCacheConfig(threshold=float(self.options.threshold))  # type: ignore[attr-defined]


class FasterCache(DiTCacheTransform):
    """``fastercache``: diffusers' ``FasterCacheConfig``."""

    name: ClassVar[str] = "fastercache"
    Options: ClassVar[type[BaseModel]] = FasterCacheOptions
    config_class: ClassVar[str] = "FasterCacheConfig"

    def applies_to_transformer(self, generator: Any, transformer: Any) -> Applicability:
        kind = type(transformer).__name__
        if self.options.skip_uncond and kind not in FASTERCACHE_FORMATS:  # type: ignore[attr-defined]
            return Applicability(False, f"skip_uncond needs the layout of {kind}'s output, "
                                        f"which diffusers' FasterCache does not support "
                                        f"(known: {', '.join(FASTERCACHE_FORMATS)})")
        return Applicability(True)

    def config(self, generator: Any, transformer: Any, tracker: TrajectoryTracker) -> Any:
        from diffusers import FasterCacheConfig

        o = self.options
        weight = float(o.attention_weight)  # type: ignore[attr-defined]
        return FasterCacheConfig(
            spatial_attention_block_skip_range=o.spatial_every,  # type: ignore[attr-defined]
            temporal_attention_block_skip_range=o.temporal_every,  # type: ignore[attr-defined]
            spatial_attention_timestep_skip_range=tuple(o.timestep_range),  # type: ignore[attr-defined]
            temporal_attention_timestep_skip_range=tuple(o.timestep_range),  # type: ignore[attr-defined]
            unconditional_batch_skip_range=o.uncond_every,  # type: ignore[attr-defined]
            unconditional_batch_timestep_skip_range=tuple(o.uncond_timestep_range),  # type: ignore[attr-defined]
            alpha_low_frequency=o.alpha_low_frequency,  # type: ignore[attr-defined]
            alpha_high_frequency=o.alpha_high_frequency,  # type: ignore[attr-defined]
            attention_weight_callback=lambda _m: weight,
            tensor_format=FASTERCACHE_FORMATS.get(type(transformer).__name__, "BCFHW"),
            is_guidance_distilled=not o.skip_uncond,  # type: ignore[attr-defined]
            current_timestep_callback=lambda: tracker.timestep)


class TaylorSeer(DiTCacheTransform):
    """``taylorseer``: diffusers' ``TaylorSeerCacheConfig``."""

    name: ClassVar[str] = "taylorseer"
    Options: ClassVar[type[BaseModel]] = TaylorSeerOptions
    config_class: ClassVar[str] = "TaylorSeerCacheConfig"

    def config(self, generator: Any, transformer: Any, tracker: TrajectoryTracker) -> Any:
        import torch
        from diffusers import TaylorSeerCacheConfig

        o = self.options
        return TaylorSeerCacheConfig(
            cache_interval=o.cache_interval,  # type: ignore[attr-defined]
            disable_cache_before_step=o.warmup,  # type: ignore[attr-defined]
            disable_cache_after_step=o.stop_after,  # type: ignore[attr-defined]
            max_order=o.max_order,  # type: ignore[attr-defined]
            cache_identifiers=list(TAYLORSEER_PATTERNS[o.modules]),  # type: ignore[attr-defined]
            taylor_factors_dtype=getattr(torch, o.factors_dtype))  # type: ignore[attr-defined]


def _card(generator: Any) -> Any:
    try:
        return generator.describe()
    except Exception:  # noqa: BLE001 (a generator without a card: no adapter name to look up)
        return None


def magcache_ratios_file(options: MagCacheOptions, adapter: str | None) -> Path:
    """The ratios file ``options`` name, else the one shipped for ``adapter``."""
    from vdmbench.paths import expand_path

    if options.ratios is not None:
        return expand_path(options.ratios, "magcache ratios")
    return MAGCACHE_DIR / f"{adapter}.json"


def read_magcache_ratios(path: Path) -> dict[str, Any]:
    """A ratios file (``{"adapter", "weights_sha256", "steps", "ratios": [...]}``)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise ConfigError(f"magcache: cannot read ratios file {path} ({e})",
                          file=str(path)) from None
    except json.JSONDecodeError as e:
        raise ConfigError(f"magcache: {path} is not JSON ({e})", file=str(path)) from None
    r = data.get("ratios") if isinstance(data, dict) else None
    if not (isinstance(r, list) and r and all(isinstance(v, (int, float)) for v in r)):
        raise ConfigError(f"magcache: {path} has no 'ratios' list of numbers", file=str(path))
    return data


class MagCache(DiTCacheTransform):
    """``magcache``: diffusers' ``MagCacheConfig`` with calibrated ratios read from a file."""

    name: ClassVar[str] = "magcache"
    Options: ClassVar[type[BaseModel]] = MagCacheOptions
    config_class: ClassVar[str] = "MagCacheConfig"

    def _ratios(self, generator: Any) -> tuple[Path, dict[str, Any]]:
        card = _card(generator)
        adapter = getattr(card, "adapter", None)
        path = magcache_ratios_file(self.options, adapter)  # type: ignore[arg-type]
        if not path.is_file():
            raise UnsupportedError(
                f"magcache: no ratios at {path}: calibrate them for this model with python -m "
                f"baselines.magcache_calibrate and give the file as options.ratios")
        data = read_magcache_ratios(path)
        sha = getattr(card, "weights_sha256", None)
        if data.get("weights_sha256") and sha and data["weights_sha256"] != sha:
            raise UnsupportedError(
                f"magcache: the ratios in {path} were calibrated for weights "
                f"{data['weights_sha256'][:12]}…, this model's are {sha[:12]}…; calibrate them "
                f"with python -m baselines.magcache_calibrate")
        return path, data

    def applies_to_transformer(self, generator: Any, transformer: Any) -> Applicability:
        from baselines.steps import sampler_steps

        if sampler_steps(generator) is None:
            return Applicability(False, "its number of sampler steps is not known "
                                        "(MagCache's schedule needs it)")
        try:
            self._ratios(generator)
        except (UnsupportedError, ConfigError) as e:
            return Applicability(False, str(e))
        return Applicability(True)

    def config(self, generator: Any, transformer: Any, tracker: TrajectoryTracker) -> Any:
        from diffusers import MagCacheConfig

        from baselines.steps import sampler_steps

        o = self.options
        _, data = self._ratios(generator)
        return MagCacheConfig(threshold=float(o.threshold),  # type: ignore[attr-defined]
                              max_skip_steps=int(o.max_skip_steps),  # type: ignore[attr-defined]
                              retention_ratio=float(o.retention_ratio),  # type: ignore[attr-defined]
                              num_inference_steps=int(sampler_steps(generator) or 0),
                              mag_ratios=[float(v) for v in data["ratios"]])


def pab_config(options: Any, tracker: TrajectoryTracker) -> Any:
    """diffusers' ``PyramidAttentionBroadcastConfig`` (default identifiers: the blocks'
    self-attention is spatial, their cross-attention cross) for a transformer."""
    from diffusers import PyramidAttentionBroadcastConfig

    r = tuple(float(v) for v in options.timestep_range)
    return PyramidAttentionBroadcastConfig(
        spatial_attention_block_skip_range=options.spatial_every,
        temporal_attention_block_skip_range=options.temporal_every,
        cross_attention_block_skip_range=options.cross_every,
        spatial_attention_timestep_skip_range=r, temporal_attention_timestep_skip_range=r,
        cross_attention_timestep_skip_range=r,
        current_timestep_callback=lambda: tracker.timestep)
