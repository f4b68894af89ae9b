"""The HTML report of a run: ``RUN_DIR/report/index.html``, a self-contained folder.

It shows the sortable leaderboard (protocols on hover, "—" for missing values, invalid and noisy
timings marked), a side-by-side grid of K sample videos per model (H.264 MP4 with a PNG still,
looping in sync; PSNR to the teacher and the predicted motion class where they exist), the run's
plots and its provenance. Everything is referenced by relative path; no network is used, so the
page opens from disk or from any static web server. Built by :func:`build_report` (``vdmbench
report``) and at the end of every ``vdmbench run``.
"""

from vdmbench.report.build import DEFAULT_SAMPLES, REPORT_DIR, build_report, choose_samples

__all__ = ["DEFAULT_SAMPLES", "REPORT_DIR", "build_report", "choose_samples"]
