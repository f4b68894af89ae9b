"""Every registered model, dataset, metric and transform names a config class
(:mod:`vdmbench.registry`, docs/architecture.md): importable without torch, so that
``vdmbench validate`` imports none, and a base of the registered class, so that validate reads
the very options and checks the run uses (one definition of each)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from vdmbench.acceleration import hands_out_denoiser
from vdmbench.catalog import DATASETS, METRICS, MODELS, TRANSFORMS

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "diffusers", "torchao", "transformers")
#: imports every config of the validated kinds, in a fresh process, after ``{setup}``; prints
#: the first entry whose config brings in a heavy module and exits 1
PROBE = """
import sys
from vdmbench.catalog import registries
{setup}
for kind in ("models", "datasets", "metrics", "transforms"):
    reg = registries()[kind]
    for name in reg.names():
        reg.config(name)
        found = [m for m in {heavy!r} if m in sys.modules]
        if found:
            print(f"{{kind}} '{{name}}': {{reg.config_target(name)}} imports {{', '.join(found)}}")
            sys.exit(1)
print("torch-free:", sum(len(registries()[k].names()) for k in
                         ("models", "datasets", "metrics", "transforms")))
"""
#: what validate reads from a config; the registered class must not answer differently
VALIDATE_READS = ("Options", "name", "check", "check_takes_limit", "default_steps",
                  "has_denoiser", "needs_teacher", "needs_reference_data", "needs_denoiser",
                  "applies_to_adapter", "frames_needed", "min_videos", "weights_source")


def _probe(setup: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-c", PROBE.format(setup=setup, heavy=HEAVY)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
                          check=False)


def test_every_config_imports_no_torch() -> None:
    proc = _probe()
    assert proc.returncode == 0 and proc.stderr == "", proc.stdout + proc.stderr
    assert proc.stdout.startswith("torch-free: ")


def test_a_component_without_torch_free_config_is_caught() -> None:
    """The probe above fails, naming the entry, for a class registered without a config (its
    module imports torch)."""
    proc = _probe('registries()["models"].add("aaa-no-config", '
                  '"vdmbench.models.synth_i2v:SynthI2VAdapter")')
    assert proc.returncode == 1
    assert proc.stdout.startswith("models 'aaa-no-config': vdmbench.models.synth_i2v:"
                                  "SynthI2VAdapter imports torch")


def _entries() -> list[tuple[object, str]]:
    return [(reg, name) for reg in (MODELS, DATASETS, METRICS, TRANSFORMS)
            for name in reg.names()]


@pytest.mark.parametrize(("registry", "name"), _entries(),
                         ids=[f"{r.kind}:{n}" for r, n in _entries()])
def test_config_is_the_classes_base(registry: object, name: str) -> None:
    cls, config = registry.get(name), registry.config(name)  # type: ignore[attr-defined]
    assert issubclass(cls, config)
    for attr in VALIDATE_READS:
        a, b = getattr(cls, attr, None), getattr(config, attr, None)
        a, b = getattr(a, "__func__", a), getattr(b, "__func__", b)
        assert a is b or a == b, f"{cls.__name__}.{attr} differs from its config's"
    if registry is MODELS:
        assert hands_out_denoiser(config) == callable(getattr(cls, "denoiser", None))
