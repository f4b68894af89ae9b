"""The block analysis on a video transformer: a block whose output projections are zero (so
removing it changes nothing) must rank least damaging, and the DiT ``vdmini`` plan removes it;
reachable through ``vdmbench analyze``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from ditprune_utils import ToyWanDenoiser, harmless, tiny_wan

from compression.analysis import analyze, load_scores, scores_dict
from compression.compress import plan_for
from compression.plan import make_plan
from compression.recipe import PlanSpec


@pytest.fixture(scope="module")
def analysed() -> tuple[ToyWanDenoiser, list]:
    spec = ToyWanDenoiser(harmless(tiny_wan(num_layers=5), 3))
    rows = analyze(spec, num_clips=2, batch_size=2, steps=2, timing_iters=1, progress=False)
    return spec, rows


def test_harmless_block_ranks_least_damaging(analysed) -> None:
    _spec, rows = analysed
    by = {r.unit: r for r in rows}
    assert [r.unit for r in rows] == [f"B.{i}" for i in range(5)]
    assert all(r.kind == "block" and r.level == i for i, r in enumerate(rows))
    assert by["B.3"].content == 0.0 and by["B.3"].motion == 0.0
    others = [r for r in rows if r.unit != "B.3"]
    assert min(r.content for r in others) > 1e-4 and min(r.motion for r in others) > 1e-4
    assert by["B.3"].params == by["B.0"].params > 0


def test_vdmini_and_auto_plans_follow_the_ranking(analysed) -> None:
    spec, rows = analysed
    scores = scores_dict(rows)
    plan = make_plan("vdmini", spec.unet, scores=scores)
    assert plan.removed == ("B.3",)  # round(0.2·5) = 1 block, the harmless one
    order = plan.provenance["order"]
    assert order[0] == "B.3"
    assert [scores[u]["motion"] for u in order] == sorted(scores[u]["motion"] for u in order)
    assert plan.provenance["kept_blocks"] == {"blocks": [0, 1, 2, 4]}
    total = sum(p.numel() for p in spec.unet.parameters())
    auto = make_plan("auto", spec.unet, scores=scores, param_budget=0.75, total_params=total)
    k = len(auto.removed)
    assert k >= 2 and set(auto.removed) == set(order[:k])  # the ranking's head, until ≤ 75 %
    kept = total - sum(scores[u]["params"] for u in auto.removed)
    assert kept / total <= 0.75 < (kept + scores[order[k - 1]]["params"]) / total


def test_vdmbench_analyze_on_a_transformer(monkeypatch: pytest.MonkeyPatch,
                                           tmp_path: Path) -> None:
    import vdmbench.acceleration as acc
    from compression.cli import analyze_cmd

    spec = ToyWanDenoiser(harmless(tiny_wan(num_layers=4), 1))
    monkeypatch.setattr(acc, "teacher_of", lambda *a, **k: spec)
    res = CliRunner().invoke(analyze_cmd, ["--model", "toy-dit", "--out", str(tmp_path),
                                           "--clips", "2", "--steps", "2"])
    assert res.exit_code == 0, res.output
    data = json.loads((tmp_path / "analysis.json").read_text())
    assert [r["unit"] for r in data["rows"]] == ["B.0", "B.1", "B.2", "B.3"]
    assert (tmp_path / "analysis.png").is_file() and "| B.1 |" in res.output
    scores = load_scores(tmp_path)
    assert min(scores, key=lambda u: (scores[u]["motion"], scores[u]["content"])) == "B.1"
    plan = plan_for(PlanSpec(preset="vdmini", analysis=str(tmp_path)), spec)
    assert plan.removed == ("B.1",) and plan.base == "toy-dit"


def test_a_plan_file_for_a_transformer(tmp_path: Path) -> None:
    from compression.plan import DepthPlan
    from vdmbench.errors import ConfigError

    spec = ToyWanDenoiser(tiny_wan(num_layers=5))
    DepthPlan(removed=("B.4", "B.0"), preset="custom").save(tmp_path / "plan.json")
    plan = plan_for(str(tmp_path / "plan.json"), spec)
    assert plan.removed == ("B.0", "B.4")
    assert plan.provenance["kept_blocks"] == {"blocks": [1, 2, 3]}
    DepthPlan(removed=("B.5",)).save(tmp_path / "bad.json")
    with pytest.raises(ConfigError, match="unknown unit 'B.5'.*B.0 … B.4"):
        plan_for(str(tmp_path / "bad.json"), spec)
