"""The paper's I2V pipeline in miniature: every ``vdmbench compress`` of the latent chain, in
order, resumable, each stage's wall-clock time logged.

    python benchmarks/synth_sfv_chain.py                  # the shipped latent teacher
    python benchmarks/synth_sfv_chain.py --teacher DIR    # another teacher directory

Stages (recipes in ``compression/recipes/``; students in ``--out``, default
``compression/students/``):

1. ``synth-latent-sfv``: the teacher → one-step student (``--method sfv``);
2. ``synth-latent-vdmini``: the one-step student → VDMini-I2V (vdmini plan + ICMD, decoder cut +
   fine-tuning);
3. controls of the one-step student at VDMini-I2V's budget: ``-unet-only``, ``-decoder-only``,
   ``-channel`` (``--method channel``), ``-deep-first``;
4. the ablations of ``suites/synth_sfv_ablation.yaml``: ``-unet-only-noicmd`` (no ICMD),
   ``-unet-deep-first`` (the deep-first UNet cut, decoder unchanged), ``-decoder-long`` (the
   decoder cut fine-tuned 1000 steps) and ``-vdmini-long`` (VDMini-I2V with that decoder budget).

A stage whose student directory holds ``compression.json`` is complete and skipped; an
interrupted stage resumes from its checkpoints (``vdmbench compress`` resumes by default). Each
stage runs as its own ``python -m vdmbench compress`` process (niced unless ``--no-nice``;
``OMP_WAIT_POLICY=PASSIVE`` as the command sets it) and its wall-clock seconds, load average
and command go to ``<out>/synth-latent-chain.tsv``. ``--max-steps``/``--vae-steps`` and
``--recipe-option`` shrink every stage for a smoke run (into another ``--out``).
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
RECIPES = ROOT / "compression" / "recipes"
PREFIX = "synth-latent-"
LOG_NAME = "synth-latent-chain.tsv"


@dataclass(frozen=True)
class Stage:
    """One ``vdmbench compress``: student ``name`` of ``parent`` (None = the teacher)."""

    name: str
    parent: str | None
    method: str = "vdmini"

    @property
    def recipe(self) -> Path:
        return RECIPES / f"{PREFIX}{self.name}.yaml"

    @property
    def has_vae_stage(self) -> bool:
        """Whether its recipe cuts and fine-tunes the VAE decoder (``vae.enabled``)."""
        if self.method != "vdmini":
            return False
        return bool((yaml.safe_load(self.recipe.read_text()).get("vae") or {}).get("enabled"))


STAGES = (
    Stage("sfv", None, "sfv"),
    Stage("vdmini", "sfv"),
    Stage("unet-only", "sfv"),
    Stage("decoder-only", "sfv"),
    Stage("channel", "sfv", "channel"),
    Stage("deep-first", "sfv"),
    Stage("unet-only-noicmd", "sfv"),
    Stage("unet-deep-first", "sfv"),
    Stage("decoder-long", "sfv"),
    Stage("vdmini-long", "sfv"),
)


def student_dir(out: Path, name: str) -> Path:
    return out / f"{PREFIX}{name}"


def complete(directory: Path) -> bool:
    """A student directory is complete once ``compression.json`` is written (it is last)."""
    return (directory / "compression.json").is_file()


def compress_args(stage: Stage, out: Path, teacher: str | None = None, *,
                  max_steps: int | None = None, vae_steps: int | None = None,
                  recipe_options: tuple[str, ...] = (), data_cache: str | None = None
                  ) -> list[str]:
    """The ``vdmbench compress …`` arguments of ``stage`` (after ``vdmbench``)."""
    args = ["compress", "--model", "synth-latent-i2v", "--method", stage.method,
            "--recipe", str(stage.recipe), "--out", str(student_dir(out, stage.name))]
    parent = teacher if stage.parent is None else str(student_dir(out, stage.parent))
    if parent is not None:
        args += ["--weights", parent]
    if max_steps is not None:
        args += ["--max-steps", str(max_steps)]
    if vae_steps is not None and stage.has_vae_stage:
        args += ["--vae-steps", str(vae_steps)]
    for opt in recipe_options:
        args += ["--recipe-option", opt]
    if data_cache is not None:
        args += ["--data-cache", data_cache]
    return args


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--teacher", default=None,
                   help="teacher directory (default: the shipped latent teacher)")
    p.add_argument("--out", default=str(ROOT / "compression" / "students"),
                   help="where the student directories go")
    p.add_argument("--only", nargs="*", default=None, choices=[s.name for s in STAGES],
                   help="run these stages only (their parents must be complete)")
    p.add_argument("--max-steps", type=int, default=None, help="override train.max_steps")
    p.add_argument("--vae-steps", type=int, default=None,
                   help="override vae.finetune_steps (stages with a decoder cut)")
    p.add_argument("--recipe-option", action="append", default=[], metavar="KEY=VALUE",
                   help="passed to every stage (e.g. data.num_videos=64)")
    p.add_argument("--data-cache", default=None, help="latent cache root")
    p.add_argument("--no-nice", action="store_true", help="run at normal priority")
    a = p.parse_args(argv)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    log = out / LOG_NAME
    if not log.exists():
        log.write_text("stage\tstatus\twall_s\tload_before\tload_after\tfinished_utc\tcommand\n")
    env = {**os.environ}
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    env["PYTHONPATH"] = os.pathsep.join(x for x in (str(ROOT), env.get("PYTHONPATH")) if x)
    total = 0.0
    for stage in STAGES:
        if a.only is not None and stage.name not in a.only:
            continue
        d = student_dir(out, stage.name)
        if complete(d):
            print(f"[chain] {stage.name}: complete ({d}), skipped", flush=True)
            continue
        if stage.parent is not None and not complete(student_dir(out, stage.parent)):
            print(f"[chain] {stage.name}: its parent {stage.parent} is not complete",
                  file=sys.stderr)
            return 2
        args = compress_args(stage, out, a.teacher, max_steps=a.max_steps,
                             vae_steps=a.vae_steps, recipe_options=tuple(a.recipe_option),
                             data_cache=a.data_cache)
        cmd = ([] if a.no_nice else ["nice"]) + [sys.executable, "-m", "vdmbench", *args]
        shown = "vdmbench " + shlex.join(args).replace(f"{ROOT}{os.sep}", "")
        print(f"[chain] {stage.name}: {shown}", flush=True)
        load0 = os.getloadavg()[0]
        t0 = time.perf_counter()
        rc = subprocess.run(cmd, env=env, cwd=ROOT).returncode
        wall = time.perf_counter() - t0
        status = "done" if rc == 0 and complete(d) else f"failed (exit {rc})"
        with log.open("a") as f:
            f.write(f"{stage.name}\t{status}\t{wall:.1f}\t{load0:.2f}\t{os.getloadavg()[0]:.2f}"
                    f"\t{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}\t{shown}\n")
        print(f"[chain] {stage.name}: {status} in {wall / 60:.1f} min", flush=True)
        if status != "done":
            return rc or 1
        total += wall
    print(f"[chain] done; this call's stages took {total / 60:.1f} min (log: {log})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
