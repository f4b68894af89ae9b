"""VBench's prompt list and file naming.

The prompt list is ``VBench_full_info.json`` shipped inside the ``vbench`` pip package: a list of
``{"prompt_en": str, "dimension": [str, ...], "auxiliary_info"?: {...}}`` (946 entries, 944
distinct prompts in vbench 0.1.5). It is found in an installed ``vbench`` (located without
importing it) or at a path the user gives; it is never downloaded.

Videos are named ``{prompt}-{i}.mp4`` with ``i = 0 … 4`` (5 samples per prompt), all in one
folder; VBench's standard mode looks them up by exactly that name.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from vdmbench.errors import DataError
from vdmbench.metrics.vbench.scores import check_dimensions

#: how VBench reads the videos: its prompt set's file names, or any prompts (10 dimensions)
Mode = Literal["vbench_standard", "custom_input"]
FULL_INFO_NAME = "VBench_full_info.json"
SAMPLES_PER_PROMPT = 5
MAX_NAME_BYTES = 255  # file name limit of common file systems
_INDEX_SUFFIX = re.compile(r"-(\d+)$")


def video_filename(prompt: str, index: int, suffix: str = ".mp4") -> str:
    """``{prompt}-{index}{suffix}``, VBench's name for sample ``index`` of ``prompt``.

    Raises :class:`DataError` if the prompt cannot be a file name (empty, contains ``/`` or NUL,
    or the name exceeds 255 bytes)."""
    if index < 0:
        raise DataError(f"VBench video index must be >= 0, got {index} for prompt {prompt!r}")
    if not prompt or "/" in prompt or "\0" in prompt or prompt in (".", ".."):
        raise DataError(f"prompt {prompt!r} cannot be used as a VBench file name "
                        f"(empty, '/', NUL, '.' or '..')")
    name = f"{prompt}-{index}{suffix}"
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        raise DataError(f"VBench file name for prompt {prompt[:60]!r}… is "
                        f"{len(name.encode('utf-8'))} bytes, over the {MAX_NAME_BYTES}-byte limit")
    return name


def parse_filename(name: str) -> tuple[str, int | None]:
    """Inverse of :func:`video_filename`: ``"a cat-3.mp4"`` → ``("a cat", 3)``; a name without
    a ``-N`` ending gives ``(stem, None)`` (VBench's ``get_prompt_from_filename``)."""
    stem = Path(name).stem
    m = _INDEX_SUFFIX.search(stem)
    if m is None:
        return stem, None
    return stem[:m.start()], int(m.group(1))


@dataclass(frozen=True)
class PromptInfo:
    """One entry of the full-info list: the prompt, its dimensions, VBench's auxiliary info."""

    prompt: str
    dimensions: tuple[str, ...]
    auxiliary_info: dict[str, Any] = field(default_factory=dict)


def installed_full_info() -> Path | None:
    """``VBench_full_info.json`` of an installed ``vbench`` package (not imported), or None."""
    try:
        spec = importlib.util.find_spec("vbench")
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    roots = list(spec.submodule_search_locations or [])
    if spec.origin:
        roots.append(os.path.dirname(spec.origin))
    for root in roots:
        p = Path(root) / FULL_INFO_NAME
        if p.is_file():
            return p
    return None


def locate_full_info(path: str | os.PathLike[str] | None = None) -> Path:
    """The prompt list: ``path`` if given (``${ENV}`` expanded), else the installed package's.

    Raises :class:`DataError` saying where to get it when neither exists."""
    if path is not None:
        from vdmbench.paths import expand_path

        p = expand_path(path, "VBench full_info")
        if not p.is_file():
            raise DataError(f"VBench prompt list not found at {p}; pass the path of "
                            f"{FULL_INFO_NAME} (shipped in the vbench package, "
                            f"github Vchitect/VBench vbench/{FULL_INFO_NAME})")
        return p
    p = installed_full_info()
    if p is None:
        raise DataError(f"VBench prompt list {FULL_INFO_NAME} not found: the vbench package is "
                        f"not installed in this environment. Set the dataset option "
                        f"'full_info' to the file's path (it ships in the vbench package, "
                        f"e.g. <vbench env>/site-packages/vbench/{FULL_INFO_NAME})")
    return p


def load_full_info(path: str | os.PathLike[str]) -> list[PromptInfo]:
    """Parse and check a full-info file; errors name the file and the entry."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"VBench prompt list not found at {p}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DataError(f"{p}: cannot read the VBench prompt list: {e}") from None
    if not isinstance(data, list):
        raise DataError(f"{p}: expected a JSON list of prompt entries")
    out = []
    for i, e in enumerate(data):
        if (not isinstance(e, dict) or not isinstance(e.get("prompt_en"), str)
                or not isinstance(e.get("dimension"), list)):
            raise DataError(f"{p}: entry {i} lacks 'prompt_en' (str) or 'dimension' (list)")
        try:
            check_dimensions(e["dimension"])
        except Exception as err:
            raise DataError(f"{p}: entry {i}: {err}") from None
        out.append(PromptInfo(e["prompt_en"], tuple(e["dimension"]),
                              dict(e.get("auxiliary_info") or {})))
    return out


def prompts_for(infos: list[PromptInfo], dimensions: list[str] | None = None) -> list[str]:
    """Distinct prompts (first-appearance order) that belong to any of ``dimensions``
    (all prompts when None)."""
    seen: dict[str, None] = {}
    for info in infos:
        if dimensions is None or set(info.dimensions) & set(dimensions):
            seen.setdefault(info.prompt, None)
    return list(seen)


def expected_files(infos: list[PromptInfo], dimension: str,
                   samples: int = SAMPLES_PER_PROMPT) -> list[str]:
    """File names VBench's standard mode looks for when evaluating ``dimension``."""
    return [video_filename(p, i) for p in prompts_for(infos, [dimension]) for i in range(samples)]

