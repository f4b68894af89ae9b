"""A student's ``compression.json`` names its base so that the two keep loading after a move.

``vdmbench compress`` writes ``base_weights`` relative to the student directory when the two
share a directory below the filesystem root (:func:`vdmbench.paths.link_path`); the shipped
students must never name a path on the machine that trained them (a fresh clone elsewhere
could not load them).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from vdmbench.models.student_dir import walk_chain
from vdmbench.paths import link_path

ROOT = Path(__file__).resolve().parents[2]
STUDENTS = sorted((ROOT / "compression" / "students").glob("*/compression.json"))


def test_link_path_is_relative_between_siblings_and_absolute_across_the_root(tmp_path: Path
                                                                             ) -> None:
    base, student = tmp_path / "models" / "teacher", tmp_path / "runs" / "student"
    assert link_path(str(base), student) == "../../models/teacher"
    assert link_path(None, student) is None
    assert link_path("${MODELS}/teacher", student) == "${MODELS}/teacher"
    assert link_path("/", student) == "/"  # nothing shared below the root: absolute


def test_a_student_moved_with_its_base_still_finds_it(tmp_path: Path) -> None:
    old = tmp_path / "old"
    (old / "teacher" / "unet").mkdir(parents=True)
    (old / "teacher" / "unet" / "config.json").write_text("{}")
    (old / "teacher" / "sampler.json").write_text("{}")
    student = old / "students" / "s"
    (student / "unet").mkdir(parents=True)
    (student / "unet" / "config.json").write_text("{}")
    (student / "compression.json").write_text(json.dumps(
        {"base_model": "toy", "base_weights": link_path(str(old / "teacher"), student)}))
    new = tmp_path / "new"
    shutil.move(old, new)
    parts = {"unet": "unet", "sampler": "sampler.json"}
    sources, chain, _ = walk_chain(new / "students" / "s", tmp_path / "nowhere", "toy", parts,
                                   "layout")
    assert sources == {"unet": new / "students" / "s", "sampler": new / "teacher"}
    assert chain == (new / "students" / "s", new / "teacher")


@pytest.mark.parametrize("cj", STUDENTS, ids=lambda p: p.parent.name)
def test_shipped_students_name_their_base_relative_to_themselves(cj: Path) -> None:
    base = json.loads(cj.read_text())["base_weights"]
    if base is None:  # the adapter's shipped teacher
        return
    assert not Path(base).is_absolute(), f"{cj}: base_weights {base!r} is a machine's path"
    assert (cj.parent / base).is_dir(), f"{cj}: base_weights {base!r} does not exist"
