"""int8 quantization of the UNet's Linear layers through torchao: ``int8``.

``mode: weight_only`` stores Linear weights as int8 with per-channel scales
(``Int8WeightOnlyConfig``); ``mode: dynamic`` also quantizes activations per token at run time
and multiplies in int8 (``Int8DynamicActivationInt8WeightConfig``). Only Linear layers with at
least ``min_features`` input features are quantized (tiny layers gain nothing); a
``min_features`` above every layer's is the identity.

``torchao.quantization.quantize_`` swaps each chosen layer's ``weight`` parameter for a
quantized tensor subclass; the transform keeps the original parameters and puts them back after
the context (and removes what torchao set on the modules), so the model is bit-identical
afterwards. On a CPU the int8 kernels are usually *slower* than float32 matmuls at these sizes
(see docs/baselines.md); the method is meant for GPUs.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from baselines.int8_config import Int8Config
from vdmbench.acceleration import Applicability
from vdmbench.errors import UnsupportedError


def _torchao() -> Any:
    try:
        import torchao.quantization as q
    except ImportError as e:
        raise UnsupportedError("transform 'int8' needs torchao: pip install 'torchao>=0.18'"
                               f" ({e})") from None
    return q


class Int8(Int8Config):
    """``int8``: torchao int8 quantization of the UNet's Linear layers, undone exactly."""


    def applies_to_denoiser(self, generator: Any, spec: Any) -> Applicability:
        if not any(isinstance(m, nn.Linear) for m in spec.unet.modules()):
            return Applicability(False, "its UNet has no Linear layers")
        return Applicability(True)

    def _attach(self, generator: Any) -> tuple[Any, dict[str, Any]]:
        q = _torchao()
        spec = self.denoiser(generator)
        mode = self.options.mode  # type: ignore[attr-defined]
        least = int(self.options.min_features)  # type: ignore[attr-defined]
        config = (q.Int8WeightOnlyConfig() if mode == "weight_only"
                  else q.Int8DynamicActivationInt8WeightConfig())
        chosen = [m for m in spec.unet.modules()
                  if isinstance(m, nn.Linear) and m.in_features >= least]
        saved = [(m, m.weight, set(m.__dict__)) for m in chosen]
        ids = {id(m) for m in chosen}
        if chosen:
            q.quantize_(spec.unet, config, filter_fn=lambda m, fqn: id(m) in ids)

        def undo() -> None:
            for m, weight, keys in saved:
                m.weight = weight
                for k in set(m.__dict__) - keys:
                    del m.__dict__[k]

        return undo, {"mode": mode, "quantized_linear": len(chosen)}
