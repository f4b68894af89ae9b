"""The ``vdmbench`` command's entry point (console script and ``python -m vdmbench``).

Before anything imports torch it sets the process defaults the command wants, unless the user
set them: ``OMP_WAIT_POLICY=PASSIVE`` — OpenMP threads that spin while waiting made generation
up to 9× slower on a loaded machine and change no result (docs/performance.md). OpenMP
reads it once, when torch loads its runtime, so it is set here, first.
"""

from __future__ import annotations

import os

#: environment defaults of the ``vdmbench`` process (a value the user set is kept)
ENV_DEFAULTS = {"OMP_WAIT_POLICY": "PASSIVE"}


def set_process_defaults() -> None:
    """Set :data:`ENV_DEFAULTS` where the environment does not already name them."""
    for key, value in ENV_DEFAULTS.items():
        os.environ.setdefault(key, value)


def main() -> None:
    """Run the ``vdmbench`` command (:func:`vdmbench.cli.main`) with the process defaults."""
    set_process_defaults()
    from vdmbench.cli import main as cli_main

    cli_main(prog_name="vdmbench")
