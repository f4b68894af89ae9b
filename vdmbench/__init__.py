"""vdmbench: compress video diffusion models and benchmark them honestly.

``vdmbench.evaluate(suite, generate=fn | pipeline=pipe, …)`` runs a suite on a Python generator
(:mod:`vdmbench.api`); it is imported on first use, so ``import vdmbench`` stays light (no torch).
"""

from typing import Any

from vdmbench.thirdparty import drop_known_noise

__version__ = "0.1.0"
__all__ = ["evaluate", "Results"]

drop_known_noise()  # before any vdmbench module imports torch, diffusers or torchao


def __getattr__(name: str) -> Any:
    if name in __all__:
        from vdmbench import api

        return getattr(api, name)
    raise AttributeError(f"module 'vdmbench' has no attribute {name!r}")
