"""The result record's schema: what ``runner.py`` writes and ``leaderboard.py`` reads.

One record per (suite, model, run). :class:`Record` validates a record read from disk;
:func:`json_schema` exports its JSON schema (``vdmbench schema --kind record``, committed as
``suites/record.schema.json``). Version history:

- 1: the model card had ``kernels: "none" | "triton"``;
- 2: the card has ``transforms: [{name, options, installed}]`` (``kernels: triton`` became the
  transform ``triton``); version-1 records are upgraded when read (:func:`upgrade`).

Within version 2, a metric entry may carry ``undersampled`` (why the value was computed on fewer
samples than its protocol asks; :meth:`vdmbench.metrics.base.Metric.undersampled`); records
written before it existed lack it and read as not marked.

Sections whose content belongs to a metric, an adapter or the timing method (metric details and
protocols, card parameters and sampler, speed measurements) are typed loosely here and documented
where they are produced.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from vdmbench.errors import VdmbenchError

RECORD_VERSION = 2
#: versions :func:`upgrade` can read
READABLE_VERSIONS = (1, 2)


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MetricEntry(_Open):
    """One metric's result (:class:`~vdmbench.metrics.base.MetricValue` plus its identity);
    ``undersampled``: why the value is computed on fewer samples than its protocol asks, None
    (or absent) when it is not."""

    value: float | None
    n: int
    ci: list[float] | None = None
    std: float | None = None
    undersampled: str | None = None
    higher_is_better: bool
    version: str
    protocol: dict[str, Any]


class TransformEntry(_Closed):
    name: str
    options: dict[str, Any] = Field(default_factory=dict)
    installed: Any = None


class ModelCard(BaseModel):
    """What was measured: parameter counts (per component), dtype, steps, shapes, weights hash;
    what an adapter's ``describe()`` returns (:mod:`vdmbench.generation`) and, as JSON
    (:meth:`to_dict`, read back as :class:`Card`), a record's ``model.card``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    adapter: str
    params: dict[str, int]
    dtype: str
    steps: int
    frames: int
    height: int
    width: int
    weights_sha256: str
    cfg: bool = False
    sampler: dict[str, Any] = Field(default_factory=dict)
    #: transforms applied, in order: ``[{"name", "options", "installed"}]`` (set by the runner)
    transforms: list[dict[str, Any]] = Field(default_factory=list)
    #: False for videos made outside vdmbench (the ``videos`` model): the runner does not time
    #: the model and the leaderboard says "not timed"
    timed: bool = True
    #: latency the user measured and reported (``videos`` model's answers file), shown marked
    #: "user-reported": ``{"per_video": {"median_s", "p90_s", "min_s", "n"}, "source":
    #: "user-reported", "file"}``
    reported_latency: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The card as a record holds it (:class:`Card`): every field and ``total_params``,
        the sum of ``params``."""
        return {**self.model_dump(), "total_params": int(sum(self.params.values()))}


class Card(ModelCard):
    """:class:`~vdmbench.generation.ModelCard` as JSON."""

    #: (:meth:`ModelCard.to_dict`: its fields, ``total_params`` and the transforms' entries
    #: typed; fields written by later versions are kept)

    model_config = ConfigDict(extra="allow", frozen=False)

    total_params: int
    transforms: list[TransformEntry] = Field(default_factory=list)  # type: ignore[assignment]


class ModelSection(_Closed):
    name: str
    index: int
    spec: dict[str, Any]
    card: Card
    cache_key: str


class SuiteSection(_Closed):
    name: str
    hash: str
    task: Literal["i2v", "t2v"]
    reference_model: str
    teacher_model: str
    matched_speed_model: str | None = None


class Record(_Closed):
    """A result record (see the module docstring)."""

    record_version: Literal[2]
    created: str
    run_id: str
    suite: SuiteSection
    model: ModelSection
    dataset: dict[str, Any]
    seeds: dict[str, Any]
    generation: dict[str, Any]
    metrics: dict[str, MetricEntry]
    speed: dict[str, Any] | None
    timing: dict[str, Any] | None = None
    environment: dict[str, Any]
    git_commit: str | None


def upgrade(data: dict[str, Any]) -> dict[str, Any]:
    """A record of any readable version as the current version (a copy)."""
    version = data.get("record_version")
    if version == 1:
        data = {**data, "record_version": 2}
        model = dict(data.get("model") or {})
        card = dict(model.get("card") or {})
        kernels = card.pop("kernels", "none")
        card["transforms"] = [] if kernels == "none" else [{"name": kernels, "options": {}}]
        spec = dict(model.get("spec") or {})
        spec_kernels = spec.pop("kernels", "none")
        spec.setdefault("transforms", [] if spec_kernels == "none"
                        else [{"name": spec_kernels, "options": {}}])
        model.update(card=card, spec=spec)
        data["model"] = model
    return data


def validate_record(data: Any, where: str) -> dict[str, Any]:
    """``data`` (a parsed record file) upgraded and checked against :class:`Record`; errors name
    ``where`` and the first bad field. Returns the upgraded dict."""
    if not isinstance(data, dict):
        raise VdmbenchError(f"{where}: not a vdmbench result record (not a JSON object)")
    version = data.get("record_version")
    if version not in READABLE_VERSIONS:
        raise VdmbenchError(f"{where}: record_version {version!r} is not one this vdmbench reads "
                            f"({', '.join(map(str, READABLE_VERSIONS))}); rerun the suite "
                            f"with this version to get a current record")
    data = upgrade(data)
    try:
        Record.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        field = ".".join(str(p) for p in err["loc"])
        raise VdmbenchError(f"{where}: invalid result record: field '{field}': {err['msg']}"
                            ) from None
    return data


def json_schema() -> dict[str, Any]:
    """The JSON schema of result records."""
    return Record.model_json_schema()
