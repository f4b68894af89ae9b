"""Diffusion math shared by every adapter, trainer and acceleration method.

:mod:`vdmbench.diffusion.edm` holds the EDM preconditioning, the Karras σ schedule and the loss
weight; :mod:`vdmbench.diffusion.denoiser` the :class:`DenoiserSpec` every adapter hands out
(see docs/architecture.md).
"""
