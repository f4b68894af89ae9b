"""``python -m vdmbench`` (what ``torchrun … -m vdmbench`` runs): the ``vdmbench`` command."""

from vdmbench.cli import main

if __name__ == "__main__":
    main(prog_name="vdmbench")
