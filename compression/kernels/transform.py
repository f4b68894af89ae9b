"""The transform ``triton``: :func:`~compression.kernels.install.fast_kernels` on a loaded model.

Installs the fused kernels and exact shortcuts into every module the adapter's
:class:`~vdmbench.diffusion.denoiser.DenoiserSpec` lists (``modules``: the UNet, and the VAE for
SVD-family adapters) and restores them exactly when the transform's context exits. In a suite::

    transforms: [{name: triton, options: {project_once: false}}]
"""

from __future__ import annotations

from typing import Any

from compression.kernels.install import fast_kernels
from compression.triton_config import TritonConfig
from vdmbench.acceleration import Applicability


class TritonKernels(TritonConfig):
    """Fused temporal attention, GroupNorm(+SiLU) and exact 1-token cross-attention."""

    def applies_to_denoiser(self, generator: Any, spec: Any) -> Applicability:
        from compression.kernels.install import _diffusers_classes

        kinds = tuple(_diffusers_classes()[k] for k in ("unet", "vae", "vc2_unet"))
        if not any(isinstance(m, kinds) for mod in spec.modules.values()
                   for m in mod.modules()):
            return Applicability(False, "it has no SVD UNet, temporal VAE or VideoCrafter2 UNet")
        return Applicability(True)

    def _attach(self, generator: Any) -> tuple[Any, dict[str, Any]]:
        spec = self.denoiser(generator)
        opts = self.options.model_dump()
        handles = []
        summary: dict[str, Any] = {}
        try:
            for part, module in spec.modules.items():
                handle = fast_kernels(module, **opts).install()
                handles.append(handle)
                if handle.summary.models:
                    summary[part] = handle.summary.as_dict()
        except BaseException:
            for h in reversed(handles):
                h.restore()
            raise

        def undo() -> None:
            for h in reversed(handles):
                h.restore()

        return undo, summary
