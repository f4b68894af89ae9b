"""Helpers of the report tests: quick runs and a small reader of report pages."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import torch
import yaml
from click.testing import CliRunner

from vdmbench.cli import main

ROOT = Path(__file__).resolve().parents[2]
HARNESS_SUITE = ROOT / "tests" / "harness" / "suite_ok.yaml"


def run_cli(*args: str) -> str:
    """Invoke ``vdmbench ARGS`` in-process (1 torch thread); returns its output."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # the CPU is shared with other test processes
    try:
        result = CliRunner().invoke(main, list(args))
    finally:
        torch.set_num_threads(before)
    assert result.exit_code == 0, result.output
    return result.output


def quick_suite(tmp: Path, **changes: object) -> Path:
    """The harness test suite (test-generator on moving squares) with quick timing."""
    data = yaml.safe_load(HARNESS_SUITE.read_text())
    data["speed"] = {"warmup": 0, "iterations": 2}
    data.update(changes)
    path = tmp / "suite.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def run_dir_of(out: Path, suite: str) -> Path:
    (run_dir,) = (out / suite).iterdir()
    return run_dir


class PageReader(HTMLParser):
    """Collects the leaderboard's header and body cell texts, the sample grid's videos and every
    src/href of a report page."""

    def __init__(self) -> None:
        super().__init__()
        self.headers: list[str] = []
        self.rows: list[list[str]] = []
        self.cell_classes: list[list[str]] = []
        self.videos: list[dict[str, str]] = []
        self.links: list[str] = []
        self.scripts = 0
        self._in_board = False
        self._cell: list[str] | None = None
        self._classes = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "table" and a.get("id") == "leaderboard-table":
            self._in_board = True
        for key in ("src", "href", "poster"):
            if key in a:
                self.links.append(a[key])
        if tag == "script":
            self.scripts += 1
        if tag == "video":
            self.videos.append(a)
        if not self._in_board:
            return
        if tag == "tr":
            self.rows.append([])
            self.cell_classes.append([])
        if tag in ("td", "th"):
            self._cell, self._classes = [], a.get("class", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._in_board = False
        if tag == "tr" and self._in_board and self.rows and not self.rows[-1]:
            self.rows.pop()  # the header row
            self.cell_classes.pop()
        if tag in ("td", "th") and self._cell is not None:
            text = "".join(self._cell).strip()
            if tag == "th":
                self.headers.append(text)
            else:
                self.rows[-1].append(text)
                self.cell_classes[-1].append(self._classes)
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def read_page(path: Path) -> PageReader:
    reader = PageReader()
    reader.feed(path.read_text(encoding="utf-8"))
    return reader
