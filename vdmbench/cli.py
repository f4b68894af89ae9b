"""The ``vdmbench`` command (click).

Every :class:`~vdmbench.errors.VdmbenchError` becomes one line on stderr and exit status 2.
Commands of ``compression/`` (``analyze``, ``compress``) are attached lazily by name, so listing
and validating never import them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from vdmbench.errors import VdmbenchError

LAZY_COMMANDS = {
    "analyze": ("compression.cli:analyze_cmd",
                "block sensitivity analysis of a model (VDMini Fig. 1)"),
    "compress": ("compression.cli:compress_cmd", "prune + distill a teacher into a student"),
    "prepare-data": ("compression.cli:prepare_data_cmd",
                     "encode a training dataset into the latent cache compress reads"),
    "requests": ("vdmbench.requests_list:requests_cmd", "a suite's request list for others"),
}


class VdmbenchGroup(click.Group):
    """A click group that loads some commands lazily and maps our errors to exit status 2."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(LAZY_COMMANDS))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        cmd = super().get_command(ctx, name)
        if cmd is not None or name not in LAZY_COMMANDS:
            return cmd
        from vdmbench.registry import load_target

        target, help_text = LAZY_COMMANDS[name]
        try:
            return load_target(target)
        except ImportError as e:
            reason = str(e)

            @click.command(name=name, help=help_text)
            def unavailable() -> None:
                raise VdmbenchError(f"command '{name}' is unavailable: {reason}")
            return unavailable

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except VdmbenchError as e:
            from vdmbench.distributed import world_from_env

            try:
                where = world_from_env().label()
            except VdmbenchError:
                where = ""
            click.echo(f"error{f' ({where})' if where else ''}: {e}", err=True)
            ctx.exit(2)


@click.group(cls=VdmbenchGroup)
@click.version_option(package_name="vdmbench")
def main() -> None:
    """Compress video diffusion models and benchmark them honestly."""


def _progress_options(fn: Any) -> Any:
    """``--quiet``, ``--log FILE`` and ``--progress-interval`` (shared by run and speed)."""
    fn = click.option("--progress-interval", type=click.FloatRange(min=0), default=30.0,
                      show_default=True,
                      help="where stderr is not a terminal: seconds between progress lines")(fn)
    fn = click.option("--log", "--log-file", "log_file",
                      type=click.Path(path_type=Path, dir_okay=False), default=None,
                      help="also write progress events to FILE (JSON lines); under torchrun "
                           "write --log-file (torchrun takes --log for its own --log-dir)")(fn)
    return click.option("--quiet", is_flag=True,
                        help="no progress on stderr (bars on a terminal, lines otherwise)")(fn)


def _run_options(fn: Any) -> Any:
    """The options that locate a run: ``--out``, ``--limit``, ``--device``, ``--cache-dir``."""
    fn = click.option("--cache-dir", type=click.Path(path_type=Path), default=None,
                      help="content-keyed cache of videos and reference statistics "
                           "(default OUT/.cache)")(fn)
    fn = click.option("--device", default="cpu", show_default=True, help="cpu or cuda[:N]")(fn)
    fn = click.option("--limit", type=int, default=None,
                      help="use only the first N requests (metric values computed on fewer "
                           "videos than the suite asks for are marked under-sampled, ‡)")(fn)
    return click.option("--out", "out_dir", type=click.Path(path_type=Path),
                        default=Path("results"), show_default=True,
                        help="results root; the run goes to OUT/<suite>/<run-id>/")(fn)


@main.command()
@click.argument("suite", type=click.Path(path_type=Path))
@_run_options
@click.option("--resume/--no-resume", default=True, show_default=True,
              help="continue an interrupted run of the same suite (or start a fresh run)")
@click.option("--no-timing", is_flag=True,
              help="skip the timing phase (as the suite's `speed.enabled: false`): records "
                   "without speed; `vdmbench speed SUITE` with the same options times them "
                   "later")
@_progress_options
def run(suite: Path, out_dir: Path, limit: int | None, device: str, resume: bool,
        no_timing: bool, cache_dir: Path | None, quiet: bool, log_file: Path | None,
        progress_interval: float) -> None:
    """Run SUITE: generate and evaluate every model, time them all in interleaved rounds, write
    records and the leaderboard."""
    from vdmbench.runner import RunOptions, run_suite

    result = run_suite(suite, RunOptions(out_dir=out_dir, limit=limit, device=device,
                                         resume=resume, quiet=quiet, cache_dir=cache_dir,
                                         log_file=log_file,
                                         progress_interval_s=progress_interval,
                                         timing=not no_timing))
    if result is None:  # a rank other than 0 of a torchrun run: rank 0 reports
        return
    click.echo(result.leaderboards["md"].read_text(encoding="utf-8"))
    click.echo(f"records and leaderboards in {result.run_dir}")


@main.command()
@click.argument("suite", type=click.Path(path_type=Path))
@_run_options
@click.option("--rounds", type=int, default=None,
              help="interleaved rounds (default: the suite's speed.rounds; at least 6)")
@_progress_options
def speed(suite: Path, out_dir: Path, limit: int | None, device: str, cache_dir: Path | None,
          rounds: int | None, quiet: bool, log_file: Path | None,
          progress_interval: float) -> None:
    """Time the models of an existing run of SUITE again (nothing is generated): a new timing
    version of every record; earlier records are kept; the leaderboard shows the newest."""
    from vdmbench.runner import RunOptions, retime_suite

    result = retime_suite(suite, RunOptions(out_dir=out_dir, limit=limit, device=device,
                                            quiet=quiet, cache_dir=cache_dir,
                                            log_file=log_file,
                                            progress_interval_s=progress_interval),
                          rounds=rounds)
    click.echo(result.leaderboards["md"].read_text(encoding="utf-8"))
    click.echo(f"records and leaderboards in {result.run_dir}")


@main.command()
@click.argument("suites", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--schema-only", is_flag=True,
              help="check schema, names and options only (not environment variables, files, "
                   "folders or options against presets)")
def validate(suites: tuple[Path, ...], schema_only: bool) -> None:
    """Check suite files without loading any model or reading any data: schema, names,
    options, environment variables, named files and folders, options against presets (what
    `vdmbench run` checks before it generates or writes anything)."""
    from vdmbench.resolve import resolve_suite

    for path in suites:
        resolved = resolve_suite(path, checks=not schema_only, lenient_imports=True)
        s = resolved.suite
        click.echo(f"{path}: ok ({s.task}, {len(s.models)} models, {len(s.metrics)} metrics, "
                   f"dataset {s.dataset.name})")
        for what in resolved.unchecked:
            click.echo(f"  note: options of {what} not checked: its module cannot be imported "
                       f"here", err=True)


@main.command(name="ls")
@click.argument("what", type=click.Choice(["models", "metrics", "datasets", "suites",
                                           "transforms", "compressors"]), default="models")
def ls(what: str) -> None:
    """List registered names (imports no torch) or the suites in ./suites."""
    if what == "suites":
        from vdmbench.suite import load_yaml_with_lines

        for path in sorted(Path("suites").glob("*.yaml")):
            data, _ = load_yaml_with_lines(path)
            desc = data.get("description", "") if isinstance(data, dict) else ""
            click.echo(f"{path}  {desc}")
        return
    from vdmbench.catalog import registries

    reg = registries()[what]
    for name in reg.names():
        click.echo(f"{name:28s} {reg.summary(name)}")


@main.command()
@click.argument("results_dir", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option("--format", "fmt", type=click.Choice(["csv", "md", "tex"]), default="md",
              show_default=True)
@click.option("--timing", type=click.IntRange(min=1), default=None,
              help="show this timing version of every model (default: the newest)")
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False),
              default=None, help="write the files into this folder (default: RESULTS_DIR)")
def leaderboard(results_dir: Path, fmt: str, timing: int | None, out_dir: Path | None) -> None:
    """Rebuild leaderboard.{csv,md,tex} (and its plots) from the records under RESULTS_DIR,
    titled by the records' suite; print one on stdout, say on stderr where the files are."""
    from vdmbench.leaderboard import write_leaderboards

    paths = write_leaderboards(results_dir, timing=timing, out_dir=out_dir)
    click.echo(paths[fmt].read_text(encoding="utf-8"), nl=False)
    names = ", ".join(sorted({p.name for p in paths.values()}))
    click.echo(f"written to {out_dir or results_dir}: {names}", err=True)


@main.command()
@click.argument("run_dir", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option("--samples", type=int, default=8, show_default=True,
              help="requests in the side-by-side video grid (0: none)")
@click.option("--cache-dir", type=click.Path(path_type=Path), default=None,
              help="the run's cache root, as given to `vdmbench run` (default OUT/.cache)")
@click.option("--analysis", type=click.Path(path_type=Path, exists=True), default=None,
              help="a `vdmbench analyze` output folder whose plot the page shows too")
def report(run_dir: Path, samples: int, cache_dir: Path | None, analysis: Path | None) -> None:
    """Rebuild RUN_DIR/report/index.html from the run's records and video cache."""
    from vdmbench.report import build_report

    path = build_report(run_dir, samples=samples, cache_dir=cache_dir, analysis=analysis)
    click.echo(f"report: {path}")


@main.command()
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="write the JSON schema here (default: stdout)")
@click.option("--kind", type=click.Choice(["suite", "record"]), default="suite",
              show_default=True, help="suite files or result records")
def schema(out: Path | None, kind: str) -> None:
    """Print (or write) the JSON schema of suite files or of result records."""
    from vdmbench.records import atomic_write_text

    if kind == "suite":
        from vdmbench.suite import json_schema
    else:
        from vdmbench.record_schema import json_schema
    text = json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"
    if out is None:
        click.echo(text, nl=False)
    else:
        atomic_write_text(out, text)


def entry() -> None:  # pragma: no cover - thin wrapper
    main(prog_name="vdmbench")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
