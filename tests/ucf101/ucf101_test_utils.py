"""Synthesize a tiny UCF101 tree: real layout and split-file formats, tiny lossless .avi files.

Frame ``i`` of video number ``vid`` is constant: R = 5·i (mod 256), G = vid, B = 7, so a decoded
frame tells which video and which frame it is.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

CLASSES = ["ApplyEyeMakeup", "HandstandPushups", "YoYo"]
# the official files spell this class's videos differently from its folder
FILE_CLASS = {"HandstandPushups": "HandStandPushups"}
W, H = 32, 24


def write_avi(path: Path, frames: np.ndarray, codec: str = "png", fps: int = 25) -> None:
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as c:
        s = c.add_stream(codec, rate=fps)
        s.width, s.height = frames.shape[2], frames.shape[1]
        s.pix_fmt = "rgb24" if codec == "png" else "yuv420p"
        for f in frames:
            for p in s.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(f),
                                                         format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)


def video_frames(vid: int, n: int) -> np.ndarray:
    out = np.zeros((n, H, W, 3), np.uint8)
    for i in range(n):
        out[i, ..., 0] = (5 * i) % 256
        out[i, ..., 1] = vid
        out[i, ..., 2] = 7
    return out


def make_ucf101(root: Path, lengths: dict[str, int] | None = None, codec: str = "png"
                ) -> dict[str, int]:
    """Write ``root/UCF-101`` and ``root/ucfTrainTestlist``; returns {relpath: video id}.

    Per class: groups g01, g02 (test in split 1), g08, g09 (train in split 1); one clip each.
    Split 2 swaps the roles of g01 and g08; split 3 puts everything but g02 in train.
    ``lengths`` overrides the default 50 frames for given relpaths; ``codec``: the AVI codec
    (png, lossless, by default; mpeg4 as UCF101's own files).
    """
    lengths = lengths or {}
    ids: dict[str, int] = {}
    groups = ["g01", "g02", "g08", "g09"]
    for ci, cls in enumerate(CLASSES):
        fcls = FILE_CLASS.get(cls, cls)
        for gi, g in enumerate(groups):
            rel = f"{cls}/v_{fcls}_{g}_c01.avi"
            vid = 10 * ci + gi + 1
            ids[rel] = vid
            write_avi(root / "UCF-101" / rel, video_frames(vid, lengths.get(rel, 50)), codec)
    lists = root / "ucfTrainTestlist"
    lists.mkdir(parents=True)
    crlf = "\r\n"  # the official files have Windows line endings
    (lists / "classInd.txt").write_text(
        "".join(f"{i + 1} {c}{crlf}" for i, c in enumerate(CLASSES)), newline="")
    test_groups = {1: {"g01", "g02"}, 2: {"g08", "g02"}, 3: {"g02"}}
    for k, tg in test_groups.items():
        train, test = [], []
        for ci, cls in enumerate(CLASSES):
            fcls = FILE_CLASS.get(cls, cls)
            for g in groups:
                rel = f"{cls}/v_{fcls}_{g}_c01.avi"
                (test if g in tg else train).append((rel, ci + 1))
        (lists / f"trainlist0{k}.txt").write_text(
            "".join(f"{r} {lab}{crlf}" for r, lab in train), newline="")
        (lists / f"testlist0{k}.txt").write_text(
            "".join(f"{r}{crlf}" for r, _ in test), newline="")
    return ids
