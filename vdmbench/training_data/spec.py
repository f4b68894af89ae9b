"""The training data a recipe names (``data:``): a registered dataset with a suite's schema."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from vdmbench.suite import DatasetSpec


class TrainingDataSpec(BaseModel):
    """A recipe's ``data:`` — the fields of a suite's ``dataset:`` (name, split, frames, size,
    fps, seed, options) plus what only training needs.

    ``name`` None: the adapter's own clips (the synthetic adapters render SynthMotion; the
    ``random-svd`` test model draws Gaussian latents); every other adapter must name a dataset
    (``noise`` explicitly for a smoke run on Gaussian latents)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = Field(None, description="registered dataset (vdmbench ls datasets): "
                             "videofolder, ucf101, synthmotion, noise")
    split: str = "train"
    num_videos: int | None = Field(None, gt=0, description="videos used (a seeded subset); "
                                   "None = all")
    frames: int = Field(8, gt=1)
    height: int = Field(32, gt=0)
    width: int = Field(32, gt=0)
    fps: float = Field(8.0, gt=0, description="clip frame rate: stride = round(native fps / "
                       "fps) unless the dataset's frame_stride option is set")
    seed: int = Field(0, ge=0, description="clip offsets and subset selection")
    options: dict[str, Any] = Field(default_factory=dict,
                                    description="dataset-specific options (validated by it)")
    max_bad_fraction: float = Field(0.05, ge=0, le=1, description="fraction of unreadable, "
                                    "too short or uncaptioned videos tolerated (skipped and "
                                    "listed); more stops with exit status 2")

    def dataset_spec(self) -> DatasetSpec:
        """The suite-schema view (what a dataset class validates its options against)."""
        return DatasetSpec(name=self.name or "", split=self.split,
                           num_videos=self.num_videos or 1, frames=self.frames,
                           height=self.height, width=self.width, fps=self.fps, seed=self.seed,
                           options=dict(self.options))
