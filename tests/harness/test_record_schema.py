"""The result record's schema: current records validate, version 1 is upgraded, others refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vdmbench.errors import VdmbenchError
from vdmbench.record_schema import RECORD_VERSION, Record, json_schema, validate_record
from vdmbench.records import find_records, read_record

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "results" / "reference" / "synth_i2v"


def _a_record() -> dict:
    path = find_records(REFERENCE)[0]
    return json.loads(path.read_text())


@pytest.mark.skipif(not REFERENCE.is_dir(), reason="no committed reference run")
def test_committed_records_read_as_the_current_version() -> None:
    for path in find_records(REFERENCE):
        rec = read_record(path)
        assert rec["record_version"] == RECORD_VERSION
        Record.model_validate(rec)
        assert all(isinstance(t, dict) for t in rec["model"]["card"]["transforms"])


def test_version_1_kernels_become_transforms() -> None:
    rec = _a_record()
    rec["record_version"] = 1
    rec["model"]["card"].pop("transforms", None)
    rec["model"]["card"]["kernels"] = "triton"
    rec["model"]["spec"].pop("transforms", None)
    rec["model"]["spec"]["kernels"] = "triton"
    up = validate_record(rec, "r.json")
    assert up["model"]["card"]["transforms"] == [{"name": "triton", "options": {}}]
    assert "kernels" not in up["model"]["card"]


def test_unknown_version_and_bad_fields_are_refused_by_name() -> None:
    rec = _a_record()
    with pytest.raises(VdmbenchError, match=r"r\.json: record_version 9 .*rerun"):
        validate_record({**rec, "record_version": 9}, "r.json")
    broken = json.loads(json.dumps(validate_record(rec, "r.json")))
    del broken["model"]["card"]["weights_sha256"]
    with pytest.raises(VdmbenchError, match="model.card.weights_sha256"):
        validate_record(broken, "r.json")
    with pytest.raises(VdmbenchError, match="not a JSON object"):
        validate_record([1, 2], "r.json")


def test_committed_record_schema_is_current() -> None:
    committed = json.loads((ROOT / "suites" / "record.schema.json").read_text())
    assert committed == json.loads(json.dumps(json_schema())), \
        "suites/record.schema.json is stale: run `vdmbench schema --kind record --out " \
        "suites/record.schema.json`"


@pytest.mark.skipif(not REFERENCE.is_dir(), reason="no committed reference run")
def test_the_model_card_is_the_records_card() -> None:
    """One definition: every committed record's card is a :class:`ModelCard` that writes back
    the JSON it was read from (plus the fields added since those records were written, at their
    defaults); its fields are the record schema's card fields."""
    from vdmbench.generation import ModelCard
    from vdmbench.record_schema import Card

    assert set(Card.model_fields) == set(ModelCard.model_fields) | {"total_params"}
    for path in find_records(REFERENCE):
        card = json.loads(path.read_text())["model"]["card"]
        back = ModelCard.model_validate({k: v for k, v in card.items() if k != "total_params"})
        out = back.to_dict()
        assert json.dumps({k: out[k] for k in card}, sort_keys=True) == \
            json.dumps(card, sort_keys=True)
        assert {k: out[k] for k in set(out) - set(card)} in (
            {}, {"timed": True, "reported_latency": None})
    with pytest.raises(ValueError, match="unknown_field"):
        ModelCard.model_validate({**card, "unknown_field": 1})
