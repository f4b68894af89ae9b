"""The ``videos`` model: a folder written by a script from ``vdmbench requests`` equals the run
of the model that made it; unusable files are all named before anything is written."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import PIL.Image
import pytest
import torch
from anygen_utils import (
    STUDENT,
    STUDENT_OPTIONS,
    TEACHER,
    cli,
    metric_values,
    run,
    suite,
    write_suite,
)

from vdmbench import testing
from vdmbench.generation import GenerationRequest


def generate_folder(requests_file: Path, folder: Path) -> None:
    """What a user's script does: read the request list, generate, save one file per id (here
    the test generator with the student's settings; .npy keeps the frames exactly)."""
    gen = testing.TestGenerator.load("outside", None,
                                     testing.TestGenerator.Options(**STUDENT_OPTIONS), "cpu",
                                     steps=STUDENT["steps"])
    folder.mkdir(parents=True, exist_ok=True)
    for line in requests_file.read_text().splitlines():
        item = json.loads(line)
        image = torch.from_numpy(np.array(PIL.Image.open(requests_file.parent / item["image"])))
        request = GenerationRequest(id=item["id"], seed=item["seed"], frames=item["frames"],
                                    height=item["height"], width=item["width"], fps=item["fps"],
                                    prompt=item["prompt"], image=image, extra=item["extra"])
        (video,) = gen.generate([request])
        np.save(folder / (Path(item["file"]).stem + ".npy"), video.frames.numpy())


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("videos")
    gen_suite = write_suite(root / "gen.yaml", suite("anygen-gen", [TEACHER, STUDENT]))
    result = cli("requests", gen_suite, "--out", root / "requests.jsonl")
    assert result.exit_code == 0, result.output
    generate_folder(root / "requests.jsonl", root / "folder")
    return {"root": root, "gen_suite": gen_suite, "requests": root / "requests.jsonl",
            "folder": root / "folder"}


def test_requests_lists_every_request_with_its_image(made: dict[str, Path]) -> None:
    lines = [json.loads(x) for x in made["requests"].read_text().splitlines()]
    assert len(lines) == 4
    first = lines[0]
    assert set(first) == {"id", "seed", "prompt", "image", "frames", "height", "width", "fps",
                          "file", "extra"}
    assert (first["frames"], first["height"], first["width"]) == (4, 16, 16)
    assert first["file"] == f"{first['id']}.mp4"
    png = np.array(PIL.Image.open(made["root"] / first["image"]))
    from vdmbench.catalog import DATASETS
    from vdmbench.suite import load_suite

    spec = load_suite(made["gen_suite"])[0].dataset
    request = DATASETS.get("test-patterns")(spec).requests()[0]
    assert np.array_equal(png, request.image.numpy()) and first["seed"] == request.seed


def test_folder_run_equals_the_generating_models_run(made: dict[str, Path]) -> None:
    root = made["root"]
    direct = run(made["gen_suite"], root / "out-direct")
    answers = root / "answers.jsonl"
    lines = [json.loads(x) for x in made["requests"].read_text().splitlines()]
    answers.write_text("".join(json.dumps({**x, "latency_s": 0.5 + 0.1 * i}) + "\n"
                               for i, x in enumerate(lines)))
    ext = write_suite(root / "ext.yaml", suite("anygen-ext", [TEACHER, {
        "name": "student", "adapter": "videos",
        "options": {"folder": str(made["folder"]), "answers": str(answers)}}]))
    folder_run = run(ext, root / "out-ext")
    for model in ("teacher", "student"):
        assert metric_values(folder_run[model]) == metric_values(direct[model]), model
    student = folder_run["student"]
    assert student["speed"] is None and student["model"]["card"]["timed"] is False
    assert student["model"]["card"]["reported_latency"]["per_video"]["median_s"] == \
        pytest.approx(0.65)
    assert folder_run["teacher"]["speed"]["per_video"]["count"] >= 6
    (run_dir,) = (root / "out-ext" / "anygen-ext").iterdir()
    md = (run_dir / "leaderboard.md").read_text()
    row = next(x for x in md.splitlines() if x.startswith("| student"))
    assert "650.00 (user-reported)" in row and "not timed" in row
    assert row.startswith("| student | — | — |")  # parameters and steps unknown, not 0
    assert "user-reported" in md.split("\n\n")[-1]  # the notes say what it means
    csv = (run_dir / "leaderboard.csv").read_text().splitlines()
    header = csv[0].split(",")
    student_row = dict(zip(header, next(x for x in csv if x.startswith("student")).split(",")))
    assert student_row["timing"] == "not timed" and student_row["ms_per_video"] == ""
    assert float(student_row["user_reported_ms_per_video"]) == pytest.approx(650.0)
    # re-timing (`vdmbench speed`) times the teacher again and leaves the videos model alone
    result = cli("speed", ext, "--out", root / "out-ext", "--quiet")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (run_dir / "records").iterdir()) == [
        "student.json", "teacher.json", "teacher@timing2.json"]
    assert "650.00 (user-reported)" in (run_dir / "leaderboard.md").read_text()
    # without answers the cell says "not timed", never a blank
    plain = write_suite(root / "plain.yaml", suite("anygen-plain", [TEACHER, {
        "name": "student", "adapter": "videos", "options": {"folder": str(made["folder"])}}]))
    plain_run = run(plain, root / "out-plain")
    assert metric_values(plain_run["student"]) == metric_values(direct["student"])
    (run_dir,) = (root / "out-plain" / "anygen-plain").iterdir()
    row = next(x for x in (run_dir / "leaderboard.md").read_text().splitlines()
               if x.startswith("| student"))
    # per-video latency, speed-up and step speed-up
    assert row.count("not timed") == 3 and "user-reported" not in row


def test_unusable_files_are_all_named_before_anything_is_written(made: dict[str, Path],
                                                                 tmp_path: Path) -> None:
    folder = tmp_path / "broken"
    folder.mkdir()
    files = sorted(made["folder"].glob("*.npy"))
    for f in files[2:]:
        (folder / f.name).write_bytes(f.read_bytes())
    np.save(folder / files[1].name, np.load(files[1])[:3])  # 3 frames instead of 4
    # files[0]: missing
    s = write_suite(tmp_path / "s.yaml", suite("anygen-broken", [TEACHER, {
        "name": "student", "adapter": "videos", "options": {"folder": str(folder)}}]))
    for args in (("validate", s), ("run", s, "--out", tmp_path / "out", "--quiet")):
        result = cli(*args)
        assert result.exit_code == 2, result.output
        message = result.output
        assert f"(.mp4 or any of .npy, .mp4, .webm, .mkv, .avi, .mov, .gif): {files[0].stem}.mp4;" \
            in message, message
        assert f"{files[1].name}: 3 frames, 4 expected" in message, message
        assert "2 of 4 videos" in message and "s.yaml" in message
    assert not (tmp_path / "out").exists()
    # wrong size and an unreadable file, and --limit: only the videos the run needs count
    np.save(folder / files[0].name, np.zeros((4, 8, 16, 3), np.uint8))
    (folder / files[1].name).write_bytes(b"not a numpy file")
    result = cli("run", s, "--out", tmp_path / "out", "--quiet", "--limit", "1")
    assert result.exit_code == 2 and "8×16 pixels, 16×16 expected" in result.output
    assert files[1].name not in result.output  # not among the first request
    assert not (tmp_path / "out").exists()
    result = cli("validate", s)
    assert result.exit_code == 2 and f"{files[1].name}: cannot read" in result.output
    # a run with --limit needs only its requests' videos (checks, run, records, report)
    np.save(folder / files[0].name, np.load(files[0]))
    (folder / files[1].name).write_bytes(files[1].read_bytes())
    (folder / files[2].name).unlink()
    result = cli("run", s, "--out", tmp_path / "out", "--quiet", "--limit", "2")
    assert result.exit_code == 0, result.output
    assert "| student |" in result.output


def test_answers_without_latency_and_untimed_reference_are_refused(made: dict[str, Path],
                                                                   tmp_path: Path) -> None:
    answers = tmp_path / "answers.jsonl"
    lines = made["requests"].read_text().splitlines()
    answers.write_text("\n".join(lines[:3] + [json.dumps({**json.loads(lines[3]),
                                                          "latency_s": -1})]) + "\n")
    entry = {"name": "student", "adapter": "videos",
             "options": {"folder": str(made["folder"]), "answers": str(answers)}}
    s = write_suite(tmp_path / "a.yaml", suite("anygen-a", [TEACHER, entry]))
    result = cli("validate", s)
    assert result.exit_code == 2
    assert "answers.jsonl:4" in result.output and "latency_s" in result.output
    answers.write_text("\n".join(lines) + "\n")
    result = cli("validate", s)
    assert result.exit_code == 2 and "no latency_s for 4 request(s)" in result.output
    assert "models[1].options.answers" in result.output
    s = write_suite(tmp_path / "b.yaml", suite("anygen-b", [
        {**entry, "options": {"folder": str(made["folder"])}}, TEACHER]))
    result = cli("validate", s)
    assert result.exit_code == 2 and "cannot be the speed reference" in result.output
