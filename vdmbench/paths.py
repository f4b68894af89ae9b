"""User-supplied paths: ``${ENV_VAR}`` interpolation, existence checks, content hashes."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from vdmbench.errors import ConfigError, WeightsNotFoundError

_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")
_SHARD = re.compile(r"-\d{5}-of-\d{5}$")
_HASH_CACHE: dict[tuple[str, int, int], str] = {}


def expand_path(value: str | os.PathLike[str], what: str) -> Path:
    """Expand ``${VAR}``/``$VAR`` and ``~``; an unset variable is a :class:`ConfigError`."""

    def repl(m: re.Match[str]) -> str:
        var = m.group(1) or m.group(2)
        if var not in os.environ:
            raise ConfigError(f"{what}: environment variable ${{{var}}} is not set "
                              f"(in path {str(value)!r})")
        return os.environ[var]

    return Path(_ENV.sub(repl, str(value))).expanduser()


def link_path(target: str | None, from_dir: str | os.PathLike[str]) -> str | None:
    """How a file written in ``from_dir`` should name the directory ``target`` (a
    ``compression.json``'s ``base_weights``): relative to ``from_dir`` when the two share a
    directory below the filesystem root (a student and its base moved or cloned together keep
    loading), else absolute. None stays None; a path naming ``${VAR}`` is kept as given."""
    if target is None:
        return None
    if _ENV.search(target):
        return target
    dest = Path(target).expanduser().resolve()
    here = Path(from_dir).expanduser().resolve()
    common = Path(os.path.commonpath([dest, here]))
    if common == Path(common.anchor):
        return str(dest)
    return os.path.relpath(dest, here)


def require_file(path: str | os.PathLike[str], what: str, hint: str = "") -> Path:
    """Return the expanded path if it is a file, else raise :class:`WeightsNotFoundError`
    saying which component (``what``) is missing, where it was looked for, and ``hint``."""
    p = expand_path(path, what)
    if not p.is_file():
        msg = f"{what}: file not found at {p}"
        raise WeightsNotFoundError(msg + (f". {hint}" if hint else ""))
    return p


def require_dir(path: str | os.PathLike[str], what: str, hint: str = "") -> Path:
    """Like :func:`require_file` for a directory."""
    p = expand_path(path, what)
    if not p.is_dir():
        msg = f"{what}: directory not found at {p}"
        raise WeightsNotFoundError(msg + (f". {hint}" if hint else ""))
    return p


def weight_variants(folder: str | os.PathLike[str], stem: str) -> dict[str, str]:
    """The variant weight files of ``stem`` in ``folder``: ``{variant: file name}`` for
    ``<stem>.<variant>.safetensors`` and sharded ``<stem>.safetensors.index.<variant>.json``
    (e.g. ``{"fp16": "diffusion_pytorch_model.fp16.safetensors"}``); sorted by variant."""
    root = Path(folder)
    found: dict[str, str] = {}
    if not root.is_dir():
        return found
    single = re.compile(rf"^{re.escape(stem)}\.([A-Za-z0-9_-]+)\.safetensors$")
    sharded = re.compile(rf"^{re.escape(stem)}\.safetensors\.index\.([A-Za-z0-9_-]+)\.json$")
    for f in sorted(root.iterdir()):
        m = single.match(f.name) or sharded.match(f.name)
        if m and f.is_file() and not _SHARD.search(m.group(1)):  # shards are listed by index
            found.setdefault(m.group(1), f.name)
    return dict(sorted(found.items()))


def variant_note(missing: str | os.PathLike[str]) -> str:
    """For a missing ``<stem>.safetensors``: ``"; found <variant files> there (this loader reads
    only the plain file: save the weights without a variant)"`` when variant files of the same
    stem are beside it, else ``""``."""
    p = Path(missing)
    if not p.name.endswith(".safetensors"):
        return ""
    present = weight_variants(p.parent, p.name[:-len(".safetensors")])
    if not present:
        return ""
    return (f"; found {', '.join(present.values())} there (this loader reads only the plain "
            f"file: save the weights without a variant, e.g. save_pretrained(..., variant=None))")


def sha256_file(path: str | os.PathLike[str]) -> str:
    """sha256 of a file's bytes (memoized per path, size and mtime)."""
    p = Path(path)
    st = p.stat()
    key = (str(p.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _HASH_CACHE:
        h = hashlib.sha256()
        with p.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        _HASH_CACHE[key] = h.hexdigest()
    return _HASH_CACHE[key]


def sha256_tree(path: str | os.PathLike[str], patterns: tuple[str, ...] = (
        "*.safetensors", "*.json", "*.bin", "*.pt", "*.ckpt")) -> str:
    """sha256 over the files of a directory matching ``patterns`` (relative names + hashes)."""
    root = Path(path)
    h = hashlib.sha256()
    files = sorted({f for pat in patterns for f in root.rglob(pat) if f.is_file()})
    for f in files:
        h.update(str(f.relative_to(root)).encode())
        h.update(sha256_file(f).encode())
    return h.hexdigest()
