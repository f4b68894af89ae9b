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
}


class VdmbenchGroup(click.Group):
    """A click group that loads some commands lazily and maps our errors to exit status 2."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(LAZY_COMMANDS))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        cmd = super().get_command(ctx, name)
        if cmd is not None or name not in LAZY_COMMANDS:
            return cmd
        target, help_text = LAZY_COMMANDS[name]
        module_name, attr = target.split(":")
        try:
            module = __import__(module_name, fromlist=[attr])
        except ImportError as e:
            reason = str(e)

            @click.command(name=name, help=help_text)
            def unavailable() -> None:
                raise VdmbenchError(f"command '{name}' is unavailable: {reason}")
            return unavailable
        return getattr(module, attr)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except VdmbenchError as e:
            click.echo(f"error: {e}", err=True)
            ctx.exit(2)


@click.group(cls=VdmbenchGroup)
@click.version_option(package_name="vdmbench")
def main() -> None:
    """Compress video diffusion models and benchmark them honestly."""


@main.command()
@click.argument("suite", type=click.Path(path_type=Path))
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=Path("results"),
              show_default=True, help="results root; the run goes to OUT/<suite>/<run-id>/")
@click.option("--limit", type=int, default=None, help="use only the first N requests")
@click.option("--device", default="cpu", show_default=True, help="cpu or cuda[:N]")
@click.option("--resume/--no-resume", default=True, show_default=True,
              help="continue an interrupted run of the same suite (or start a fresh run)")
@click.option("--cache-dir", type=click.Path(path_type=Path), default=None,
              help="content-keyed cache of videos and reference statistics (default OUT/.cache)")
@click.option("--quiet", is_flag=True, help="no progress bars (for CI logs)")
def run(suite: Path, out_dir: Path, limit: int | None, device: str, resume: bool,
        cache_dir: Path | None, quiet: bool) -> None:
    """Run SUITE: generate, evaluate, time, write records and the leaderboard."""
    from vdmbench.runner import RunOptions, run_suite

    result = run_suite(suite, RunOptions(out_dir=out_dir, limit=limit, device=device,
                                         resume=resume, quiet=quiet, cache_dir=cache_dir))
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
        resolved = resolve_suite(path, checks=not schema_only)
        s = resolved.suite
        click.echo(f"{path}: ok ({s.task}, {len(s.models)} models, {len(s.metrics)} metrics, "
                   f"dataset {s.dataset.name})")


@main.command(name="ls")
@click.argument("what", type=click.Choice(["models", "metrics", "datasets", "suites",
                                           "compressors", "kernels"]), default="models")
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
def leaderboard(results_dir: Path, fmt: str) -> None:
    """Rebuild leaderboard.{csv,md,tex} from the records under RESULTS_DIR; print one."""
    from vdmbench.leaderboard import write_leaderboards

    paths = write_leaderboards(results_dir, title=results_dir.name)
    click.echo(paths[fmt].read_text(encoding="utf-8"), nl=False)


@main.command()
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="write the JSON schema of suite files here (default: stdout)")
def schema(out: Path | None) -> None:
    """Print (or write) the JSON schema of suite files."""
    from vdmbench.records import atomic_write_text
    from vdmbench.suite import json_schema

    text = json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"
    if out is None:
        click.echo(text, nl=False)
    else:
        atomic_write_text(out, text)


def entry() -> None:  # pragma: no cover - thin wrapper
    main(prog_name="vdmbench")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
