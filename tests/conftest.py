"""Session-wide test settings.

Triton kernels run on CPU through its interpreter; the variable must be set before anything
imports triton, so it is set here, at the root, before any test module is collected.
"""

import os

os.environ.setdefault("TRITON_INTERPRET", "1")
# as the vdmbench command does (vdmbench/entry.py): OpenMP threads that spin while waiting make
# the tests many times slower on a loaded machine; the policy changes no result
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
