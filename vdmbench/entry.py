"""The ``vdmbench`` command's entry point (console script and ``python -m vdmbench``).

Before anything imports torch it sets the process defaults the command wants, unless the user
set them: ``OMP_WAIT_POLICY=PASSIVE`` — OpenMP threads that spin while waiting made generation
up to 9× slower on a loaded machine and change no result (docs/performance.md). OpenMP
reads it once, when torch loads its runtime, so it is set here, first.

A rank of a multi-process run (``WORLD_SIZE`` > 1: torchrun, ``accelerate launch``) leaves with
``os._exit`` once the command has returned and its output is flushed: on a CPU (gloo) a rank
whose results were all written sometimes aborted during interpreter shutdown ("terminate called
without an active exception", SIGABRT, about one run in five under load), and torchrun then
reports the whole run failed. Every file a command writes is complete (atomic) before it
returns, so skipping the interpreter's teardown loses nothing.
"""

from __future__ import annotations

import os
import sys

#: environment defaults of the ``vdmbench`` process (a value the user set is kept)
ENV_DEFAULTS = {"OMP_WAIT_POLICY": "PASSIVE"}


def set_process_defaults() -> None:
    """Set :data:`ENV_DEFAULTS` where the environment does not already name them."""
    for key, value in ENV_DEFAULTS.items():
        os.environ.setdefault(key, value)


def is_multi_process_rank() -> bool:
    """Whether this process is one rank of several (``WORLD_SIZE`` > 1)."""
    try:
        return int(os.environ.get("WORLD_SIZE", "1")) > 1
    except ValueError:
        return False


def exit_code(exc: SystemExit) -> int:
    """The process exit status a ``SystemExit`` asks for (``sys.exit`` semantics: None → 0, a
    message → printed, 1)."""
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code
    print(exc.code, file=sys.stderr)
    return 1


def main() -> None:
    """Run the ``vdmbench`` command (:func:`vdmbench.cli.main`) with the process defaults; a
    rank of a multi-process run leaves with ``os._exit`` (see the module docstring)."""
    set_process_defaults()
    from vdmbench.cli import main as cli_main

    if not is_multi_process_rank():
        cli_main(prog_name="vdmbench")
        return
    code = 1
    try:
        cli_main(prog_name="vdmbench")
        code = 0
    except SystemExit as e:
        code = exit_code(e)
    except KeyboardInterrupt:
        code = 130
    except BaseException:  # noqa: BLE001 (printed as Python would, then the same fast exit)
        import traceback

        traceback.print_exc()
    finally:
        import logging

        logging.shutdown()
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
    os._exit(code)
