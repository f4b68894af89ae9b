"""One exception hierarchy for everything a user can get wrong.

The CLI turns every :class:`VdmbenchError` into one clear line on stderr and exit status 2.
Code never uses ``assert`` on user input.
"""

from __future__ import annotations


class VdmbenchError(Exception):
    """Base class of all user-facing errors (bad input, missing files, protocol mismatches)."""


class ConfigError(VdmbenchError):
    """A suite or recipe file is malformed; names the file, the line and the field."""

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None,
                 field: str | None = None) -> None:
        self.file, self.line, self.field = file, line, field
        where = []
        if file is not None:
            where.append(f"{file}" + (f":{line}" if line is not None else ""))
        if field:
            where.append(f"field '{field}'")
        prefix = ", ".join(where)
        super().__init__(f"{prefix}: {message}" if prefix else message)


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
