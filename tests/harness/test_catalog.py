"""Every registered name resolves to a class of the right kind that keeps its interface's
promises (docs/architecture.md): the signatures the harness calls, options that refuse unknown
keys, no abstract method left."""

from __future__ import annotations

import inspect

import pytest
from pydantic import BaseModel

from vdmbench.acceleration import Compressor, Transform
from vdmbench.catalog import COMPRESSORS, DATASETS, METRICS, MODELS, TRANSFORMS
from vdmbench.data.base import VideoDataset
from vdmbench.metrics.base import Metric


@pytest.mark.parametrize("name", METRICS.names())
def test_metric_entries(name: str) -> None:
    cls = METRICS.get(name)
    assert issubclass(cls, Metric) and cls.name == name and cls.version
    assert isinstance(cls.higher_is_better, bool) and not inspect.isabstract(cls)
    assert cls.Options.model_config.get("extra") == "forbid"


@pytest.mark.parametrize("name", DATASETS.names())
def test_dataset_entries(name: str) -> None:
    cls = DATASETS.get(name)
    assert issubclass(cls, VideoDataset) and not inspect.isabstract(cls)
    assert issubclass(cls.Options, BaseModel) and cls.Options.model_config.get("extra") == "forbid"


@pytest.mark.parametrize("name", MODELS.names())
def test_model_entries(name: str) -> None:
    """The adapter protocol: ``load(name, weights, options, device, steps, dtype)``; a
    generator has ``generate``, ``describe`` and ``components``; ``teacher(weights, device, *,
    frames, options, dtype)`` where it hands out one; options refuse unknown keys."""
    cls = MODELS.get(name)
    assert issubclass(cls.Options, BaseModel) and cls.Options.model_config.get("extra") == "forbid"
    load = inspect.signature(cls.load).parameters
    assert list(load) == ["name", "weights", "options", "device", "steps", "dtype"]
    assert load["steps"].default is None and load["dtype"].default == "float32"
    teacher = getattr(cls, "teacher", None)
    parts = ("generate", "describe", "components")
    generator = [m for m in parts if callable(getattr(cls, m, None))]
    assert generator in ([], list(parts))
    assert generator or teacher is not None, "neither a generator nor a teacher"
    if teacher is not None:
        params = inspect.signature(teacher).parameters
        assert list(params)[:2] == ["weights", "device"]
        assert all(params[k].kind is inspect.Parameter.KEYWORD_ONLY
                   for k in ("frames", "options", "dtype"))


def test_vbench_dimension_list_matches_scores() -> None:
    from vdmbench.catalog import _VBENCH_DIMENSIONS
    from vdmbench.metrics.vbench.scores import DIMENSIONS

    assert _VBENCH_DIMENSIONS == DIMENSIONS


@pytest.mark.parametrize("name", TRANSFORMS.names())
def test_transform_entries(name: str) -> None:
    cls = TRANSFORMS.get(name)
    assert issubclass(cls, Transform) and cls.name == name and not inspect.isabstract(cls)
    assert cls.Options.model_config.get("extra") == "forbid"
    cls(cls.Options())  # the defaults are valid options


@pytest.mark.parametrize("name", COMPRESSORS.names())
def test_compressor_entries(name: str) -> None:
    """A compressor's recipe says which model it is for and the clip length the teacher is
    loaded for (``vdmbench compress`` reads ``recipe.model`` and ``recipe.data.frames``)."""
    cls = COMPRESSORS.get(name)
    assert issubclass(cls, Compressor) and cls.name == name and not inspect.isabstract(cls)
    fields = cls.Recipe.model_fields
    assert "model" in fields and "frames" in fields["data"].annotation.model_fields
