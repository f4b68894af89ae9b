"""The content-keyed latent cache: encoded training clips, written once, read by every trainer.

Layout (``<cache root>/<key>/``; ``key`` = sha256 of :func:`cache_material`: the clip list and
its preprocessing, the encoder's weights hash and settings, the storage dtype, the shard size)::

    material.json                     what the key hashes (readable)
    shards/000000.safetensors         the encoded clips of candidates 0 … S−1 (good ones only),
                                      one stacked tensor per field: (n, …), floats in the cache
                                      dtype (float16 by default) unless the encoder keeps float32
    shards/000000.json                that shard's clips (index, file, caption, start, stride,
                                      fps) and skipped files with reasons; written last: a shard
                                      is complete when its .json exists
    manifest.json                     every shard, clip and skipped file, the fields' shapes
                                      and dtypes, the bytes; written last (atomically) by rank 0

Every file is written to a temporary name and renamed, so a killed ``prepare`` leaves whole
shards or none; the next run encodes only the shards without a ``.json`` and, encoding each clip
alone from a pure function of (seed, index, file), writes the same bytes (bit for bit on a CPU).
Shards are the unit of work: under torchrun they are shared out by
:func:`vdmbench.distributed.assign_work`, each written by exactly one rank.

A bad video (unreadable, truncated, too short, missing a caption the model needs) is skipped and
listed; when more than ``max_bad_fraction`` of the candidates are bad the run stops with a
:class:`~vdmbench.errors.DataError` naming the first of them (as soon as that is certain).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from vdmbench.data.clips import ClipRef, ClipSource, TrainClip
from vdmbench.distributed import World, assign_work
from vdmbench.errors import DataError, VdmbenchError
from vdmbench.records import give_default_mode

CACHE_FORMAT = "vdmbench-latent-cache-1"
DEFAULT_SHARD_CLIPS = 64
#: bad files named in the error when too many are bad
_NAMED = 5


class ClipEncoder(Protocol):
    """What a model's :class:`~vdmbench.diffusion.denoiser.DenoiserSpec` hands the cache.

    ``encode(clip)``: one clip's tensors without a batch dimension (e.g. ``x0`` (F, C, h, w));
    :class:`DataError` for a clip it cannot use (e.g. no caption for a text-to-video model).
    ``material()``: what determines the output besides the clip (weights hash, settings,
    dtype). ``needs_captions``: refuse a dataset without captions."""

    needs_captions: bool

    def material(self) -> dict[str, Any]: ...

    def encode(self, clip: TrainClip) -> dict[str, torch.Tensor]: ...


class FrameEncoder:
    """Stores the clip's uint8 frames ``(F, H, W, 3)`` (the VAE decoder stage's real frames)."""

    needs_captions = False

    def material(self) -> dict[str, Any]:
        return {"encoder": "frames", "dtype": "uint8"}

    def encode(self, clip: TrainClip) -> dict[str, torch.Tensor]:
        return {"frames": clip.frames.contiguous()}


def cache_material(source: ClipSource, encoder: ClipEncoder, shard_clips: int
                   ) -> dict[str, Any]:
    return {"format": CACHE_FORMAT, "data": source.material(), "encoder": encoder.material(),
            "shard_clips": shard_clips}


def cache_key(material: dict[str, Any]) -> str:
    blob = json.dumps(material, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()


def default_cache_root() -> Path:
    """``$VDMBENCH_DATA_CACHE``, else ``$XDG_CACHE_HOME/vdmbench/training-data`` (default
    ``~/.cache``)."""
    env = os.environ.get("VDMBENCH_DATA_CACHE")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "vdmbench" / "training-data"


def _atomic_bytes(path: Path, write: Callable[[str], None]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    give_default_mode(fd)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def _atomic_json(path: Path, obj: Any) -> None:
    text = json.dumps(obj, indent=1, sort_keys=True) + "\n"
    _atomic_bytes(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@dataclass
class PrepareResult:
    """What :func:`prepare` did: the cache folder, its manifest's sha256, the good clips, how
    many were encoded now and how many found in complete shards, the skipped files."""

    path: Path
    key: str
    manifest_sha256: str
    clips: int
    encoded: int
    reused: int
    skipped: list[dict[str, Any]] = field(default_factory=list)
    bytes: int = 0


def _shard_refs(refs: Sequence[ClipRef], shard_clips: int) -> list[list[ClipRef]]:
    return [list(refs[i:i + shard_clips]) for i in range(0, len(refs), shard_clips)]


def _encode_shard(source: ClipSource, encoder: ClipEncoder, refs: list[ClipRef], path: Path,
                  log: Callable[[str], None], on_skip: Callable[[dict[str, Any]], None]
                  ) -> dict[str, Any]:
    """Encode one shard's clips and write ``path`` (.safetensors) then its ``.json``."""
    rows: list[dict[str, torch.Tensor]] = []
    clips: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    for ref in refs:
        try:
            if encoder.needs_captions and not (ref.caption or "").strip():
                raise DataError(f"{ref.path or ref.name}: missing caption")
            clip = source.load(ref)
            with torch.no_grad():
                out = encoder.encode(clip)
        except DataError as e:
            entry = {"index": ref.index, "file": ref.name, "reason": str(e)}
            skipped.append(entry)
            log(f"skipped {ref.name}: {e}")
            on_skip(entry)
            continue
        rows.append({k: v.detach().cpu().contiguous() for k, v in out.items()})
        clips.append({"index": ref.index, "file": ref.name, "caption": ref.caption,
                      "start": clip.start, "stride": clip.stride, "fps": clip.fps,
                      "total": clip.total})
    tensors = {k: torch.stack([r[k] for r in rows]).contiguous() for k in rows[0]} if rows else {}
    if tensors:
        _atomic_bytes(path, lambda tmp: save_file(tensors, tmp, metadata={"format": CACHE_FORMAT}))
    info = {"clips": clips, "skipped": skipped,
            "fields": {k: {"shape": list(v.shape[1:]), "dtype": str(v.dtype).replace("torch.",
                                                                                   "")}
                       for k, v in tensors.items()},
            "bytes": path.stat().st_size if tensors else 0,
            "sha256": _sha256(path) if tensors else None}
    _atomic_json(path.with_suffix(".json"), info)
    return info


def _too_many(skipped: list[dict[str, Any]], total: int, fraction: float) -> DataError:
    names = "; ".join(f"{s['file']} ({s['reason']})" for s in skipped[:_NAMED])
    return DataError(f"{len(skipped)} of {total} training videos are bad, more than "
                     f"max_bad_fraction {fraction:g} allows (stopped as soon as that was "
                     f"certain); first: {names}")


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr)


def prepare(source: ClipSource, encoder: ClipEncoder, root: str | os.PathLike[str], *,
            shard_clips: int = DEFAULT_SHARD_CLIPS, max_bad_fraction: float = 0.05,
            world: World | None = None, progress: bool = False,
            log: Callable[[str], None] = _stderr) -> PrepareResult:
    """Fill the cache of (``source``, ``encoder``) under ``root`` (see the module docstring):
    encode the shards that have no ``.json`` yet (this rank's share under torchrun), then rank 0
    writes ``manifest.json``. Returns what was done; every rank gets the same totals."""
    if shard_clips < 1:
        raise VdmbenchError(f"shard size must be ≥ 1 clip, got {shard_clips}")
    if encoder.needs_captions and not source.has_captions:
        raise DataError(f"dataset '{source.dataset}' has no captions and this model is "
                        f"text-to-video: give a dataset with a caption column (videofolder: "
                        f"columns={{caption: …}})")
    world = world or World()
    material = cache_material(source, encoder, shard_clips)
    key = cache_key(material)
    folder = Path(root) / key
    shards_dir = folder / "shards"
    shards_dir.mkdir(parents=True, exist_ok=True)
    if world.is_main and not (folder / "material.json").is_file():
        _atomic_json(folder / "material.json", material)
    refs = source.refs()
    total = len(refs)
    if total == 0:
        raise DataError(f"dataset '{source.dataset}' lists no videos")
    groups = _shard_refs(refs, shard_clips)
    names = [f"{i:06d}" for i in range(len(groups))]
    ranks = assign_work([names], world.size)[0]
    limit = max_bad_fraction * total

    def done(i: int) -> dict[str, Any] | None:
        p = shards_dir / f"{names[i]}.json"
        return json.loads(p.read_text()) if p.is_file() else None

    skipped: list[dict[str, Any]] = []
    for i in range(len(groups)):
        info = done(i)
        if info is not None:
            skipped.extend(info["skipped"])

    def on_skip(entry: dict[str, Any]) -> None:
        skipped.append(entry)
        if len(skipped) > limit:
            raise _too_many(sorted(skipped, key=lambda s: s["index"]), total, max_bad_fraction)

    if len(skipped) > limit:
        raise _too_many(sorted(skipped, key=lambda s: s["index"]), total, max_bad_fraction)
    mine = [i for i in range(len(groups)) if ranks[i] == world.rank and done(i) is None]
    it: Any = mine
    if progress and mine:
        from rich.progress import track
        it = track(mine, description=f"encoding {source.dataset} clips", total=len(mine))
    encoded = 0
    for i in it:
        for stale in shards_dir.glob(f".{names[i]}.*.tmp"):  # left by a killed run
            stale.unlink(missing_ok=True)
        info = _encode_shard(source, encoder, groups[i], shards_dir / f"{names[i]}.safetensors",
                             log, on_skip)
        encoded += len(info["clips"])
    counts = world.gather(encoded)
    encoded_all = sum(counts)
    manifest = folder / "manifest.json"
    if world.is_main:
        infos = [done(i) for i in range(len(groups))]
        missing = [names[i] for i, x in enumerate(infos) if x is None]
        if missing:
            raise VdmbenchError(f"{shards_dir}: shards {', '.join(missing[:5])} were not "
                                f"written (a rank failed?)")
        all_skipped = [s for x in infos for s in x["skipped"]]  # type: ignore[union-attr]
        if len(all_skipped) > limit:
            raise _too_many(all_skipped, total, max_bad_fraction)
        clips = [dict(c, shard=names[i], row=r) for i, x in enumerate(infos)
                 for r, c in enumerate(x["clips"])]  # type: ignore[union-attr]
        if not clips:
            raise DataError(f"dataset '{source.dataset}': no usable video among {total}")
        fields = next(x["fields"] for x in infos if x and x["fields"])  # type: ignore[index]
        body = {"format": CACHE_FORMAT, "key": key, "material": material, "fields": fields,
                "candidates": total, "clips": clips, "skipped": all_skipped,
                "shards": [{"name": names[i], "clips": len(x["clips"]), "bytes": x["bytes"],
                            "sha256": x["sha256"]}
                           for i, x in enumerate(infos)],  # type: ignore[union-attr]
                "bytes": sum(x["bytes"] for x in infos)}  # type: ignore[index]
        if not manifest.is_file() or json.loads(manifest.read_text()) != body:
            _atomic_json(manifest, body)
    world.gather(None)  # the manifest exists for every rank after this
    reader = CachedClips(folder)
    return PrepareResult(folder, key, reader.manifest_sha256, len(reader), encoded_all,
                         len(reader) - encoded_all, reader.manifest["skipped"],
                         reader.manifest["bytes"])


class CachedClips:
    """Read side of one cache folder: ``len`` good clips, ``get(indices)`` → stacked tensors
    ``{field: (len(indices), …)}`` (storage dtype), read row by row from the shards."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)
        path = self.folder / "manifest.json"
        if not path.is_file():
            raise DataError(f"{self.folder}: no manifest.json (run vdmbench prepare-data)")
        raw = path.read_bytes()
        self.manifest_sha256 = hashlib.sha256(raw).hexdigest()
        self.manifest: dict[str, Any] = json.loads(raw)
        self.clips: list[dict[str, Any]] = self.manifest["clips"]
        self._open: dict[str, Any] = {}

    def __len__(self) -> int:
        return len(self.clips)

    @property
    def files(self) -> list[str]:
        return [c["file"] for c in self.clips]

    def _shard(self, name: str) -> Any:
        if name not in self._open:
            self._open[name] = safe_open(str(self.folder / "shards" / f"{name}.safetensors"),
                                         "pt")
        return self._open[name]

    def get(self, indices: Sequence[int]) -> dict[str, torch.Tensor]:
        rows: list[dict[str, torch.Tensor]] = []
        for i in indices:
            c = self.clips[int(i)]
            f = self._shard(c["shard"])
            rows.append({k: f.get_slice(k)[c["row"]: c["row"] + 1][0]
                         for k in self.manifest["fields"]})
        return {k: torch.stack([r[k] for r in rows]) for k in self.manifest["fields"]}
