"""One check for a model entry's ``dtype``: every adapter refuses an unknown name before any
weights are read, naming the model and the known names (``vdmbench.generation.torch_dtype``)."""

from __future__ import annotations

import pytest
import torch

from vdmbench.errors import ConfigError
from vdmbench.generation import DTYPES, torch_dtype
from vdmbench.models.diffusers_pipeline import DiffusersAdapter
from vdmbench.models.svd import SFVAdapter, SVDAdapter
from vdmbench.models.synth_i2v import SynthI2VAdapter
from vdmbench.models.synth_latent_i2v import SynthLatentI2VAdapter
from vdmbench.models.t2v_turbo import T2VTurboAdapter


def test_known_names_map_to_torch_dtypes() -> None:
    assert torch_dtype("bfloat16", "x") is torch.bfloat16
    assert {n: torch_dtype(n, "x") for n in DTYPES} == DTYPES


@pytest.mark.parametrize("adapter", [SynthI2VAdapter, SynthLatentI2VAdapter, SVDAdapter,
                                     SFVAdapter, DiffusersAdapter, T2VTurboAdapter],
                         ids=lambda a: a.__name__)
def test_an_unknown_dtype_is_refused_before_loading(adapter: type, tmp_path) -> None:
    missing = str(tmp_path / "no-such-weights")  # a dtype error must come before this one
    with pytest.raises(ConfigError) as e:
        adapter.load("m1", missing, {}, "cpu", steps=1, dtype="float64")
    msg = str(e.value)
    assert "'m1'" in msg and "float64" in msg and "float16" in msg and "bfloat16" in msg, msg


def test_svd_teacher_refuses_an_unknown_dtype(tmp_path) -> None:
    with pytest.raises(ConfigError, match="float64.*float32, float16, bfloat16"):
        SVDAdapter.teacher(str(tmp_path), dtype="float64")
