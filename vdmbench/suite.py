"""Suite files: YAML validated by pydantic, errors naming the file, the line and the field.

A suite says which dataset, which models, which metrics and which speed settings one run uses.
This module imports no torch: ``vdmbench validate`` checks a suite's schema without loading models.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path, PurePosixPath
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from vdmbench.errors import ConfigError

SCHEMA_VERSION = 2
SLUG = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_slug(value: str, what: str) -> str:
    if not re.match(SLUG, value) or ".." in value:
        raise ValueError(
            f"{what} {value!r} must be 1-80 letters, digits, '.', '_' or '-' (it names files)")
    return value


class DatasetSpec(_Strict):
    """Which samples: the registered dataset ``name`` and its common options."""

    name: str
    split: str = "test"
    num_videos: int = Field(64, gt=0, description="number of requests / reference videos")
    frames: int = Field(16, gt=0)
    height: int = Field(32, gt=0)
    width: int = Field(32, gt=0)
    fps: float = Field(8.0, gt=0)
    seed: int = Field(0, ge=0)
    options: dict[str, Any] = Field(default_factory=dict,
                                    description="dataset-specific options (validated by it)")


class TransformSpec(_Strict):
    """A registered transform (``vdmbench ls transforms``) and its options (validated by it)."""

    name: str
    options: dict[str, Any] = Field(default_factory=dict)


class ModelSpec(_Strict):
    """One model to evaluate: a unique ``name``, a registered ``adapter``, its options and the
    transforms applied to it, in order."""

    name: str
    adapter: str
    weights: str | None = Field(None,
                                description="path to weights; ${ENV} allowed; None = built-in")
    steps: int | None = Field(None, gt=0)
    dtype: Literal["float32", "float16", "bfloat16"] = "float32"
    transforms: list[TransformSpec] = Field(
        default_factory=list, description="training-free accelerations applied in order "
                                          "(e.g. [{name: triton}])")
    options: dict[str, Any] = Field(default_factory=dict,
                                    description="adapter-specific options (validated by it)")

    @field_validator("name")
    @classmethod
    def _name_is_slug(cls, v: str) -> str:
        return _check_slug(v, "model name")


class MetricSpec(_Strict):
    """One metric by registered ``name``; ``options`` are validated by the metric."""

    name: str
    options: dict[str, Any] = Field(default_factory=dict)


class SpeedSpec(_Strict):
    """How speed is measured: after all generation and metrics, every model of the suite in
    alternating rounds in one process (MLPerf-style minimums over all rounds; a timing short of
    them is marked invalid; see vdmbench/timing.py)."""

    enabled: bool = True
    warmup: int = Field(1, ge=0, description="untimed calls of each callable before round 1")
    iterations: int = Field(5, gt=0, description="minimum timed iterations (all rounds)")
    min_seconds: float = Field(0.0, ge=0, description="minimum total timed duration (all rounds)")
    components: list[str] = Field(default_factory=lambda: ["encode", "denoise", "decode"])
    rounds: int = Field(10, ge=6, le=1000,
                        description="interleaved rounds (A, B, C, A, B, C, …); ≥ 6 for a 95% "
                                    "interval of the median per-round ratio")
    threads: int | None = Field(None, gt=0,
                                description="torch threads while timing (recorded); null = "
                                            "the process's setting")
    noise_threshold: float = Field(0.10, gt=0, lt=1,
                                   description="a speed-up whose 95% interval reaches beyond "
                                               "median × (1 ± this) is marked noisy")


class Suite(_Strict):
    """A benchmark suite (see docs/harness.md)."""

    schema_version: Literal[2]
    name: str
    description: str = ""
    task: Literal["i2v", "t2v"]
    dataset: DatasetSpec
    models: list[ModelSpec] = Field(min_length=1)
    metrics: list[MetricSpec] = Field(default_factory=list)
    speed: SpeedSpec = Field(default_factory=SpeedSpec)
    reference_model: str | None = Field(
        None, description="the model speed-ups are relative to (default: the first)")
    teacher_model: str | None = Field(
        None, description="the model fidelity metrics compare against (default: reference_model)")
    matched_speed_model: str | None = Field(
        None, description="the model whose per-video speed-up the leaderboard's matched-speed "
                          "table matches (default: the first student without transforms)")
    output: str | None = Field(
        None, description="sub-folder of the output directory (default: the suite name)")
    batch_size: int = Field(8, gt=0, description="videos per generate() call")

    @field_validator("name")
    @classmethod
    def _name_is_slug(cls, v: str) -> str:
        return _check_slug(v, "suite name")

    @field_validator("output")
    @classmethod
    def _output_stays_inside(cls, v: str | None) -> str | None:
        if v is None:
            return v
        p = PurePosixPath(v)
        if p.is_absolute() or ".." in p.parts or "\\" in v or v.strip() in ("", "."):
            raise ValueError(f"output {v!r} must be a relative path inside the output directory")
        for part in p.parts:
            _check_slug(part, "output path component")
        return v

    @model_validator(mode="after")
    def _names_are_consistent(self) -> Suite:
        names = [m.name for m in self.models]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"duplicate model names: {', '.join(dup)}")
        for field in ("reference_model", "teacher_model", "matched_speed_model"):
            value = getattr(self, field)
            if value is not None and value not in names:
                raise ValueError(f"{field} '{value}' is not one of the suite's models: "
                                 f"{', '.join(names)}")
        metric_names = [m.name for m in self.metrics]
        dup = sorted({n for n in metric_names if metric_names.count(n) > 1})
        if dup:
            raise ValueError(f"duplicate metric names: {', '.join(dup)}")
        return self

    @property
    def reference(self) -> str:
        return self.reference_model or self.models[0].name

    @property
    def teacher(self) -> str:
        return self.teacher_model or self.reference

    def model(self, name: str) -> ModelSpec:
        return next(m for m in self.models if m.name == name)

    def content_hash(self) -> str:
        """sha256 of the validated suite as canonical JSON, without ``matched_speed_model``
        (it chooses a view of the results, not the results: runs keep their identity)."""
        blob = json.dumps(self.model_dump(mode="json", exclude={"matched_speed_model"}),
                          sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()


# ----------------------------------------------------------------------------- YAML with lines


class _LineLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _line_index(node: yaml.Node, path: tuple = (), out: dict | None = None) -> dict:
    """Map each path (tuple of keys / indices) to the 1-based line where it starts."""
    out = {} if out is None else out
    out.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            key = k.value
            out[path + (key,)] = k.start_mark.line + 1
            _line_index(v, path + (key,), out)
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            out[path + (i,)] = v.start_mark.line + 1
            _line_index(v, path + (i,), out)
    return out


def load_yaml_with_lines(path: Path) -> tuple[Any, dict]:
    """Parse a YAML file; returns (data, {path: line}). Syntax errors name file and line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("file not found", file=str(path)) from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read: {e}", file=str(path)) from None
    try:
        node = yaml.compose(text, Loader=_LineLoader)
        data = yaml.load(text, Loader=_LineLoader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.MarkedYAMLError as e:
        # the construct that was left open (context) is where the user must look, if known
        mark = e.context_mark or e.problem_mark
        line = mark.line + 1 if mark is not None else None
        detail = f"{e.problem or e}"
        if e.context and e.problem_mark is not None:
            detail += f" ({e.context}; noticed at line {e.problem_mark.line + 1})"
        raise ConfigError(f"invalid YAML: {detail}", file=str(path), line=line) from None
    except yaml.YAMLError as e:
        raise ConfigError(f"invalid YAML: {e}", file=str(path)) from None
    lines = _line_index(node) if node is not None else {}
    return data, lines


def line_of(lines: dict, loc: tuple) -> int | None:
    """The line of the deepest known prefix of ``loc``."""
    loc = tuple(loc)
    while loc:
        if loc in lines:
            return lines[loc]
        loc = loc[:-1]
    return lines.get(())


def field_name(loc: tuple) -> str:
    """Dotted field path as a user reads it: ``models[1].steps``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def validate_model(model: type[BaseModel], data: Any, *, file: str | None, lines: dict,
                   prefix: tuple = ()) -> Any:
    """Validate ``data`` with ``model``; the first error becomes a :class:`ConfigError`."""
    try:
        return model.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        loc = prefix + tuple(err["loc"])
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            allowed = ", ".join(sorted(model_fields_at(model, tuple(err["loc"])[:-1])))
            msg = f"unknown key '{loc[-1]}'" + (f" (allowed: {allowed})" if allowed else "")
        elif err["type"] == "missing":
            msg = "required field is missing"
        raise ConfigError(msg, file=file, line=line_of(lines, loc),
                          field=field_name(loc) or None) from None


def model_fields_at(model: type[BaseModel], loc: tuple) -> list[str]:
    """Field names of the nested pydantic model found at ``loc`` (best effort)."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        fields = getattr(current, "model_fields", None)
        if not fields or part not in fields:
            return []
        ann = fields[part].annotation
        args = getattr(ann, "__args__", ())
        current = next((a for a in (ann, *args) if hasattr(a, "model_fields")), None)
        if current is None:
            return []
    return list(getattr(current, "model_fields", {}))


def upgrade_v1(data: dict, *, file: str, lines: dict) -> dict:
    """A schema-version-1 suite as version 2: a model's ``kernels: triton`` becomes
    ``transforms: [{name: triton}]`` and ``kernels: none`` is dropped (nothing else changed)."""
    data = dict(data)
    data["schema_version"] = 2
    models = data.get("models")
    if isinstance(models, list):
        out = []
        for i, m in enumerate(models):
            if isinstance(m, dict) and "kernels" in m:
                m = dict(m)
                kernels = m.pop("kernels")
                if kernels == "triton":
                    if "transforms" in m:
                        raise ConfigError("give either 'kernels' (schema_version 1) or "
                                          "'transforms', not both", file=file,
                                          line=line_of(lines, ("models", i, "kernels")),
                                          field=f"models[{i}].kernels")
                    m["transforms"] = [{"name": "triton"}]
                elif kernels != "none":
                    raise ConfigError(f"kernels must be 'none' or 'triton', got {kernels!r}; "
                                      f"schema_version 2 writes transforms: [{{name: triton}}]",
                                      file=file, line=line_of(lines, ("models", i, "kernels")),
                                      field=f"models[{i}].kernels")
            out.append(m)
        data["models"] = out
    return data


def load_suite(path: str | Path) -> tuple[Suite, dict]:
    """Read and validate a suite file's schema (version 1 files are upgraded, see
    :func:`upgrade_v1`). Returns (suite, line index)."""
    path = Path(path)
    data, lines = load_yaml_with_lines(path)
    if not isinstance(data, dict):
        raise ConfigError("a suite must be a YAML mapping", file=str(path), line=1)
    if data.get("schema_version") == 1:
        data = upgrade_v1(data, file=str(path), lines=lines)
    suite = validate_model(Suite, data, file=str(path), lines=lines)
    return suite, lines


def json_schema() -> dict:
    """The JSON schema of suite files (exported to suites/schema.json)."""
    return Suite.model_json_schema()
