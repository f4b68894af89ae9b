"""MCA discriminator: the heads must learn to separate teacher ("real") from student ("fake").

Key fact used below: for identical real and fake logits the hinge D loss is
``Σ_heads mean(relu(1 − r) + relu(1 + r)) ≥ 2`` per head, so a D loss clearly below 2 per head
proves that the heads saw different real and fake features *and* were trained on them.
"""

from __future__ import annotations

import torch

import compression.distill as distill
from compression.icmd import MCADiscriminator, encoder_features, hinge_d_loss, hinge_g_loss
from compression.plan import make_plan
from compression.recipe import Recipe
from compression.student import apply
from vdmbench.models.svd_denoiser import SVDDenoiser


def test_hinge_at_chance_is_two_per_head():
    g = torch.Generator().manual_seed(0)
    logits = [torch.randn(50, generator=g) * s for s in (0.01, 0.3, 2.0)]
    # identical real and fake logits: never below 2 per head, exactly 2 inside the margin
    assert float(hinge_d_loss(logits, logits)) >= 2 * len(logits) - 1e-6
    small = [x * 0.1 for x in logits[:2]]
    assert abs(float(hinge_d_loss(small, small)) - 2 * len(small)) < 1e-5
    # signs: real above +1 and fake below −1 cost nothing; the generator wants fake high
    assert float(hinge_d_loss([torch.full((4,), 2.0)], [torch.full((4,), -2.0)])) == 0.0
    assert float(hinge_d_loss([torch.full((4,), -2.0)], [torch.full((4,), 2.0)])) == 6.0
    assert float(hinge_g_loss([torch.full((4,), 3.0)])) == -3.0


def test_heads_separate_clearly_different_inputs(unet):
    """A few optimizer steps (the trainer's D optimizer) on real = smooth clips, fake = white
    noise clips, both re-noised with the same σ', n' and read by the frozen teacher encoder."""
    unet.requires_grad_(False)
    fam = SVDDenoiser(unet, frames=4, size=8)
    batch = fam.batch(2, seed=1)
    g = torch.Generator().manual_seed(2)
    real = batch["x0"]
    fake = torch.randn(real.shape, generator=g)
    sig2 = torch.full((2,), 0.3)
    n2 = torch.randn(real.shape, generator=g)
    with torch.no_grad():
        rf, ff = (encoder_features(unet, **fam.encode_inputs(x + 0.3 * n2, sig2, batch))
                  for x in (real, fake))
    assert all(not t.requires_grad for t in rf + ff)
    torch.manual_seed(0)
    heads = MCADiscriminator(list(unet.config.block_out_channels), hidden=16)
    n_heads = 2 * len(rf)
    opt = distill.disc_optimizer(heads, lr=2e-3)
    losses = []
    for _ in range(12):
        loss = hinge_d_loss(heads(rf, 4), heads(ff, 4))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        assert all(p.grad is not None and p.grad.abs().sum() > 0
                   for n, p in heads.named_parameters() if not n.endswith("3.bias")), \
            "every head weight must get a gradient"
        opt.step()
        losses.append(float(loss.detach()))
    with torch.no_grad():
        r_out, f_out = heads(rf, 4), heads(ff, 4)
        final = float(hinge_d_loss(r_out, f_out))
    assert final < losses[0] - 2.0, losses
    assert final < 2 * n_heads - 2.0, (final, n_heads)
    for i, (r, f) in enumerate(zip(r_out, f_out)):
        assert float(r.mean()) > float(f.mean()) + 0.1, f"head {i} does not separate"


def test_trainer_discriminator_learns(tmp_path, unet, monkeypatch):
    """In ``distill.train`` with MCA on: the heads' parameters change, the D loss is not constant
    and drops clearly below its chance value (8 heads × 2), and the logged logit gap is > 0.
    The student is held (almost) still and every step sees the same batch, so the D loss can
    only fall if the trainer's D update works on distinct real and fake features."""
    monkeypatch.setattr(distill, "_step_seed", lambda *a: 5)
    made: list[MCADiscriminator] = []
    init_state: dict[str, torch.Tensor] = {}

    def make_heads(*a, **k) -> MCADiscriminator:  # the trainer's heads, snapshotted at birth
        made.append(MCADiscriminator(*a, **k))
        init_state.update({n: p.detach().clone() for n, p in made[-1].state_dict().items()})
        return made[-1]

    monkeypatch.setattr(distill, "MCADiscriminator", make_heads)
    fam = SVDDenoiser(unet, frames=4, size=8)
    student = apply(unet, make_plan("vdmini", unet.config))
    rec = Recipe(model="random-svd", data={"frames": 4},
                 train=dict(max_steps=12, batch_size=2, lr=1e-8, disc_lr=2e-3, ema_decay=None,
                            seed=3, checkpoint_every=100, grad_clip=None),
                 loss=dict(lambda_icd=0.0, lambda_mca=1.0, mca_hidden=16))
    rows: list[dict[str, float]] = []
    distill.train(fam, student, rec, tmp_path, progress=False, resume=False,
                  on_step=lambda s, p: rows.append(dict(p)))
    heads = made[-1]
    changed = [n for n, p in heads.state_dict().items() if not torch.equal(p, init_state[n])]
    assert len(changed) > len(init_state) // 2, changed
    d = [r["mca_d"] for r in rows]
    n_heads = 2 * len(unet.config.block_out_channels)
    assert len(rows) == 12 and len(set(d)) > 1, d
    assert abs(d[0] - 2 * n_heads) < 0.5, d  # starts at chance
    assert d[-1] < 2 * n_heads - 1.0, d       # identical real/fake could never go below 16
    assert rows[-1]["mca_gap"] > 0.05, [r["mca_gap"] for r in rows]
    header = (tmp_path / "loss_log.csv").read_text().splitlines()[0].split(",")
    assert "mca_gap" in header
