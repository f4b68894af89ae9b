"""``python -m vdmbench`` (what ``torchrun … -m vdmbench`` runs): the ``vdmbench`` command, with
the process defaults of :mod:`vdmbench.entry` (``OMP_WAIT_POLICY=PASSIVE`` unless set)."""

from vdmbench.entry import main

if __name__ == "__main__":
    main()
