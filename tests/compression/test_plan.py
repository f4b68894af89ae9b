from __future__ import annotations

import pytest

from compression.plan import DepthPlan, check_plan, make_plan
from compression.units import list_units, unit_params
from vdmbench.errors import ConfigError


def test_unit_names(unet):
    names = [u.name for u in list_units(unet.config)]
    assert names == ["D.0.1", "D.1.1", "D.2.1", "D.3.1", "M", "U.0.1", "U.1.1", "U.2.1", "U.3.1"]
    u = {x.name: x for x in list_units(unet.config)}
    assert u["U.3.1"].level == 0 and u["U.0.1"].level == 3 and u["M"].level == 4
    assert u["D.0.1"].modules == ("down_blocks.0.resnets.1", "down_blocks.0.attentions.1")
    assert u["D.3.1"].modules == ("down_blocks.3.resnets.1",)


def test_plan_json_round_trip(tmp_path, unet):
    plan = make_plan("vdmini", unet.config, base="random-svd",
                     scores={"M": {"content": 0.5, "motion": 0.25}})
    assert plan.removed == ("D.0.1", "D.1.1", "D.3.1", "M", "U.0.1", "U.2.1", "U.3.1")
    path = plan.save(tmp_path / "plan.json")
    back = DepthPlan.load(path)
    assert back == plan
    assert back.to_json() == plan.to_json()
    assert "D.0.1" in str(back) and "motion=0.25" in str(back)
    with pytest.raises(AttributeError):
        back.preset = "x"  # frozen


def test_plan_errors(tmp_path, unet):
    with pytest.raises(ConfigError, match="from D.0 but 0 from U.3"):
        check_plan(unet.config, DepthPlan(removed=("D.0.1",)))
    with pytest.raises(ConfigError, match="unknown unit 'D.9.1'"):
        check_plan(unet.config, DepthPlan(removed=("D.9.1",)))
    bad = tmp_path / "bad.json"
    bad.write_text('{"removed": ["M"], "colour": 1}')
    with pytest.raises(ConfigError, match="unknown key 'colour'"):
        DepthPlan.load(bad)
    with pytest.raises(ConfigError, match="unknown plan preset"):
        make_plan("fastest", unet.config)


def test_control_presets_match_params(unet):
    up = {u.name: unit_params(unet, u) for u in list_units(unet.config)}
    target = sum(up[n] for n in make_plan("vdmini", unet.config).removed)
    deep = make_plan("deep-first", unet.config, unit_params=up)
    uni = make_plan("uniform", unet.config, unit_params=up)
    assert deep.removed[:1] == ("D.3.1",) or "M" in deep.removed
    assert "M" in deep.removed and "D.0.1" not in deep.removed
    assert "M" not in uni.removed and {"D.0.1", "D.1.1", "D.2.1", "D.3.1"} <= set(uni.removed)
    for p in (deep, uni):
        assert sum(up[n] for n in p.removed) >= target


def test_auto_preset_orders_by_motion(unet):
    scores = {u.name: {"content": 1.0, "motion": float(u.level), "latency_ms": 1.0,
                       "params": 10.0, "full_latency_ms": 10.0} for u in list_units(unet.config)}
    plan = make_plan("auto", unet.config, scores=scores, target_speedup=1.3)
    # shallow (low-motion) pairs go first: level 0 (D.0.1+U.3.1), then level 1
    assert plan.removed == ("D.0.1", "D.1.1", "U.2.1", "U.3.1")
    assert plan.provenance["estimated_speedup"] >= 1.3
