"""vdmbench: compress video diffusion models and benchmark them honestly."""

__version__ = "0.1.0"
