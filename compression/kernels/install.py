"""``fast_kernels(model)``: put the Triton kernels and exact shortcuts into video diffusion models.

What is installed, inside every ``UNetSpatioTemporalConditionModel`` (SVD family),
``AutoencoderKLTemporalDecoder`` and vdmbench ``VideoCrafter2UNet`` found in ``model`` (``model``
itself or any submodule):

* attention processors, the diffusers way (``set_attn_processor`` with the full name → processor
  dict): every temporal *self*-attention (``attn1``/``attn2`` under ``temporal_transformer_blocks``
  whose ``Attention`` is not a cross-attention: SVD's ``attn1``; VideoCrafter2's ``attn1`` and
  ``attn2``, ``transformer_in``'s included) → :class:`TritonTemporalAttnProcessor`; in the SVD UNet
  every other ``attn2`` (cross-attention to the one CLIP image token) →
  :class:`OneTokenCrossAttnProcessor` — only where the current processor is diffusers' plain
  ``AttnProcessor2_0`` (or ``AttnProcessor`` for the 1-token path). VideoCrafter2's
  cross-attentions read 77 text tokens and are left alone;
* module swaps for GroupNorm → SiLU pairs: ``norm1``/``norm2`` of ``ResnetBlock2D`` (default time
  embedding norm, SiLU) and ``TemporalResnetBlock`` become :class:`FusedGroupNorm` with SiLU, their
  shared ``nonlinearity`` becomes :class:`FusedActivation` and the time-embedding projection that
  used the same SiLU becomes :class:`SiLULinear`; ``conv_norm_out`` + ``conv_act`` of the UNet, the
  temporal decoder and the VAE encoder likewise; in ``VideoCrafter2UNet`` the
  ``(GroupNorm, SiLU, …)`` stages of its temporal conv blocks (``nn.Sequential``) and its
  ``conv_norm_out`` + ``conv_act`` (its ResBlocks apply SiLU functionally, so their norms are
  plain swaps); every other plain ``nn.GroupNorm`` becomes a :class:`FusedGroupNorm` without
  activation.

Parameters are shared, never copied, and state-dict keys do not change. Everything else is left
alone; a model with none of these classes is returned untouched.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from compression.kernels.group_norm import FusedActivation, FusedGroupNorm, SiLULinear
from compression.kernels.processors import OneTokenCrossAttnProcessor, TritonTemporalAttnProcessor


@dataclass
class InstallSummary:
    """How many of each replacement an install made (per kind)."""

    temporal_attention: int = 0
    one_token_cross_attention: int = 0
    group_norm_silu: int = 0
    group_norm: int = 0
    models: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """Plain dict (for model cards and result records)."""
        return {
            "temporal_attention": self.temporal_attention,
            "one_token_cross_attention": self.one_token_cross_attention,
            "group_norm_silu": self.group_norm_silu,
            "group_norm": self.group_norm,
            "models": list(self.models),
        }


def _diffusers_classes() -> dict[str, type]:
    from diffusers import AutoencoderKLTemporalDecoder, UNetSpatioTemporalConditionModel
    from diffusers.models.attention_processor import AttnProcessor, AttnProcessor2_0
    from diffusers.models.autoencoders.autoencoder_kl_temporal_decoder import TemporalDecoder
    from diffusers.models.autoencoders.vae import Encoder
    from diffusers.models.resnet import ResnetBlock2D, TemporalResnetBlock

    from vdmbench.models.videocrafter2_unet import VideoCrafter2UNet

    return {
        "unet": UNetSpatioTemporalConditionModel,
        "vc2_unet": VideoCrafter2UNet,
        "vae": AutoencoderKLTemporalDecoder,
        "temporal_decoder": TemporalDecoder,
        "encoder": Encoder,
        "resnet2d": ResnetBlock2D,
        "temporal_resnet": TemporalResnetBlock,
        "sdpa_processor": AttnProcessor2_0,
        "plain_processor": AttnProcessor,
    }


class FastKernels:
    """Handle returned by :func:`fast_kernels`: ``install()``, ``restore()``, or a ``with`` block.

    Args:
        model: a ``UNetSpatioTemporalConditionModel``, an ``AutoencoderKLTemporalDecoder``, a
            ``VideoCrafter2UNet`` or any ``nn.Module`` containing them.
        temporal_attention: install the Triton temporal self-attention processor.
        one_token_cross_attention: install the exact 1-token cross-attention processor (SVD
            family only).
        group_norm: swap GroupNorm (+ SiLU) modules for the Triton ones.
        project_once: 1-token cross-attention applies ``to_out`` once per batch element and
            broadcasts (faster; equal up to GEMM summation order) instead of per query
            (bit-identical); see :class:`OneTokenCrossAttnProcessor`.
    """

    def __init__(self, model: nn.Module, *, temporal_attention: bool = True,
                 one_token_cross_attention: bool = True, group_norm: bool = True,
                 project_once: bool = False) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"fast_kernels expects an nn.Module, got {type(model).__name__}")
        self.model = model
        self.options = {"temporal_attention": temporal_attention,
                        "one_token_cross_attention": one_token_cross_attention,
                        "group_norm": group_norm, "project_once": project_once}
        self.summary = InstallSummary()
        self._undo: list[Callable[[], None]] = []
        self._installed = False

    @property
    def installed(self) -> bool:
        """True between :meth:`install` and :meth:`restore`."""
        return self._installed

    def install(self) -> FastKernels:
        """Install the kernels into the model (in place) and return ``self``. Idempotent."""
        if self._installed:
            return self
        cls = _diffusers_classes()
        self.summary = InstallSummary()
        kinds = (cls["unet"], cls["vae"], cls["vc2_unet"])
        targets = [m for m in self.model.modules() if isinstance(m, kinds)]
        try:
            for target in targets:
                self.summary.models.append(type(target).__name__)
                if isinstance(target, cls["unet"]):
                    self._install_processors(target, cls, one_token=True)
                elif isinstance(target, cls["vc2_unet"]):
                    self._install_processors(target, cls, one_token=False)
                if self.options["group_norm"]:
                    self._install_group_norms(target, cls)
        except BaseException:
            self._run_undo()
            raise
        self._installed = True
        return self

    def restore(self) -> None:
        """Put back every original processor and module (in reverse order). Idempotent."""
        self._run_undo()
        self._installed = False

    def __enter__(self) -> FastKernels:
        return self.install()

    def __exit__(self, *exc: object) -> None:
        self.restore()

    def __repr__(self) -> str:
        state = "installed" if self._installed else "not installed"
        return f"FastKernels({type(self.model).__name__}, {state}, {self.summary.as_dict()})"

    # -- internals ------------------------------------------------------------------------------

    def _run_undo(self) -> None:
        while self._undo:
            self._undo.pop()()

    def _swap(self, parent: nn.Module, name: str, new: nn.Module) -> None:
        old = getattr(parent, name)
        setattr(parent, name, new)
        self._undo.append(lambda: setattr(parent, name, old))

    def _install_processors(self, unet: Any, cls: dict[str, type], one_token: bool) -> None:
        """Temporal self-attentions → Triton; with ``one_token`` (SVD: every cross-attention
        context is one image token) the other ``attn2`` → the exact 1-token processor."""
        originals = unet.attn_processors
        new: dict[str, Any] = {}
        for name, proc in originals.items():
            parts = name.split(".")
            layer = parts[-2] if len(parts) >= 2 else ""
            kind = type(proc)
            if (self.options["temporal_attention"] and layer in ("attn1", "attn2")
                    and "temporal_transformer_blocks" in parts and kind is cls["sdpa_processor"]
                    and _is_self_attention(unet, name)):
                new[name] = TritonTemporalAttnProcessor(proc)
                self.summary.temporal_attention += 1
            elif (one_token and self.options["one_token_cross_attention"] and layer == "attn2"
                    and kind in (cls["sdpa_processor"], cls["plain_processor"])):
                new[name] = OneTokenCrossAttnProcessor(proc, self.options["project_once"])
                self.summary.one_token_cross_attention += 1
            else:
                new[name] = proc
        if any(new[k] is not originals[k] for k in originals):
            unet.set_attn_processor(dict(new))
            self._undo.append(lambda: unet.set_attn_processor(dict(originals)))

    def _install_group_norms(self, target: nn.Module, cls: dict[str, type]) -> None:
        for module in list(target.modules()):
            kind = type(module)
            if kind is cls["resnet2d"] or kind is cls["temporal_resnet"]:
                self._fuse_resnet(module, kind is cls["resnet2d"])
            elif kind in (cls["unet"], cls["vc2_unet"], cls["temporal_decoder"], cls["encoder"]):
                norm = getattr(module, "conv_norm_out", None)
                act = getattr(module, "conv_act", None)
                if type(norm) is nn.GroupNorm and type(act) is nn.SiLU:
                    fused = FusedGroupNorm.from_group_norm(norm, "silu")
                    self._swap(module, "conv_norm_out", fused)
                    self._swap(module, "conv_act", FusedActivation())
                    self.summary.group_norm_silu += 1
            elif kind is nn.Sequential and isinstance(target, cls["vc2_unet"]):
                self._fuse_sequential(module)
        for parent in list(target.modules()):
            for name, child in list(parent.named_children()):
                if type(child) is nn.GroupNorm:
                    self._swap(parent, name, FusedGroupNorm.from_group_norm(child, None))
                    self.summary.group_norm += 1

    def _fuse_sequential(self, seq: nn.Sequential) -> None:
        """Fold every ``nn.SiLU`` that directly follows a plain ``nn.GroupNorm`` into it
        (VideoCrafter2's temporal conv stages ``GroupNorm, SiLU, [Dropout], Conv3d``)."""
        names = list(seq._modules)  # noqa: SLF001 (child names in call order)
        for a, b in zip(names, names[1:]):
            norm, act = seq._modules[a], seq._modules[b]  # noqa: SLF001
            if type(norm) is nn.GroupNorm and type(act) is nn.SiLU:
                self._swap(seq, a, FusedGroupNorm.from_group_norm(norm, "silu"))
                self._swap(seq, b, FusedActivation())
                self.summary.group_norm_silu += 1

    def _fuse_resnet(self, block: nn.Module, is_2d: bool) -> None:
        """Fold the block's SiLU into norm1 and norm2 (and into the time-embedding projection)."""
        if not (type(block.norm1) is nn.GroupNorm and type(block.norm2) is nn.GroupNorm
                and type(block.nonlinearity) is nn.SiLU):
            return
        if is_2d and getattr(block, "time_embedding_norm", "default") != "default":
            return  # scale_shift puts an affine map between norm2 and the SiLU
        temb_act = not (is_2d and getattr(block, "skip_time_act", False))
        proj = getattr(block, "time_emb_proj", None)
        if proj is not None and temb_act:
            if type(proj) is not nn.Linear:
                return
            self._swap(block, "time_emb_proj", SiLULinear.from_linear(proj))
        self._swap(block, "norm1", FusedGroupNorm.from_group_norm(block.norm1, "silu"))
        self._swap(block, "norm2", FusedGroupNorm.from_group_norm(block.norm2, "silu"))
        self._swap(block, "nonlinearity", FusedActivation())
        self.summary.group_norm_silu += 2


def _is_self_attention(unet: nn.Module, processor_name: str) -> bool:
    """True when the ``Attention`` owning ``<path>.processor`` has no cross-attention input."""
    path = processor_name.removesuffix(".processor")
    try:
        attn = unet.get_submodule(path)
    except AttributeError:
        return False
    return getattr(attn, "is_cross_attention", True) is False


def fast_kernels(model: nn.Module, *, temporal_attention: bool = True,
                 one_token_cross_attention: bool = True, group_norm: bool = True,
                 project_once: bool = False) -> FastKernels:
    """Triton kernels and exact shortcuts for SVD-family and VideoCrafter2 models (see module
    docstring).

    Use as a context manager (``with fast_kernels(unet): ...`` restores everything on exit) or
    permanently (``handle = fast_kernels(unet).install()``; ``handle.restore()`` undoes it).
    Nothing changes until the handle is entered or installed.
    """
    return FastKernels(model, temporal_attention=temporal_attention,
                       one_token_cross_attention=one_token_cross_attention, group_norm=group_norm,
                       project_once=project_once)
