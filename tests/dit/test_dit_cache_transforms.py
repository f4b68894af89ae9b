"""diffusers' cache methods as transforms on tiny random Wan, CogVideoX and LTX transformers
(diffusers classes, CPU): the identity setting is bit-identical, another setting changes the
output, the transformer is bit-identical after the context (state dict, forward, no hooks left)
and two videos in a row share no cache (the second equals a fresh run)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch

from baselines.magcache_calibrate import calibrate
from vdmbench.acceleration import make_transforms, transformed
from vdmbench.diffusion.denoiser import state_hash
from vdmbench.errors import UnsupportedError
from vdmbench.suite import TransformSpec

torch.set_num_threads(1)
STEPS = 6  # timesteps 1000, 833, 667, 500, 333, 167


def _wan() -> Any:
    from diffusers import WanTransformer3DModel

    return WanTransformer3DModel(
        patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12, in_channels=4,
        out_channels=4, text_dim=16, freq_dim=32, ffn_dim=32, num_layers=3,
        cross_attn_norm=True, qk_norm="rms_norm_across_heads", rope_max_seq_len=32)


def _cogvideox() -> Any:
    from diffusers import CogVideoXTransformer3DModel

    return CogVideoXTransformer3DModel(
        num_attention_heads=2, attention_head_dim=8, in_channels=4, out_channels=4,
        time_embed_dim=4, text_embed_dim=16, num_layers=3, sample_width=8, sample_height=8,
        sample_frames=5, patch_size=2, temporal_compression_ratio=4, max_text_seq_length=6)


def _ltx() -> Any:
    from diffusers import LTXVideoTransformer3DModel

    return LTXVideoTransformer3DModel(
        in_channels=4, out_channels=4, patch_size=1, patch_size_t=1, num_attention_heads=2,
        attention_head_dim=8, cross_attention_dim=16, num_layers=3, caption_channels=16,
        qk_norm="rms_norm_across_heads")


class TinySampler:
    """A generator around a tiny transformer: Euler flow-matching steps, CFG batched as
    [uncond, cond] in one call inside ``cache_context("cond_uncond")`` (as diffusers' CogVideoX
    and LTX pipelines call it). ``generate(requests)`` → one output tensor per request (each
    request its own trajectory, from its ``seed``)."""

    def __init__(self, kind: str) -> None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            self.model = {"wan": _wan, "cogvideox": _cogvideox, "ltx": _ltx}[kind]().eval()
            self.text = torch.randn(2, 6, 16)  # [uncond, cond]
        self.kind, self.steps, self.name = kind, STEPS, f"tiny-{kind}"

    def transformer(self) -> Any:
        return self.model

    def describe(self) -> Any:
        return SimpleNamespace(adapter=self.name, weights_sha256=state_hash(self.model),
                               steps=self.steps)

    def _call(self, x: torch.Tensor, t: float) -> torch.Tensor:
        b = x.shape[0]
        ts = torch.full((2 * b,), t)
        ctx = self.text.repeat_interleave(b, 0)
        xx = torch.cat([x, x])
        with self.model.cache_context("cond_uncond"):
            if self.kind == "wan":  # (B, C, F, H, W)
                out = self.model(hidden_states=xx, timestep=ts, encoder_hidden_states=ctx,
                                 return_dict=False)[0]
            elif self.kind == "cogvideox":  # (B, F, C, H, W)
                out = self.model(hidden_states=xx, timestep=ts, encoder_hidden_states=ctx,
                                 return_dict=False)[0]
            else:  # LTX: tokens (B, F·H·W, C)
                out = self.model(hidden_states=xx, timestep=ts, encoder_hidden_states=ctx,
                                 encoder_attention_mask=torch.ones(2 * b, 6, dtype=torch.bool),
                                 num_frames=2, height=4, width=4, return_dict=False)[0]
        u, c = out.chunk(2)
        return u + 3.0 * (c - u)

    def shape(self) -> tuple[int, ...]:
        return {"wan": (4, 2, 8, 8), "cogvideox": (2, 4, 8, 8), "ltx": (32, 4)}[self.kind]

    @torch.no_grad()
    def generate(self, requests: list[Any]) -> list[torch.Tensor]:
        out = []
        for r in requests:
            x = torch.randn(1, *self.shape(), generator=torch.Generator().manual_seed(r.seed))
            sig = torch.linspace(1.0, 0.0, self.steps + 1)
            for i in range(self.steps):
                v = self._call(x, float(sig[i]) * 1000)
                x = x + (sig[i + 1] - sig[i]) * v
            out.append(x[0])
        return out


KINDS = ["wan", "cogvideox", "ltx"]


@pytest.fixture(scope="module")
def samplers() -> dict[str, TinySampler]:
    return {k: TinySampler(k) for k in KINDS}


@pytest.fixture(scope="module")
def ratios(samplers: dict[str, TinySampler], tmp_path_factory: pytest.TempPathFactory
           ) -> dict[str, str]:
    """MagCache ratios calibrated on each tiny model with diffusers' calibration mode."""
    out = {}
    for kind, s in samplers.items():
        got = calibrate(s, [SimpleNamespace(seed=i) for i in range(2)], STEPS)
        assert len(got) == 2 and all(len(g) == STEPS for g in got)
        assert got[0][0] == 1.0 and got[0] != got[1]
        path = tmp_path_factory.mktemp("magcache") / f"{kind}.json"
        path.write_text(json.dumps({"adapter": s.name, "weights_sha256": state_hash(s.model),
                                    "ratios": [sum(c) / 2 for c in zip(*got)]}))
        out[kind] = str(path)
    return out


#: (transform, identity options, changing options, kinds it runs on)
METHODS: list[tuple[str, dict[str, Any], dict[str, Any], list[str]]] = [
    ("firstblockcache", {"threshold": 0.0}, {"threshold": 1.0}, KINDS),
    ("fastercache", {"timestep_range": [500, 500]},
     {"spatial_every": 2, "timestep_range": [-1, 900]}, KINDS),
    ("fastercache", {"timestep_range": [0, 0]},
     {"timestep_range": [0, 0], "skip_uncond": True, "uncond_every": 2,
      "uncond_timestep_range": [-1, 900]}, ["wan", "cogvideox"]),
    ("taylorseer", {"cache_interval": 1}, {"cache_interval": 2, "warmup": 2}, KINDS),
    ("taylorseer", {"cache_interval": 1, "modules": "blocks"},
     {"cache_interval": 3, "warmup": 1, "modules": "blocks", "max_order": 2}, KINDS),
    ("magcache", {"max_skip_steps": 0}, {"threshold": 10.0, "retention_ratio": 0.2}, KINDS),
    ("pab", {"timestep_range": [1, 1]},
     {"spatial_every": 2, "cross_every": 2, "timestep_range": [0, 900]}, KINDS),
]
CASES = [(k, *m[:3]) for m in METHODS for k in m[3]]


def _apply(s: TinySampler, name: str, options: dict[str, Any]) -> Any:
    return transformed(s, make_transforms([TransformSpec(name=name, options=options)],
                                          model="m"), model="m")


def _fingerprint(model: Any) -> dict[str, Any]:
    return {"hash": state_hash(model),
            "forward": [k for m in model.modules() for k in ("forward", "_cache_config")
                        if k in m.__dict__],
            "registries": sorted(n for n, m in model.named_modules()
                                 if "_diffusers_hook" in m.__dict__),
            "hooks": [len(m._forward_pre_hooks) + len(m._forward_hooks)  # noqa: SLF001
                      for m in model.modules()]}


@pytest.mark.parametrize(("kind", "name", "identity", "changing"), CASES,
                         ids=[f"{c[0]}-{c[1]}-{i}" for i, c in enumerate(CASES)])
def test_cache_transform_on_tiny_transformers(samplers: dict[str, TinySampler],
                                              ratios: dict[str, str], kind: str, name: str,
                                              identity: dict[str, Any],
                                              changing: dict[str, Any]) -> None:
    s = samplers[kind]
    if name == "magcache":
        identity, changing = ({**o, "ratios": ratios[kind]} for o in (identity, changing))
    reqs = [SimpleNamespace(seed=1), SimpleNamespace(seed=2)]
    base = s.generate(reqs)
    before = _fingerprint(s.model)
    probe = s.generate([SimpleNamespace(seed=7)])[0]

    with _apply(s, name, identity) as applied:
        same = s.generate(reqs)
    assert applied[0]["installed"]["hooked_modules"] > 0
    assert all(torch.equal(a, b) for a, b in zip(base, same, strict=True))

    with _apply(s, name, changing):
        both = s.generate(reqs)  # two trajectories in a row through the same hooks
    with _apply(s, name, changing):
        fresh = s.generate(reqs[1:])  # the second video alone, fresh hooks
    assert any(not torch.equal(a, b) for a, b in zip(base, both, strict=True)), \
        f"{name} {changing} did not change {kind}'s output"
    assert torch.equal(both[1], fresh[0]), "the second video must not see the first's cache"

    assert _fingerprint(s.model) == before
    assert torch.equal(s.generate([SimpleNamespace(seed=7)])[0], probe)


def test_unet_models_are_refused() -> None:
    """A loaded UNet model (no ``transformer()``), and an adapter whose ``transformer()`` is not
    a diffusers ``CacheMixin``, are refused when applied."""
    from vdmbench.catalog import MODELS

    gen = MODELS.get("synth-t2v").load("t", None, {}, "cpu")
    unet = gen.denoiser().unet

    class UNetAsTransformer:
        steps = 4

        def transformer(self) -> Any:
            return unet

    for name in ("firstblockcache", "fastercache", "taylorseer", "magcache"):
        (t,) = make_transforms([TransformSpec(name=name, options={})], model="t")
        assert not t.applies_to_adapter(type(gen))
        with pytest.raises(UnsupportedError, match=r"only to transformer models \(CacheMixin"):
            with t.apply(gen, model="t"):
                pass
        with pytest.raises(UnsupportedError, match="its denoiser is a VideoCrafter2UNet"):
            with t.apply(UNetAsTransformer(), model="t"):
                pass
    assert not unet._forward_pre_hooks  # noqa: SLF001


def test_options_are_validated() -> None:
    from vdmbench.errors import ConfigError

    bad = [("firstblockcache", {"threshold": -1}), ("fastercache", {"timestep_range": [9, 1]}),
           ("fastercache", {"spatial_every": None}), ("taylorseer", {"cache_interval": 0}),
           ("taylorseer", {"modules": "all"}), ("magcache", {"max_skip_steps": -1}),
           ("magcache", {"tresh": 1}), ("pab", {"timestep_range": [5, 1]})]
    for name, options in bad:
        with pytest.raises(ConfigError):
            make_transforms([TransformSpec(name=name, options=options)], model="m")


def test_one_cache_at_a_time_and_ratios_of_other_weights_refused(
        samplers: dict[str, TinySampler], ratios: dict[str, str], tmp_path: Path) -> None:
    s = samplers["wan"]
    with _apply(s, "firstblockcache", {"threshold": 0.1}):
        with pytest.raises(UnsupportedError, match="already enabled"):
            with _apply(s, "pab", {}):
                pass
    data = json.loads(Path(ratios["wan"]).read_text())
    other = tmp_path / "other.json"
    other.write_text(json.dumps({**data, "weights_sha256": "0" * 64}))
    with pytest.raises(UnsupportedError, match="calibrated for weights"):
        with _apply(s, "magcache", {"ratios": str(other)}):
            pass
    with pytest.raises(UnsupportedError, match="no ratios"):
        with _apply(s, "magcache", {}):  # nothing shipped for this test model
            pass
