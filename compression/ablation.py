"""Make the students of the ICMD / depth-plan ablation (``suites/synth_i2v_ablation.yaml``).

    python -m compression.ablation --out students/ablation [--max-steps N] [--only NAME ...]

Variants (all from the shipped synthetic teacher, the shipped ``synth-i2v`` recipe otherwise):

| name | plan | λ_ICD | λ_MCA | distilled |
|---|---|---|---|---|
| pruned | vdmini | – | – | no (teacher weights copied, no training) |
| icd | vdmini | 0.1 | 0 | yes |
| mca | vdmini | 0 | 1 | yes |
| icmd | vdmini | 0.1 | 1 | yes |
| deep-first | deep-first (≥ vdmini's removed parameters) | 0.1 | 1 | yes |
| uniform | uniform (≥ vdmini's removed parameters) | 0.1 | 1 | yes |

Each distilled variant takes the recipe's ``max_steps`` (about 20 min on one CPU core at 300
steps); a killed run resumes where it stopped.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from compression.compress import compress, plan_for
from compression.recipe import PlanSpec, Recipe, default_recipe
from compression.student import apply, save_student
from compression.units import count_params
from vdmbench.acceleration import teacher_of

VARIANTS: dict[str, dict] = {
    "pruned": {"plan": "vdmini", "train": False},
    "icd": {"plan": "vdmini", "lambda_icd": 0.1, "lambda_mca": 0.0},
    "mca": {"plan": "vdmini", "lambda_icd": 0.0, "lambda_mca": 1.0},
    "icmd": {"plan": "vdmini", "lambda_icd": 0.1, "lambda_mca": 1.0},
    "deep-first": {"plan": "deep-first", "lambda_icd": 0.1, "lambda_mca": 1.0},
    "uniform": {"plan": "uniform", "lambda_icd": 0.1, "lambda_mca": 1.0},
}


def variant_recipe(base: Recipe, spec: dict, max_steps: int | None) -> Recipe:
    loss = base.loss.model_copy(update={k: spec[k] for k in ("lambda_icd", "lambda_mca")
                                        if k in spec})
    train = base.train.model_copy(update={"max_steps": max_steps} if max_steps else {})
    return base.model_copy(update={"loss": loss, "train": train,
                                   "plan": PlanSpec(preset=spec["plan"])})


def run(out: Path, names: list[str], max_steps: int | None, weights: str | None) -> None:
    base = default_recipe("synth-i2v")
    for name in names:
        spec = VARIANTS[name]
        recipe = variant_recipe(base, spec, max_steps)
        target = out / f"synth-i2v-{name}"
        if spec.get("train", True):
            compress(recipe, target, weights=weights)
        else:
            teacher = teacher_of("synth-i2v", weights)
            plan = plan_for(recipe.plan, teacher)
            save_student(target, apply(teacher.unet, plan), plan, base_model="synth-i2v",
                         base_weights_sha256=teacher.sha256, base_weights=teacher.weights,
                         recipe_sha256=None,
                         extra={"teacher_unet_params": count_params(teacher.unet),
                                "train_steps": 0})
        print(f"{name}: {target}")


def main() -> None:
    ap = argparse.ArgumentParser(description="make the ablation students")
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--only", nargs="*", default=list(VARIANTS), choices=list(VARIANTS))
    ap.add_argument("--max-steps", type=int, default=None)
    ap.add_argument("--weights", default=None, help="teacher dir (default: shipped)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    run(args.out, args.only, args.max_steps, args.weights)


if __name__ == "__main__":
    main()
