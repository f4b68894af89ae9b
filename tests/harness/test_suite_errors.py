"""Malformed suites: one clear error naming file, line and field; exit 2; nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from vdmbench.cli import main


def _replace(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


CASES = {
    # name: (edit of suite_ok.yaml, expected line, expected words in the message)
    "unknown key": (lambda t: _replace(t, "  seed: 3\n", "  seed: 3\n  sed: 4\n"), 13,
                    ["dataset.sed", "unknown key 'sed'"]),
    "wrong type": (lambda t: _replace(t, "num_videos: 6", "num_videos: six"), 7,
                   ["dataset.num_videos", "integer"]),
    "negative count": (lambda t: _replace(t, "num_videos: 6", "num_videos: -2"), 7,
                       ["dataset.num_videos", "greater than 0"]),
    "unknown model adapter": (lambda t: _replace(t, "adapter: test-generator\n    steps: 2",
                                                 "adapter: test-generatr\n    steps: 2"), 19,
                              ["models[1].adapter", "Did you mean 'test-generator'"]),
    "unknown metric": (lambda t: _replace(t, "- name: mean_abs_diff_to_teacher",
                                          "- name: mean_abs_dif_to_teacher"), 23,
                       ["metrics[0].name", "Did you mean 'mean_abs_diff_to_teacher'"]),
    "unknown dataset": (lambda t: _replace(t, "name: test-patterns", "name: test-pattern"), 6,
                        ["dataset.name", "Did you mean 'test-patterns'"]),
    "bad YAML syntax": (lambda t: _replace(t, "  frames: 4\n", "  frames: [4\n"), 8,
                        ["invalid YAML"]),
    "reference not in suite": (lambda t: _replace(t, "reference_model: teacher",
                                                  "reference_model: nobody"), None,
                               ["reference_model 'nobody' is not one of the suite's models"]),
    "duplicate model names": (lambda t: _replace(t, "- name: student", "- name: teacher"),
                              None, ["duplicate model names: teacher"]),
    "output escapes": (lambda t: t + "output: ../../elsewhere\n", 29,
                       ["field 'output'", "inside the output directory"]),
    "model name is a path": (lambda t: _replace(t, "- name: student", "- name: ../student"),
                             18, ["models[1].name", "names files"]),
    "unknown adapter option": (lambda t: _replace(t, "{noise: 6.0, work: 16}",
                                                  "{noise: 6.0, wrk: 16}"), 21,
                               ["models[1].options.wrk", "unknown key 'wrk'"]),
    "schema version": (lambda t: _replace(t, "schema_version: 1", "schema_version: 7"), 1,
                       ["schema_version"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_malformed_suite(case: str, ok_suite_text: str, write_suite, tmp_path: Path) -> None:
    edit, line, words = CASES[case]
    path = write_suite(edit(ok_suite_text))
    out = tmp_path / "out"
    for args in (["validate", str(path)], ["run", str(path), "--out", str(out), "--quiet"]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 2, (case, result.output)
        lines = [ln for ln in result.output.strip().splitlines() if ln]
        assert len(lines) == 1, result.output  # one clear line
        msg = lines[0]
        assert msg.startswith(f"error: {path}"), msg
        if line is not None:
            assert f"{path}:{line}" in msg, msg
        for w in words:
            assert w in msg, (w, msg)
    assert not out.exists(), "a malformed suite must write nothing"


def test_valid_suite_validates(ok_suite_text: str, write_suite) -> None:
    path = write_suite(ok_suite_text)
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    assert "ok (i2v, 2 models, 1 metrics" in result.output


def test_missing_file_is_exit_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["validate", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2 and "file not found" in result.output


def test_committed_schema_is_current() -> None:
    import json

    from vdmbench.suite import json_schema

    committed = json.loads((Path(__file__).parents[2] / "suites" / "schema.json").read_text())
    assert committed == json.loads(json.dumps(json_schema())), \
        "suites/schema.json is stale: run `vdmbench schema --out suites/schema.json`"
