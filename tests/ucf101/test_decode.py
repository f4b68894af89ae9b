"""Decoding backends: PyAV (default) and decord give the same frames on synthesized videos."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vdmbench.data.decode import decode, probe
from vdmbench.errors import ConfigError, DataError


def _frames(n: int = 40, h: int = 120, w: int = 160) -> np.ndarray:
    rng = np.random.default_rng(0)
    base = (rng.random((h // 8, w // 8, 3)) * 255).astype(np.uint8).repeat(8, 0).repeat(8, 1)
    return np.stack([np.roll(base, (i, 3 * i), axis=(0, 1)) for i in range(n)])


def _write(path: Path, frames: np.ndarray, codec: str) -> None:
    import av

    with av.open(str(path), "w") as c:
        s = c.add_stream(codec, rate=25)
        s.width, s.height = frames.shape[2], frames.shape[1]
        s.pix_fmt = "rgb24" if codec == "png" else "yuv420p"
        for f in frames:
            for p in s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)


@pytest.mark.parametrize(("name", "codec"), [("clip.avi", "mpeg4"), ("clip_png.avi", "png"),
                                             ("clip.mp4", "libx264"), ("clip_mpeg4.mp4", "mpeg4")])
def test_pyav_and_decord_give_the_same_frames(tmp_path: Path, name: str, codec: str) -> None:
    pytest.importorskip("decord", reason="optional backend: pip install \"vdmbench[decord]\"")
    import av

    if codec not in av.codecs_available:
        pytest.skip(f"this PyAV build has no {codec} encoder")
    frames = _frames()
    path = tmp_path / name
    _write(path, frames, codec)
    assert probe(path, "pyav") == probe(path, "decord") == (40, 25.0)
    strided = list(range(5, 5 + 16 * 2, 2))  # a 16-frame clip at stride 2
    a, b = decode(path, strided, "pyav"), decode(path, strided, "decord")
    assert a.shape == b.shape == (16, 120, 160, 3)
    if codec == "mpeg4":
        # MPEG-4 part 2's IDCT is not bit-exact across decoder builds: decord 0.6.0's FFmpeg and
        # PyAV 18's may differ by a grey level or two in a few values (measured: at most 2, in
        # 1e-5 of the values of 150-frame 320×240 clips); equal on this short clip
        diff = np.abs(a.astype(int) - b.astype(int))
        assert diff.max() <= 4 and (diff > 0).mean() < 1e-3
    else:
        assert np.array_equal(a, b)
    # order and repeats are kept
    assert np.array_equal(decode(path, [9, 5, 9], "decord"), b[[2, 0, 2]])
    if codec == "png":  # lossless: both equal the written frames
        assert np.array_equal(a, frames[strided])


def test_decord_errors_name_the_file(tmp_path: Path) -> None:
    pytest.importorskip("decord")
    path = tmp_path / "short.avi"
    _write(path, _frames(5), "png")
    with pytest.raises(DataError, match="short.avi"):
        decode(path, [9], "decord")
    bad = tmp_path / "bad.avi"
    bad.write_bytes(b"not a video")
    with pytest.raises(DataError, match="bad.avi"):
        probe(bad, "decord")


def test_missing_decord_is_a_config_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path
                                          ) -> None:
    import builtins

    real_import = builtins.__import__

    def no_decord(name: str, *args: object, **kwargs: object) -> object:
        if name == "decord":
            raise ImportError("No module named 'decord'")
        return real_import(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", no_decord)
    with pytest.raises(ConfigError, match=r"vdmbench\[decord\]"):
        probe(tmp_path / "x.avi", "decord")
