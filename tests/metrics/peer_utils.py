"""Importing the peers' own code (cd-fvd 0.1.1, torch-fidelity 0.4.0) for the agreement tests.

Both packages import torchvision at module level, for parts the tests do not call (torchvision's
video reader in cd-fvd's folder loader, image datasets and models in torch-fidelity). Where a
working torchvision is installed it is used as it is. Where it is not (torchvision from PyPI does
not load beside the CPU build of torch), :func:`import_peer` imports the peer with placeholder
``torchvision`` modules whose every attribute is a class that raises when used, so the peer's
torchvision-free functions (preprocessing, the I3D network, feature statistics, the Fréchet
distance, the Inception Score) run exactly as shipped, and a call into torchvision fails loudly.
The packages themselves come with the ``test`` extra (``pip install -e '.[test]'``, with a
matching torchvision), or without torchvision: ``pip install --no-deps cd-fvd==0.1.1
torch-fidelity==0.4.0 einops``.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from typing import Any

import pytest

_TV_MODULES = ("torchvision", "torchvision.datasets", "torchvision.datasets.video_utils",
               "torchvision.transforms", "torchvision.transforms.functional",
               "torchvision.models", "torchvision.io", "torchvision.utils")


def torchvision_works() -> bool:
    """True when ``import torchvision`` succeeds (a broken install is cleaned out again)."""
    try:
        import torchvision  # noqa: F401
    except Exception:
        for name in [m for m in sys.modules if m == "torchvision" or
                     m.startswith("torchvision.")]:
            del sys.modules[name]
        return False
    return True


def _placeholder(module: str) -> types.ModuleType:
    mod = types.ModuleType(module)

    def missing(name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)

        class Missing:
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                raise RuntimeError(f"{module}.{name}: torchvision is not installed here")

        Missing.__name__ = name
        return Missing

    mod.__getattr__ = missing  # type: ignore[method-assign]
    mod.__path__ = []  # a package, so submodule imports resolve to the placeholders
    return mod


def import_peer(name: str) -> Any:
    """Import the peer module ``name`` (skipping the test when the package is not installed)."""
    top = name.split(".")[0]
    if importlib.util.find_spec(top) is None:
        pytest.skip(f"peer package {top} not installed (pip install -e '.[test]', or "
                    f"pip install --no-deps cd-fvd==0.1.1 torch-fidelity==0.4.0 einops)")
    if name in sys.modules or torchvision_works():
        return importlib.import_module(name)
    saved = {m: sys.modules.get(m) for m in _TV_MODULES}
    placeholders = {m: _placeholder(m) for m in _TV_MODULES}
    for m, mod in placeholders.items():
        parent, _, child = m.rpartition(".")
        if parent:
            setattr(placeholders[parent], child, mod)
    sys.modules.update(placeholders)
    try:
        return importlib.import_module(name)
    finally:
        for m, old in saved.items():
            if old is None:
                sys.modules.pop(m, None)
            else:
                sys.modules[m] = old
