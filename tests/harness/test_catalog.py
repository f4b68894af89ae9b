"""Every registered name resolves to a class of the right kind."""

from __future__ import annotations

import pytest

from vdmbench.acceleration import Compressor, Transform
from vdmbench.catalog import COMPRESSORS, DATASETS, METRICS, MODELS, TRANSFORMS
from vdmbench.data.base import VideoDataset
from vdmbench.metrics.base import Metric


@pytest.mark.parametrize("name", METRICS.names())
def test_metric_entries(name: str) -> None:
    cls = METRICS.get(name)
    assert issubclass(cls, Metric) and cls.name == name and cls.version
    assert isinstance(cls.higher_is_better, bool)


@pytest.mark.parametrize("name", DATASETS.names())
def test_dataset_entries(name: str) -> None:
    assert issubclass(DATASETS.get(name), VideoDataset)


@pytest.mark.parametrize("name", MODELS.names())
def test_model_entries(name: str) -> None:
    cls = MODELS.get(name)
    assert hasattr(cls, "Options") and callable(getattr(cls, "load", None))


def test_vbench_dimension_list_matches_scores() -> None:
    from vdmbench.catalog import _VBENCH_DIMENSIONS
    from vdmbench.metrics.vbench.scores import DIMENSIONS

    assert _VBENCH_DIMENSIONS == DIMENSIONS


@pytest.mark.parametrize("name", TRANSFORMS.names())
def test_transform_entries(name: str) -> None:
    cls = TRANSFORMS.get(name)
    assert issubclass(cls, Transform) and cls.name == name
    assert cls.Options.model_config.get("extra") == "forbid"


@pytest.mark.parametrize("name", COMPRESSORS.names())
def test_compressor_entries(name: str) -> None:
    cls = COMPRESSORS.get(name)
    assert issubclass(cls, Compressor) and cls.name == name
