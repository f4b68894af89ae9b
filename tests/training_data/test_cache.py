"""The latent cache of a PyAV-written video folder: exactly the good clips, each equal to what
the model's own components give for it, bad files listed, refusals before any encoding."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from training_data_utils import BAD, GOOD, make_folder, t2v_denoiser

from vdmbench.data.decode import decode
from vdmbench.data.ucf101 import resize_clip
from vdmbench.errors import ConfigError, DataError, VdmbenchError
from vdmbench.models.svd_denoiser import SVDDenoiser
from vdmbench.training_data import TrainingDataSpec, attach, check


def _data(root: Path, **kw: object) -> TrainingDataSpec:
    return TrainingDataSpec.model_validate({
        "name": "videofolder", "options": {"root": str(root)}, "frames": 4, "height": 16,
        "width": 16, "fps": 8, "max_bad_fraction": 0.3, **kw})


@pytest.fixture(scope="module")
def svd_pipe():  # noqa: ANN201
    from vdmbench.models.svd_random import random_svd_pipeline

    return random_svd_pipeline("tiny", num_frames=4, seed=0)


def _svd_teacher(pipe) -> SVDDenoiser:  # noqa: ANN001
    return SVDDenoiser(pipe.unet, "cpu", name="svd", modules={
        "vae": pipe.vae, "image_encoder": pipe.image_encoder,
        "feature_extractor": pipe.feature_extractor})


def _clip_frames(folder: Path, clip: dict) -> torch.Tensor:
    """The clip decoded independently: PyAV frames start, start + stride, …, resized."""
    idx = [clip["start"] + i * clip["stride"] for i in range(4)]
    return resize_clip(decode(folder / clip["file"], idx), (16, 16), "cover_center_crop")


def test_svd_cache_holds_the_good_clips_as_the_pipeline_encodes_them(
        folder: Path, tmp_path: Path, svd_pipe) -> None:  # noqa: ANN001
    teacher = _svd_teacher(svd_pipe)
    info = attach(teacher, _data(folder), tmp_path, storage="float32", log=lambda m: None)
    cache = teacher.train_data
    assert cache.files == GOOD and info["clips"] == 9 and info["clips_encoded"] == 9
    skipped = {s["file"]: s["reason"] for s in cache.manifest["skipped"]}
    assert sorted(skipped) == sorted(BAD) and info["skipped"] == 3
    assert "too short" in skipped["clips/short.avi"] and "bad_bytes.avi" in \
        skipped["clips/bad_bytes.avi"]
    assert cache.manifest["bytes"] == sum(
        p.stat().st_size for p in (cache.folder / "shards").glob("*.safetensors"))

    vae, p = svd_pipe.vae, svd_pipe
    hook: dict = {}
    handle = p.unet.register_forward_pre_hook(
        lambda m, a, kw: hook.update(kw, sample=a[0]) or None, with_kwargs=True)
    try:
        for k in (0, 4, 8):
            clip = cache.clips[k]
            got = cache.get([k])
            frames = _clip_frames(folder, clip)
            x = frames.permute(0, 3, 1, 2).float() / 255 * 2 - 1
            with torch.no_grad():
                want = vae.encode(x).latent_dist.mode() * vae.config.scaling_factor
            assert got["x0"].shape == (1, 4, 4, 8, 8)
            torch.testing.assert_close(got["x0"][0], want, atol=1e-5, rtol=1e-5)
            # the pipeline itself, seeded with the cache's conditioning-noise generator: its
            # UNet sees the cached image embedding, conditioning latent and time ids
            import PIL.Image

            from vdmbench.data.clips import ClipRef, TrainClip
            ref = ClipRef(clip["index"], clip["file"], None, clip["caption"])
            g = teacher.clip_encoder(_data(folder)).cond_generator(
                TrainClip(ref, frames, clip["fps"], 0, 1, 1))
            p(PIL.Image.fromarray(frames[0].numpy()), height=16, width=16, num_frames=4,
              num_inference_steps=1, min_guidance_scale=1.0, max_guidance_scale=1.0,
              fps=round(clip["fps"]), motion_bucket_id=127, noise_aug_strength=0.02,
              generator=g, output_type="latent")
            torch.testing.assert_close(got["context"][0], hook["encoder_hidden_states"][0],
                                       atol=1e-6, rtol=1e-5)
            # UNet input = scaled noisy latents ‖ conditioning latent (every frame)
            torch.testing.assert_close(got["cond"][0], hook["sample"][0, 0, 4:], atol=1e-5,
                                       rtol=1e-5)
            torch.testing.assert_close(got["added_time_ids"][0], hook["added_time_ids"][0])
    finally:
        handle.remove()
    # batches come from the cache: float32 latents of drawn clips
    b = teacher.batch(3, seed=5)
    assert b["x0"].shape == (3, 4, 4, 8, 8) and b["cond"].shape == (3, 4, 8, 8)
    assert torch.equal(b["x0"], cache.get(teacher.draw(3, 5))["x0"].float())


def test_fp16_cache_is_the_float32_one_rounded(folder: Path, tmp_path: Path,
                                              svd_pipe) -> None:  # noqa: ANN001
    t32, t16 = _svd_teacher(svd_pipe), _svd_teacher(svd_pipe)
    attach(t32, _data(folder), tmp_path, storage="float32", log=lambda m: None)
    info = attach(t16, _data(folder), tmp_path, log=lambda m: None)
    a, b = t32.train_data.get(range(9)), t16.train_data.get(range(9))
    assert b["x0"].dtype == torch.float16 and b["added_time_ids"].dtype == torch.float32
    assert torch.equal(a["x0"].half(), b["x0"]) and torch.equal(a["context"].half(), b["context"])
    assert info["cache_key"] != json.loads((t32.train_data.folder / "manifest.json"
                                            ).read_text())["key"]
    assert info["cache_bytes"] < t32.train_data.manifest["bytes"]


def test_too_many_bad_files_stop_naming_them(folder: Path, tmp_path: Path, svd_pipe) -> None:  # noqa: ANN001
    # 5 % of 12 is 0.6 files: the first bad file stops the run (the default fraction)
    with pytest.raises(DataError, match=r"1 of 12 training videos are bad.*first: "
                                        r"clips/bad_bytes\.avi \(.*cannot read video"):
        attach(_svd_teacher(svd_pipe), _data(folder, max_bad_fraction=0.05), tmp_path,
               log=lambda m: None)
    with pytest.raises(DataError, match=r"2 of 12 .*bad_bytes\.avi .*; clips/cut\.avi"):
        attach(_svd_teacher(svd_pipe), _data(folder, max_bad_fraction=0.1), tmp_path,
               log=lambda m: None)
    info = attach(_svd_teacher(svd_pipe), _data(folder, max_bad_fraction=0.25), tmp_path,
                  log=lambda m: None)
    assert info["clips"] == 9


def test_missing_root_metadata_and_columns_before_any_model(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="root folder .*nope"):
        check(_data(tmp_path / "nope"))
    (tmp_path / "v").mkdir()
    with pytest.raises(DataError, match="no metadata.csv or metadata.jsonl"):
        check(_data(tmp_path / "v"))
    (tmp_path / "v" / "metadata.csv").write_text("video,text\na.mp4,a cat\n")
    with pytest.raises(DataError, match="no column 'file_name'.*video, text"):
        check(_data(tmp_path / "v")).refs()
    src = check(_data(tmp_path / "v", options={"root": str(tmp_path / "v"),
                                               "columns": {"file_name": "video"}}))
    assert src.has_captions and src.refs()[0].caption == "a cat"  # 'text' as caption
    with pytest.raises(DataError, match="no caption column 'caption'"):
        check(_data(tmp_path / "v", options={"root": str(tmp_path / "v"),
                                             "columns": {"file_name": "video",
                                                         "caption": "caption"}}))
    with pytest.raises(ConfigError, match=r"field 'data\.options\.colums': unknown key 'colums' "
                                          r"\(allowed: columns, decoder, frame_stride, "):
        check(_data(tmp_path / "v", options={"root": str(tmp_path / "v"), "colums": {}}))
    with pytest.raises(VdmbenchError, match="Did you mean 'videofolder'"):
        check(_data(tmp_path / "v", name="videofoldr"))


def test_openvid_style_csv_and_jsonl(tmp_path: Path) -> None:
    from training_data_utils import frames_of, write_video

    write_video(tmp_path / "video" / "x.mp4", frames_of(0, 8))
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "OpenVid-1M.csv").write_text(
        'video,caption,aesthetic score\nx.mp4,"a ramp, sliding",5.1\n')
    src = check(_data(tmp_path, options={
        "root": str(tmp_path), "metadata": "data/OpenVid-1M.csv", "videos_subdir": "video",
        "columns": {"file_name": "video", "caption": "caption"}}))
    (ref,) = src.refs()
    assert ref.caption == "a ramp, sliding" and src.load(ref).frames.shape == (4, 16, 16, 3)
    (tmp_path / "metadata.jsonl").write_text(json.dumps({"file_name": "video/x.mp4"}) + "\n")
    src = check(_data(tmp_path))
    assert not src.has_captions and src.refs()[0].caption is None


def test_t2v_latents_and_text_and_caption_rules(folder: Path, tmp_path: Path,
                                                svd_pipe) -> None:  # noqa: ANN001
    spec = t2v_denoiser()
    info = attach(spec, _data(folder), tmp_path, storage="float32", log=lambda m: None)
    cache = spec.train_data
    assert cache.files == GOOD and info["clips_encoded"] == 9
    vae = spec.pipe.vae
    for k in (1, 7):
        clip, got = cache.clips[k], cache.get([k])
        x = _clip_frames(folder, clip).permute(0, 3, 1, 2).float() / 127.5 - 1
        with torch.no_grad():
            want = vae.encode(x).latent_dist.mode() * 0.18215
        torch.testing.assert_close(got["x0"][0], want, atol=1e-5, rtol=1e-5)
        assert torch.equal(got["context"][0], spec.pipe.encode_text([clip["caption"]])[0])
        assert clip["caption"] == f"a gradient number {int(clip['file'][7:9])} sliding right"
    b = spec.batch(2, seed=1)
    assert b["x0"].shape == (2, 4, 4, 8, 8) and b["context"].shape == (2, 6, 24)

    bare = make_folder(tmp_path / "nocap", captions=False)
    with pytest.raises(DataError, match="no captions.*text-to-video"):
        attach(t2v_denoiser(), _data(bare), tmp_path / "c2", log=lambda m: None)
    # a row with an empty caption is one bad file for a T2V model, fine for an I2V one
    rows = (folder / "metadata.csv").read_text().splitlines()
    rows[1] = rows[1].split(",")[0] + ","
    (tmp_path / "holes").mkdir()
    (tmp_path / "holes" / "metadata.csv").write_text("\n".join(rows) + "\n")
    (tmp_path / "holes" / "clips").symlink_to(folder / "clips")
    holes = t2v_denoiser()
    info = attach(holes, _data(tmp_path / "holes", max_bad_fraction=0.4), tmp_path / "c3",
                  log=lambda m: None)
    skipped = {s["file"]: s["reason"] for s in holes.train_data.manifest["skipped"]}
    assert info["clips"] == 8 and "missing caption" in skipped["clips/v00.avi"]
    i2v = _svd_teacher(svd_pipe)
    assert attach(i2v, _data(tmp_path / "holes", max_bad_fraction=0.4), tmp_path / "c3",
                  log=lambda m: None)["clips"] == 9


def test_noise_is_explicit(folder: Path, tmp_path: Path, svd_pipe) -> None:  # noqa: ANN001
    teacher = _svd_teacher(svd_pipe)
    with pytest.raises(ConfigError, match="trains on videos: name a dataset"):
        attach(teacher, TrainingDataSpec(), tmp_path)
    info = attach(teacher, TrainingDataSpec(name="noise"), tmp_path)
    assert info["dataset"] == "noise" and teacher.train_data is None
    assert teacher.batch(2, 0)["x0"].shape == (2, 4, 4, 8, 8)  # Gaussian latents
    teacher.noise_by_default = True  # the random-svd test model
    assert attach(teacher, TrainingDataSpec(), tmp_path)["dataset"] == "noise"
    assert not list(tmp_path.iterdir())  # nothing cached for noise
    assert np.isfinite(teacher.batch(1, 0)["x0"].numpy()).all()


def test_synthmotion_clips_through_a_real_encoder(tmp_path: Path, svd_pipe) -> None:  # noqa: ANN001
    """The synthetic world takes the same path as a video folder (rendered, never bad)."""
    from vdmbench.data.synthmotion import render

    teacher = _svd_teacher(svd_pipe)
    data = TrainingDataSpec(name="synthmotion", num_videos=3, frames=4, height=16, width=16)
    info = attach(teacher, data, tmp_path, storage="float32")
    assert info["clips"] == 3 and info["skipped"] == 0
    video, meta = render(1, "train", 4, 16, 16, 0)
    assert teacher.train_data.clips[1]["caption"] == meta.caption
    x = video.permute(0, 3, 1, 2).float() / 255 * 2 - 1
    with torch.no_grad():
        want = svd_pipe.vae.encode(x).latent_dist.mode() * svd_pipe.vae.config.scaling_factor
    torch.testing.assert_close(teacher.train_data.get([1])["x0"][0], want, atol=1e-5, rtol=1e-5)
