"""Kernel tests run Triton on CPU through its interpreter (set before Triton is imported)."""

from __future__ import annotations

import os

os.environ.setdefault("TRITON_INTERPRET", "1")

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)


def _interpreter_active() -> tuple[bool, str]:
    from compression.kernels._common import triton_module

    mod = triton_module()
    if mod is None:
        return False, "triton is not importable"
    if not mod.INTERPRETED:
        return False, ("compression.kernels was imported before TRITON_INTERPRET=1 was set; "
                       "run `TRITON_INTERPRET=1 pytest tests/kernels`")
    return True, ""


@pytest.fixture
def interpreter() -> None:
    """Skip (with the reason) when the Triton interpreter is not what runs the kernels."""
    ok, why = _interpreter_active()
    if not ok:
        pytest.skip(why)
