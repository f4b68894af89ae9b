"""The default suite's report in a real browser: headless Debian Chromium driven by Playwright.

Opens the page from ``file://`` with every non-file request blocked and requires: no console
errors, every ``<video>`` decoded (``readyState >= 2``) and playing (paused and resumed together
by the page's button), column sorting that reorders the rows, a layout that is readable at
1280 px (every plot shown at 85% of its pixel size or more, the sample grid across the page
width, the leaderboard's last column in view — at 1280 px, and at 700 px after scrolling the
table with its model column kept in view and a hint shown), and a screenshot (kept at
``$VDMBENCH_ARTIFACTS/report-screenshot.png``, default ``/tmp/vdmbench-artifacts``). The
browser is ``$VDMBENCH_CHROMIUM``, else ``chromium`` on the path. Skips, naming what is
missing, only where no browser is installed; with ``CI=true`` a missing browser fails instead.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import yaml
from report_test_utils import ROOT, run_cli, run_dir_of

CHROMIUM = os.environ.get("VDMBENCH_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--mute-audio"]
ARTIFACTS = Path(os.environ.get("VDMBENCH_ARTIFACTS", "/tmp/vdmbench-artifacts"))


def _browser_or_skip() -> None:
    missing = []
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the Python package playwright (pip install -e '.[test]')")
    if not Path(CHROMIUM).is_file():
        missing.append(f"Chromium at {CHROMIUM} (apt-get install chromium)")
    if missing:
        reason = "no browser to open the report: missing " + " and ".join(missing)
        if os.environ.get("CI") == "true":
            pytest.fail(reason + "; CI must run this test")
        pytest.skip(reason)


@pytest.fixture(scope="module")
def default_suite_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default suite (its models and dataset) on 4 requests, with the two per-sample
    metrics and one timing iteration for time; then ``vdmbench report --samples 3``."""
    _browser_or_skip()
    tmp = tmp_path_factory.mktemp("default_suite")
    data = yaml.safe_load((ROOT / "suites" / "synth_i2v.yaml").read_text())
    for m in data["models"]:
        if m.get("weights"):
            m["weights"] = str(ROOT / m["weights"])
        m["options"] = {"batch_size": 4}
    data["metrics"] = [{"name": "psnr"}, {"name": "motion_acc_synth"}]
    data["speed"] = {"warmup": 0, "iterations": 1}
    data["batch_size"] = 4
    suite = tmp / "synth_i2v.yaml"
    suite.write_text(yaml.safe_dump(data, sort_keys=False))
    run_cli("run", str(suite), "--out", str(tmp / "out"), "--limit", "4", "--quiet")
    run = run_dir_of(tmp / "out", "synth_i2v")
    run_cli("report", str(run), "--samples", "3")
    return run / "report" / "index.html"


def _model_order(page) -> list[str]:
    return page.eval_on_selector_all("#leaderboard-table tbody tr",
                                     "rows => rows.map(r => r.cells[0].textContent.trim())")


def _column_keys(page, col: int) -> list[str]:
    return page.eval_on_selector_all(
        "#leaderboard-table tbody tr",
        f"rows => rows.map(r => r.cells[{col}].getAttribute('data-sort'))")


def test_report_in_chromium(default_suite_report: Path) -> None:
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    outside: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))

            def only_files(route) -> None:
                if route.request.url.startswith("file://"):
                    route.continue_()
                else:
                    outside.append(route.request.url)
                    route.abort()

            page.route("**/*", only_files)
            page.goto(default_suite_report.as_uri())
            n_videos = page.eval_on_selector_all("video", "vs => vs.length")
            assert n_videos == 3 * 3  # 3 requests × 3 models
            page.wait_for_function(
                "() => [...document.querySelectorAll('video')].every(v => v.readyState >= 2)",
                timeout=30_000)
            assert page.eval_on_selector_all(
                "video", "vs => vs.filter(v => v.error !== null).length") == 0
            paused = "() => [...document.querySelectorAll('video')].map(v => v.paused)"
            page.wait_for_function(f"() => ({paused})().every(p => !p)", timeout=10_000)
            page.click("#play-toggle")  # pause all, then play all again
            assert set(page.evaluate(paused)) == {True}
            page.click("#play-toggle")
            page.wait_for_function(f"() => ({paused})().every(p => !p)", timeout=10_000)

            # sorting: by model name (text), then by per-video latency (numbers)
            before = _model_order(page)
            assert before == ["teacher-8step", "teacher-2step", "vdmini-8step"]
            headers = page.eval_on_selector_all("#leaderboard-table thead th",
                                                "hs => hs.map(h => h.textContent.trim())")
            page.click("#leaderboard-table thead th:nth-child(1) button")
            assert _model_order(page) == sorted(before) != before
            page.click("#leaderboard-table thead th:nth-child(1) button")
            assert _model_order(page) == sorted(before, reverse=True)
            col = headers.index("per video (ms)")
            page.click(f"#leaderboard-table thead th:nth-child({col + 1}) button")
            keys = [float(k) for k in _column_keys(page, col)]
            assert keys == sorted(keys)
            assert page.get_attribute(f"#leaderboard-table thead th:nth-child({col + 1})",
                                      "aria-sort") == "ascending"

            _check_layout(page)

            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            shot = default_suite_report.parent.parent / "report-screenshot.png"
            page.screenshot(path=str(shot), full_page=True)
            shutil.copyfile(shot, ARTIFACTS / "report-screenshot.png")
        finally:
            browser.close()
    assert errors == []
    assert outside == []
    assert shot.read_bytes()[:4] == b"\x89PNG" and shot.stat().st_size > 10_000


def _check_layout(page) -> None:
    """Rendered sizes at 1280 px, then the leaderboard at 700 px (see the module docstring)."""
    page.wait_for_function("() => [...document.querySelectorAll('figure.plot img')]"
                           ".every(i => i.complete && i.naturalWidth > 0)", timeout=10_000)
    plots = page.eval_on_selector_all(
        "figure.plot img", "is => is.map(i => [i.getAttribute('src'), i.naturalWidth, "
                           "i.getBoundingClientRect().width])")
    assert {src for src, _, _ in plots} >= {"plots/leaderboard.png", "plots/latency.png"}
    for src, natural, shown in plots:  # tick labels drawn at 8 pt stay ≥ 11 px
        assert shown >= 0.85 * natural, (src, natural, shown)
    main_width = page.evaluate("() => document.querySelector('main').clientWidth")
    grid = page.evaluate("() => document.querySelector('table.grid').getBoundingClientRect()"
                         ".width")
    assert grid >= 0.9 * (main_width - 56), (grid, main_width)  # main has 28 px padding
    clip = page.evaluate("() => document.querySelector('video.clip').getBoundingClientRect()"
                         ".width")
    assert clip >= 256, clip  # 3 models: each clip at least twice its 128 px frames
    last_header = """() => {
        const wrap = document.querySelector('#leaderboard .table-wrap').getBoundingClientRect();
        const hs = document.querySelectorAll('#leaderboard-table thead th');
        const last = hs[hs.length - 1].getBoundingClientRect();
        const first = hs[0].getBoundingClientRect();
        return [last.right <= wrap.right + 1, first.left >= wrap.left - 1,
                !document.querySelector('#leaderboard .scroll-hint').hidden];
    }"""
    assert page.evaluate(last_header) == [True, True, False]  # fits at 1280: no hint
    page.set_viewport_size({"width": 700, "height": 900})
    page.wait_for_function("() => !document.querySelector('#leaderboard .scroll-hint').hidden")
    page.evaluate("() => { const w = document.querySelector('#leaderboard .table-wrap'); "
                  "w.scrollLeft = w.scrollWidth; }")
    assert page.evaluate(last_header) == [True, True, True]  # scrolled: the model column stays
    page.set_viewport_size({"width": 1280, "height": 900})
    page.evaluate("() => { document.querySelector('#leaderboard .table-wrap').scrollLeft = 0; }")
