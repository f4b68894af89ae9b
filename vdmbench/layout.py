"""Where a run's files are: one description shared by the runner, the CLI, the leaderboard and
the report (so no two of them spell a path or a file name twice).

A run of suite S with ``--out OUT`` lives in ``OUT/<S.output or S.name>/<run-id>/``::

    run.json        what the run is (suite hash, device, limit, dataset manifest, cache root)
    suite.yaml      the suite file as run
    requests.json   the run's requests (key material; conditioning images by hash, their
                    pixels in the cache's inputs/)
    records/        one record per model and timing version
    partial/        metrics of an interrupted invocation (gone once every record is written)
    leaderboard.{csv,md,tex}, leaderboard.png, leaderboard_pareto.png
    report/         index.html and its media

The caches (content-keyed, shared by runs and ranks) are under ``--cache-dir`` (default
``OUT/.cache``): ``videos/``, ``inputs/`` (conditioning images), ``metrics/`` (reference
statistics), ``features/``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from vdmbench.records import record_filename

#: the per-metric quality-vs-latency plot (vdmbench/leaderboard.py)
LEADERBOARD_PLOT = "leaderboard.png"
#: the Pareto front of quality vs latency (vdmbench/tradeoff.py)
PARETO_PLOT = "leaderboard_pareto.png"
#: the leaderboard tables, by format
LEADERBOARD_TABLES = {"csv": "leaderboard.csv", "md": "leaderboard.md", "tex": "leaderboard.tex"}
REPORT_DIR = "report"


@dataclass(frozen=True)
class CacheLayout:
    """The content-keyed caches under one root."""

    root: Path

    @classmethod
    def of(cls, out_dir: Path, cache_dir: Path | None = None) -> CacheLayout:
        """``cache_dir`` if given (``--cache-dir``), else ``OUT/.cache``."""
        return cls(cache_dir if cache_dir is not None else out_dir / ".cache")

    @property
    def videos(self) -> Path:
        return self.root / "videos"

    @property
    def inputs(self) -> Path:
        """The requests' conditioning images (one-frame videos keyed by the image's sha256),
        which the report shows."""
        return self.root / "inputs"

    @property
    def metrics(self) -> Path:
        """Reference statistics of metrics."""
        return self.root / "metrics"

    @property
    def features(self) -> Path:
        return self.root / "features"


@dataclass(frozen=True)
class RunLayout:
    """The files of one run directory (see the module docstring)."""

    run_dir: Path

    @classmethod
    def of(cls, out_dir: Path, output: str, run_id: str) -> RunLayout:
        """The run ``run_id`` of a suite whose ``output`` (or name) is ``output``."""
        return cls(out_dir / output / run_id)

    def out_root(self, output: str) -> Path:
        """The ``--out`` root this run directory lies under (``output``: the suite's
        ``output`` or name, which may hold folders)."""
        depth = len(PurePosixPath(output).parts)
        parents = self.run_dir.resolve().parents
        return parents[depth] if depth < len(parents) else parents[-1]

    def default_cache(self, output: str) -> CacheLayout:
        """The caches ``vdmbench run`` uses for this run without ``--cache-dir``."""
        return CacheLayout.of(self.out_root(output))

    @property
    def run_json(self) -> Path:
        return self.run_dir / "run.json"

    @property
    def suite_copy(self) -> Path:
        return self.run_dir / "suite.yaml"

    @property
    def requests_json(self) -> Path:
        return self.run_dir / "requests.json"

    @property
    def records(self) -> Path:
        return self.run_dir / "records"

    def record(self, model: str, timing_version: int = 1) -> Path:
        return self.records / record_filename(model, timing_version)

    @property
    def partial(self) -> Path:
        return self.run_dir / "partial"

    def partial_of(self, model: str) -> Path:
        return self.partial / f"{model}.json"

    @property
    def report(self) -> Path:
        return self.run_dir / REPORT_DIR

    @property
    def pareto_plot(self) -> Path:
        return self.run_dir / PARETO_PLOT

    @property
    def leaderboard_plot(self) -> Path:
        return self.run_dir / LEADERBOARD_PLOT
