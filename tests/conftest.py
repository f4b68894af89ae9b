"""Session-wide test settings.

Triton kernels run on CPU through its interpreter; the variable must be set before anything
imports triton, so it is set here, at the root, before any test module is collected.
"""

import os

os.environ.setdefault("TRITON_INTERPRET", "1")
