"""The two acceleration interfaces shared by ``compression/`` and ``baselines/``.

- :class:`Transform`: training-free, applied to a loaded generator and removable (hooks,
  attention processors, module swaps, caches). A transform has a registered ``name``, pydantic
  ``Options`` (``extra="forbid"``), :meth:`Transform.applies_to` and :meth:`Transform.apply`, a
  context manager that changes the generator's modules inside the block and restores them
  exactly after it. Suites list transforms per model (``transforms: [{name, options}]``); they
  are applied in order and enter the model card, the record and the video cache key.
- :class:`Compressor`: trained; turns a teacher's :class:`~vdmbench.diffusion.denoiser.DenoiserSpec`
  into a student directory (``save_pretrained`` components + ``compression.json``) that the
  teacher's adapter loads as ``weights``.

Both are registered lazily in :mod:`vdmbench.catalog` (``TRANSFORMS``, ``COMPRESSORS``); the harness
reaches ``compression/`` and ``baselines/`` only through those names. :func:`teacher_of` is how
``vdmbench analyze``, ``vdmbench compress`` and compressors get a teacher: from the adapter
registered under the model's name, and nowhere else.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict

from vdmbench.errors import ConfigError, UnsupportedError, VdmbenchError

if TYPE_CHECKING:
    from vdmbench.diffusion.denoiser import DenoiserSpec


#: why a transform that needs a denoiser does not apply to an adapter without one
NO_DENOISER = "its adapter hands out no denoiser"


class NoOptions(BaseModel):
    """A transform or compressor without options."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def hands_out_denoiser(factory: Any) -> bool:
    """Whether an adapter class hands out a denoiser: its (config's) ``has_denoiser`` where it
    declares one (:mod:`vdmbench.registry`), else whether it has a ``denoiser`` method."""
    declared = getattr(factory, "has_denoiser", None)
    if declared is not None:
        return bool(declared)
    return callable(getattr(factory, "denoiser", None))


def hands_out_transformer(factory: Any) -> bool:
    """Whether an adapter class may hand out a video diffusion transformer: its (config's)
    ``has_transformer`` where it declares one, else whether it has a ``transformer`` method."""
    declared = getattr(factory, "has_transformer", None)
    if declared is not None:
        return bool(declared)
    return callable(getattr(factory, "transformer", None))


@dataclass(frozen=True)
class Applicability:
    """Whether a transform applies to a generator; ``reason`` says why not. Truthy when it
    applies."""

    ok: bool
    reason: str = ""

    def __bool__(self) -> bool:
        return self.ok


class Transform(ABC):
    """A training-free acceleration method (see the module docstring).

    Subclasses set ``name`` and ``Options`` and implement :meth:`_attach` and, where more than
    "the adapter hands out a denoiser" decides it, :meth:`applies_to_denoiser`. ``_attach``
    changes the generator's modules (those of :meth:`denoiser`) and returns ``(undo,
    summary)``: a callable that restores them exactly and a JSON-able summary of what was
    changed (for the model card). A transform that works without a denoiser sets
    ``needs_denoiser = False`` and overrides :meth:`applies_to`.
    """

    name: ClassVar[str] = "transform"
    Options: ClassVar[type[BaseModel]] = NoOptions
    #: whether the transform works on the adapter's ``denoiser()`` (checked before any loading)
    needs_denoiser: ClassVar[bool] = True

    @classmethod
    def applies_to_adapter(cls, factory: Any) -> Applicability:
        """What can be told from the adapter's class alone (``vdmbench validate``, and a run
        before it loads or generates anything)."""
        if cls.needs_denoiser and not hands_out_denoiser(factory):
            return Applicability(False, NO_DENOISER)
        return Applicability(True)

    def __init__(self, options: BaseModel | dict[str, Any] | None = None) -> None:
        if not isinstance(options, self.Options):
            options = self.Options.model_validate(options or {})
        self.options = options

    def applies_to(self, generator: Any) -> Applicability:
        """Whether this transform can be applied to ``generator`` (a loaded adapter): with
        ``needs_denoiser``, the adapter must hand out a denoiser, and
        :meth:`applies_to_denoiser` says the rest."""
        if not self.needs_denoiser:
            return Applicability(True)
        spec = denoiser_of(generator)
        if spec is None:
            return Applicability(False, NO_DENOISER)
        return self.applies_to_denoiser(generator, spec)

    def applies_to_denoiser(self, generator: Any, spec: DenoiserSpec) -> Applicability:
        """What decides, besides a denoiser ``spec`` being there, whether this transform
        applies to ``generator`` (default: nothing more)."""
        return Applicability(True)

    def denoiser(self, generator: Any) -> DenoiserSpec:
        """``generator.denoiser()``; an adapter without one is an :class:`UnsupportedError`."""
        spec = denoiser_of(generator)
        if spec is None:
            raise UnsupportedError(f"{self.name}: {NO_DENOISER.removeprefix('its ')}")
        return spec

    @abstractmethod
    def _attach(self, generator: Any) -> tuple[Any, dict[str, Any]]:
        """Change ``generator``; return (undo callable, summary dict)."""

    def describe(self) -> dict[str, Any]:
        """``{"name", "options"}`` as JSON data: what enters the card and the cache key."""
        return {"name": self.name, "options": self.options.model_dump(mode="json")}

    @contextlib.contextmanager
    def apply(self, generator: Any, *, model: str | None = None) -> Iterator[dict[str, Any]]:
        """Apply to ``generator`` inside the block (yields the summary); restore after it.
        Raises :class:`UnsupportedError` (naming the transform, the suite's model entry
        ``model`` if given, and why) where it does not apply."""
        verdict = self.applies_to(generator)
        if not verdict:
            entry = f"model entry '{model}': " if model is not None else ""
            raise UnsupportedError(f"{entry}transform '{self.name}' does not apply to "
                                   f"{_describe_generator(generator)}: {verdict.reason}")
        undo, summary = self._attach(generator)
        try:
            yield summary
        finally:
            undo()


def _describe_generator(generator: Any) -> str:
    name = getattr(generator, "name", None)
    try:
        adapter = generator.describe().adapter
    except Exception:  # noqa: BLE001 (a description for an error message only)
        adapter = type(generator).__name__
    return f"model '{name}' (adapter {adapter})" if name else f"adapter {adapter}"


def denoiser_of(generator: Any) -> DenoiserSpec | None:
    """``generator.denoiser()``, or None where the adapter hands out none."""
    fn = getattr(generator, "denoiser", None)
    if fn is None:
        return None
    try:
        return fn()
    except UnsupportedError:
        return None


def make_transforms(specs: Sequence[Any], *, model: str) -> list[Transform]:
    """Instantiate the transforms a suite's model entry lists (``name`` + ``options``), in
    order, from the ``TRANSFORMS`` registry."""
    from vdmbench.catalog import TRANSFORMS

    out: list[Transform] = []
    for spec in specs:
        cls = TRANSFORMS.get(spec.name)
        try:
            out.append(cls(spec.options))
        except ValueError as e:  # pydantic's ValidationError is a ValueError
            raise ConfigError(f"model '{model}': transform '{spec.name}': invalid options: {e}",
                              field="transforms") from None
    return out


@contextlib.contextmanager
def transformed(generator: Any, transforms: Sequence[Transform], *, model: str
                ) -> Iterator[list[dict[str, Any]]]:
    """Apply ``transforms`` to ``generator`` in order; yields their descriptions with what each
    installed (``[{"name", "options", "installed"}]``); removes them in reverse order after."""
    with contextlib.ExitStack() as stack:
        applied = []
        for t in transforms:
            summary = stack.enter_context(t.apply(generator, model=model))
            applied.append({**t.describe(), "installed": summary})
        yield applied


class TransformedGenerator:
    """A generator with transforms applied: delegates everything to ``generator``; its card
    (:meth:`describe`) lists the transforms (``ModelCard.transforms``)."""

    def __init__(self, generator: Any, applied: list[dict[str, Any]]) -> None:
        self._generator = generator
        self.applied = applied

    def describe(self) -> Any:
        return self._generator.describe().model_copy(update={"transforms": list(self.applied)})

    def generate(self, requests: Any) -> Any:
        return self._generator.generate(requests)

    def components(self, request: Any) -> Any:
        return self._generator.components(request)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._generator, name)


class Compressor(ABC):
    """A trained acceleration method: ``fit(teacher, recipe, out)`` writes a student directory.

    ``name``: registered name; ``Recipe``: the pydantic recipe schema; :meth:`default_recipe`:
    the recipe shipped for a model (or an error saying there is none)."""

    name: ClassVar[str] = "compressor"
    Recipe: ClassVar[type[BaseModel]] = NoOptions

    @abstractmethod
    def default_recipe(self, model: str) -> BaseModel:
        """The shipped recipe for ``model``."""

    @abstractmethod
    def load_recipe(self, path: str | Path) -> BaseModel:
        """A recipe file, validated (errors name the file, line and field)."""

    @abstractmethod
    def fit(self, teacher: DenoiserSpec, recipe: BaseModel, out: str | Path, **kwargs: Any
            ) -> Path:
        """Compress ``teacher`` under ``recipe`` into the student directory ``out``."""


def teacher_of(model: str, weights: str | None, device: str = "cpu", *,
               frames: int | None = None, options: dict[str, Any] | None = None,
               dtype: str = "float32") -> DenoiserSpec:
    """The teacher denoiser of the adapter registered as ``model`` (``AdapterClass.teacher``).

    Raises :class:`UnsupportedError` (listing the adapters that can) when that adapter hands
    out no teacher for training."""
    from vdmbench.catalog import MODELS

    factory = MODELS.get(model)
    fn = getattr(factory, "teacher", None)
    if fn is None:
        raise UnsupportedError(
            f"model '{model}' cannot be analysed or compressed: its adapter hands out no "
            f"teacher denoiser (models that can: {', '.join(compressible_models())})")
    spec = fn(weights, device, frames=frames, options=options, dtype=dtype)
    spec.name = model
    return spec


def compressible_models() -> list[str]:
    """Registered models whose adapter has a ``teacher`` method (imports the adapters)."""
    from vdmbench.catalog import MODELS

    out = []
    for name in MODELS.names():
        try:
            if hasattr(MODELS.get(name), "teacher"):
                out.append(name)
        except (ImportError, VdmbenchError):
            continue
    return out
