"""The shipped teacher, student and extractors reproduce the committed reference leaderboard.

Runs ``suites/synth_i2v.yaml`` from scratch on the CPU and compares every quality number with
the committed records under ``results/reference/synth_i2v/`` — exactly (same code, same weights,
same seeds ⇒ same numbers). Timings are not compared (they are measurements, not results).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from vdmbench.cli import main
from vdmbench.leaderboard import load_records

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "results" / "reference" / "synth_i2v"


def _quality(records: list[dict]) -> dict[str, dict[str, float]]:
    return {r["model"]["name"]: {k: v["value"] for k, v in r["metrics"].items()}
            for r in records}


@pytest.mark.skipif(not REFERENCE.is_dir(), reason="no committed reference run")
def test_default_suite_reproduces_reference(tmp_path: Path, monkeypatch) -> None:
    ref = load_records(REFERENCE)
    (threads,) = {r["environment"]["cpu_threads"] for r in ref}
    if (os.cpu_count() or 1) < threads:
        pytest.skip(f"the reference was made with {threads} CPU threads; this machine has fewer "
                    f"cores (float reductions may differ)")
    monkeypatch.chdir(ROOT)  # the suite names the student by a path relative to the checkout
    before = torch.get_num_threads()
    torch.set_num_threads(threads)  # other test modules pin 1 thread for speed
    try:
        result = CliRunner().invoke(main, ["run", "suites/synth_i2v.yaml", "--out",
                                           str(tmp_path), "--quiet"])
    finally:
        torch.set_num_threads(before)
    assert result.exit_code == 0, result.output
    mine = load_records(tmp_path / "synth_i2v")
    assert [r["model"]["card"]["weights_sha256"] for r in mine] == \
        [r["model"]["card"]["weights_sha256"] for r in ref], "shipped weights changed"
    assert _quality(mine) == _quality(ref)
    for a, b in zip(mine, ref):
        for name, m in a["metrics"].items():
            assert m["protocol"] == b["metrics"][name]["protocol"], name
