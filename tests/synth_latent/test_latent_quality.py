"""The shipped latent teacher really learned the synthetic world (tests that can fail).

On 44 SynthMotion test-split requests whose motion class is changed to the next one: the
videos it generates through the VAE are put in the *asked* class by the motion net far more
often than in the first frame's own class, and above chance; the first generated frame stays
close to the conditioning frame, and the videos move.

The teacher trains for hours on this CPU; until its weights are in the package
(``vdmbench/assets/synth_latent_i2v_teacher``) these tests are skipped, saying so.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch
from latent_helpers import make_requests

from vdmbench.data.synthmotion import MOTION_CLASSES, render_batch
from vdmbench.metrics.base import MetricContext
from vdmbench.models.synth_latent_i2v import SynthLatentI2VAdapter
from vdmbench.models.synth_latent_i2v_pipeline import TEACHER_DIR
from vdmbench.synth.metrics import SynthMotionAccuracy

pytestmark = pytest.mark.skipif(not (TEACHER_DIR / "unet").is_dir(),
                                reason=f"latent teacher not shipped yet ({TEACHER_DIR})")
ASKED_MIN = 0.45  # chance: 1/11


@pytest.fixture(scope="module")
def asked() -> tuple[list, list]:
    reqs = make_requests(44, first=100)
    return reqs, [dataclasses.replace(r, extra={"motion_class": (r.extra["motion_class"] + 1)
                                                % len(MOTION_CLASSES)}) for r in reqs]


@pytest.fixture(scope="module")
def videos(asked: tuple[list, list]) -> list:
    teacher = SynthLatentI2VAdapter.load("teacher", None, {"batch_size": 22}, "cpu")
    return teacher.generate(asked[1])


def test_teacher_moves_as_the_class_says(asked: tuple[list, list], videos: list,
                                         tmp_path: Path) -> None:
    reqs, changed = asked

    def accuracy(labels: list) -> float:
        metric = SynthMotionAccuracy(SynthMotionAccuracy.Options(),
                                     MetricContext(device="cpu", cache_dir=tmp_path))
        metric.update(videos, labels)
        return metric.compute().value

    follows, own = accuracy(changed), accuracy(reqs)
    print({"asked class": follows, "frame's own class": own})
    assert follows >= ASKED_MIN, (follows, own)
    assert follows >= own + 0.2, (follows, own)


def test_first_frame_follows_conditioning_and_videos_move(videos: list) -> None:
    real, _ = render_batch(list(range(100, 144)), "test", 8, 32, 32, 0)
    fake = torch.stack([v.frames for v in videos]).float()
    mse = float(((fake[:, 0] - real[:, 0].float()) ** 2).mean())
    assert mse < 400.0, mse  # RMSE below 20 grey levels
    moving = float((fake[:, 1:] - fake[:, :-1]).abs().mean())
    assert moving > 1.0, moving
