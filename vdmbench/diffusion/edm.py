"""EDM (Karras et al. 2022) math: preconditioning, the ρ σ schedule, the loss weight, an Euler step.

diffusers' ``EDMEulerScheduler`` holds the same formulas, but it computes the schedule in
float32 and keeps its own step state; vdmbench's shipped synthetic models and their committed
reference numbers were produced with the float64 schedule below, so these few lines are ours
(docs/architecture.md, "the diffusion math").
"""

from __future__ import annotations

import torch

from vdmbench.errors import ConfigError


def edm_scalings(sigma: torch.Tensor, sigma_data: float
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """EDM preconditioning (Karras et al. 2022, Table 1) for σ of any shape:
    ``c_skip = σd²/(σ²+σd²)``, ``c_out = σ·σd/√(σ²+σd²)``, ``c_in = 1/√(σ²+σd²)``,
    ``c_noise = ln(σ)/4``."""
    s2 = sigma ** 2 + sigma_data ** 2
    c_skip = sigma_data ** 2 / s2
    c_out = sigma * sigma_data / s2.sqrt()
    c_in = 1.0 / s2.sqrt()
    c_noise = sigma.log() / 4.0
    return c_skip, c_out, c_in, c_noise


def edm_loss_weight(sigma: torch.Tensor, sigma_data: float = 1.0) -> torch.Tensor:
    """λ(σ) = (σ² + σd²) / (σ·σd)² (EDM), so that the weighted loss has unit scale at every σ."""
    return (sigma ** 2 + sigma_data ** 2) / (sigma * sigma_data) ** 2


def karras_sigmas(steps: int, sigma_min: float, sigma_max: float, rho: float = 7.0,
                  dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``steps`` noise levels from σ_max down to σ_min (Karras ρ schedule, computed in float64),
    then a final 0: ``(steps + 1,)`` in ``dtype``. One step gives ``[σ_max, 0]``."""
    if steps < 1:
        raise ConfigError(f"steps must be ≥ 1, got {steps}")
    if not 0 < sigma_min < sigma_max:
        raise ConfigError(f"need 0 < sigma_min < sigma_max, got {sigma_min}, {sigma_max}")
    if steps == 1:
        sig = torch.tensor([sigma_max], dtype=torch.float64)
    else:
        ramp = torch.linspace(0, 1, steps, dtype=torch.float64)
        lo, hi = sigma_min ** (1 / rho), sigma_max ** (1 / rho)
        sig = (hi + ramp * (lo - hi)) ** rho
    return torch.cat([sig, sig.new_zeros(1)]).to(dtype)


def euler_step(x: torch.Tensor, denoised: torch.Tensor, sigma: float, sigma_next: float
               ) -> torch.Tensor:
    """One Euler step of the probability-flow ODE from σ to σ_next (σ_next = 0 → ``denoised``)."""
    if sigma_next == 0.0:
        return denoised
    return x + (x - denoised) / sigma * (sigma_next - sigma)
