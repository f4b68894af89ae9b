"""Messages of third-party libraries that say nothing to a vdmbench user, dropped at the logger
that emits them (each by its own text; every other message of those loggers, and every other
logger and warning, is left alone).

- ``torch.utils._pytree``: "<enum …> is an Enum subclass and is now natively supported by
  torch.compile …" — torchao registers its enums as pytree constants when diffusers imports it.
- ``diffusers.quantizers.torchao.torchao_quantizer``: "Unable to import `torchao` Tensor
  objects …" — diffusers probing torchao classes that the installed torchao moved; vdmbench
  loads no torchao-serialized checkpoint.

:func:`drop_known_noise` installs the filters (once); ``vdmbench/__init__.py`` calls it, so they
are in place before any vdmbench module imports torch, diffusers or torchao. Importing this
module imports no third-party library.
"""

from __future__ import annotations

import logging

#: logger name → the text of the messages dropped there
KNOWN_NOISE: dict[str, str] = {
    "torch.utils._pytree": "is an Enum subclass and is now natively supported by torch.compile",
    "diffusers.quantizers.torchao.torchao_quantizer":
        "Unable to import `torchao` Tensor objects",
}


class _DropText(logging.Filter):
    """Drops the records whose message contains ``text``."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def filter(self, record: logging.LogRecord) -> bool:
        return self.text not in record.getMessage()


def drop_known_noise() -> None:
    """Install a :class:`_DropText` filter on each logger of :data:`KNOWN_NOISE` (idempotent)."""
    for name, text in KNOWN_NOISE.items():
        logger = logging.getLogger(name)
        if not any(isinstance(f, _DropText) and f.text == text for f in logger.filters):
            logger.addFilter(_DropText(text))
