"""vdmbench: compress video diffusion models and benchmark them honestly."""

from vdmbench.thirdparty import drop_known_noise

__version__ = "0.1.0"

drop_known_noise()  # before any vdmbench module imports torch, diffusers or torchao
