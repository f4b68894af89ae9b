"""One exception hierarchy for everything a user can get wrong.

The CLI turns every :class:`VdmbenchError` into one clear line on stderr and exit status 2 — a
:class:`ConfigError` listing several problems into a head line, one line per problem and each
distinct hint once (:func:`layout_problems`). Code never uses ``assert`` on user input.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

#: where a problem's text turns into advice: the first ". " followed by a capital letter
_HINT_START = re.compile(r"\.\s+(?=[A-Z])")


class VdmbenchError(Exception):
    """Base class of all user-facing errors (bad input, missing files, protocol mismatches)."""


def split_hint(problem: str) -> tuple[str, str]:
    """``(what is wrong, what to do)`` of one problem's text: the advice starts at the first
    sentence end followed by a capital letter ("… not found; looked for X. Put the file there,
    …"); ``what to do`` is "" when there is none."""
    m = _HINT_START.search(problem)
    if m is None:
        return problem, ""
    return problem[:m.start()], problem[m.end():].strip()


def layout_problems(head: str, problems: Sequence[str]) -> str:
    """``head`` then one indented line per problem; advice that several problems share is said
    once, after them, numbered, and each problem names its hint (``[hint 1]``)."""
    hints: dict[str, int] = {}
    lines = [head]
    for problem in problems:
        what, hint = split_hint(problem)
        if hint:
            number = hints.setdefault(hint, len(hints) + 1)
            what += f" [hint {number}]"
        lines.append(f"  {what}")
    lines += [f"  hint {number}: {hint}" for hint, number in hints.items()]
    return "\n".join(lines)


class ConfigError(VdmbenchError):
    """A suite or recipe file is malformed; names the file, the line and the field.
    ``problems``: several problems found at once (the message is then their count and the text
    :func:`layout_problems` lays out, one problem a line)."""

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None,
                 field: str | None = None, problems: Sequence[str] = ()) -> None:
        self.file, self.line, self.field = file, line, field
        self.problems = list(problems)
        where = []
        if file is not None:
            where.append(f"{file}" + (f":{line}" if line is not None else ""))
        if field:
            where.append(f"field '{field}'")
        prefix = ", ".join(where)
        text = f"{prefix}: {message}" if prefix else message
        if len(self.problems) > 1:
            text = layout_problems(text + ":", self.problems)
        elif self.problems:
            text += ": " + self.problems[0]
        super().__init__(text)


class OptionError(ConfigError):
    """A model entry's option found wrong by its adapter's ``check``: ``loc`` says where inside
    the entry (e.g. ``("options", "call_kwargs", "foo")``), so that the suite check names the
    file, the line and the field."""

    def __init__(self, message: str, *, loc: tuple = ()) -> None:
        super().__init__(message)
        self.loc = loc


class UnknownNameError(VdmbenchError):
    """A name (model, metric, dataset, …) is not registered; says what was meant."""


class DuplicateNameError(VdmbenchError):
    """A name was registered twice."""


class InvalidVideoError(VdmbenchError):
    """A video does not satisfy the canonical contract (uint8, (T, H, W, 3)); names the sample."""


class InvalidRequestError(VdmbenchError):
    """A generation request does not fit the model (missing prompt or image, wrong shape);
    names the request."""


class UnsupportedError(VdmbenchError):
    """A model, transform or compressor does not support what was asked of it; says why."""


class DataError(VdmbenchError):
    """A dataset file is missing, corrupt or unreadable; names the path."""


class WeightsNotFoundError(VdmbenchError):
    """A weight file is missing; says which component and where to put it."""


class ProtocolMismatchError(VdmbenchError):
    """Results measured under different protocols or metric versions were put side by side."""


class MetricError(VdmbenchError):
    """A metric cannot be computed from its inputs (too few samples, non-finite features, …)."""
