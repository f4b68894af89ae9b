"""Streaming feature statistics and the Fréchet distance between two Gaussians.

:class:`FeatureStats` accumulates ``n``, ``Σx`` and ``Σxxᵀ`` in float64 over any number of
``(N, d)`` batches, so memory does not grow with the number of videos. The sums are taken about a
fixed shift vector (the first row ever seen), which keeps ``cov = Σ(x−s)(x−s)ᵀ/n − (m−s)(m−s)ᵀ``
free of the cancellation that raw sums suffer when the mean is large against the spread; the
result is algebraically identical to raw sums (StyleGAN-V's ``FeatureStats``). Statistics from
several processes merge exactly (:meth:`FeatureStats.merge`), and save to / load from ``.npz``
with an atomic write.

:func:`frechet_distance` computes ``d² = |μ₁−μ₂|² + Tr(Σ₁ + Σ₂ − 2(Σ₁Σ₂)^½)`` in float64 with
``scipy.linalg.sqrtm`` (no deprecated ``disp`` argument), adding ``eps·I`` to both covariances when
the product's square root is not finite (as pytorch-fid does), and refusing an imaginary part
larger than rounding noise with a :class:`~vdmbench.errors.MetricError`.
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import scipy.linalg
import torch

from vdmbench.errors import DataError, MetricError
from vdmbench.records import give_default_mode

_FORMAT = "vdmbench.FeatureStats/1"


def _as_float64_2d(features: np.ndarray | torch.Tensor, what: str) -> np.ndarray:
    if isinstance(features, torch.Tensor):
        features = features.detach().to("cpu", torch.float64).numpy()
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2:
        raise MetricError(f"{what}: expected an (N, d) feature array, got shape {x.shape}")
    if not np.isfinite(x).all():
        bad = int(np.argwhere(~np.isfinite(x).all(axis=1))[0, 0])
        raise MetricError(f"{what}: non-finite feature values (first in row {bad})")
    return x


class FeatureStats:
    """Streaming mean and covariance of feature rows ``(N, d)``, float64 sums.

    ``n`` rows seen, ``mean`` ``(d,)``, ``cov`` ``(d, d)`` biased (divides by ``n``, as
    StyleGAN-V and cd-fvd do); :meth:`covariance` gives the unbiased (``n − 1``) one too.
    """

    def __init__(self, dim: int | None = None) -> None:
        self.dim: int | None = dim
        self.n: int = 0
        self._shift: np.ndarray | None = None
        self._sum: np.ndarray | None = None
        self._sum_outer: np.ndarray | None = None
        #: JSON-able description saved with the statistics (e.g. the cache key material)
        self.meta: dict[str, Any] = {}

    # -- accumulation ---------------------------------------------------------------------------
    def _init(self, shift: np.ndarray) -> None:
        d = shift.shape[0]
        if self.dim is not None and self.dim != d:
            raise MetricError(f"feature dimension {d} differs from the statistics' {self.dim}")
        self.dim = d
        self._shift = shift.copy()
        self._sum = np.zeros(d, dtype=np.float64)
        self._sum_outer = np.zeros((d, d), dtype=np.float64)

    def update(self, features: np.ndarray | torch.Tensor) -> FeatureStats:
        """Add the rows of an ``(N, d)`` array or tensor (any float dtype; summed in float64)."""
        x = _as_float64_2d(features, "FeatureStats.update")
        if x.shape[0] == 0:
            return self
        if self._shift is None:
            self._init(x[0])
        elif x.shape[1] != self.dim:
            raise MetricError(f"feature dimension {x.shape[1]} differs from the statistics' "
                              f"{self.dim}")
        assert self._sum is not None and self._sum_outer is not None
        y = x - self._shift
        self._sum += y.sum(axis=0)
        self._sum_outer += y.T @ y
        self.n += x.shape[0]
        return self

    def merge(self, other: FeatureStats) -> FeatureStats:
        """Add ``other``'s rows to these statistics (exactly, re-expressing its shifted sums);
        returns ``self``. Use it to combine statistics from several processes or shards."""
        if other.n == 0:
            return self
        assert other._shift is not None and other._sum is not None
        assert other._sum_outer is not None
        if self._shift is None:
            self._init(other._shift)
        elif other.dim != self.dim:
            raise MetricError(f"cannot merge statistics of dimension {other.dim} into {self.dim}")
        assert self._sum is not None and self._sum_outer is not None
        # other's rows about our shift: z = y + c with c = other.shift − self.shift
        c = other._shift - self._shift
        s = other._sum
        self._sum += s + other.n * c
        cross = np.outer(c, s)
        self._sum_outer += other._sum_outer + cross + cross.T + other.n * np.outer(c, c)
        self.n += other.n
        return self

    # -- results --------------------------------------------------------------------------------
    def _check_ready(self, need: int) -> None:
        if self.n < need:
            raise MetricError(f"feature statistics need at least {need} samples, have {self.n}")

    @property
    def mean(self) -> np.ndarray:
        """float64 ``(d,)`` mean of all rows."""
        self._check_ready(1)
        assert self._shift is not None and self._sum is not None
        return self._shift + self._sum / self.n

    def covariance(self, unbiased: bool = False) -> np.ndarray:
        """float64 ``(d, d)`` covariance; biased (÷ n) by default, unbiased (÷ (n − 1))."""
        self._check_ready(2 if unbiased else 1)
        assert self._sum is not None and self._sum_outer is not None
        m = self._sum / self.n
        scatter = self._sum_outer - self.n * np.outer(m, m)
        scatter = (scatter + scatter.T) / 2.0
        return scatter / (self.n - 1 if unbiased else self.n)

    @property
    def cov(self) -> np.ndarray:
        """Biased covariance (÷ n), the convention of StyleGAN-V and cd-fvd."""
        return self.covariance(unbiased=False)

    # -- persistence ----------------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str], meta: dict[str, Any] | None = None) -> Path:
        """Write the statistics (and JSON-able ``meta``) to an ``.npz`` file atomically."""
        self._check_ready(1)
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
        give_default_mode(fd)  # mkstemp makes 0600; the file gets what the umask gives
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, format=np.array(_FORMAT), n=np.array(self.n, dtype=np.int64),
                         shift=self._shift, sum=self._sum, sum_outer=self._sum_outer,
                         meta=np.array(json.dumps(meta or {}, sort_keys=True)))
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        return path

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> FeatureStats:
        """Read statistics written by :meth:`save`; a corrupt or foreign file is a DataError."""
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as z:
                if str(z["format"]) != _FORMAT:
                    raise DataError(f"{path}: not a vdmbench FeatureStats file "
                                    f"(format {str(z['format'])!r})")
                stats = cls(dim=int(z["shift"].shape[0]))
                stats.n = int(z["n"])
                stats._shift = z["shift"].astype(np.float64)
                stats._sum = z["sum"].astype(np.float64)
                stats._sum_outer = z["sum_outer"].astype(np.float64)
                stats.meta = json.loads(str(z["meta"]))
        except DataError:
            raise
        except FileNotFoundError:
            raise
        except Exception as e:  # zipfile/KeyError/ValueError: a truncated or foreign file
            raise DataError(f"{path}: cannot read feature statistics ({e})") from e
        return stats

    def __repr__(self) -> str:
        return f"FeatureStats(n={self.n}, dim={self.dim})"


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray,
                     eps: float = 1e-6, imag_atol: float = 1e-3) -> float:
    """Fréchet distance between N(μ₁, Σ₁) and N(μ₂, Σ₂), float64.

    ``mu*`` ``(d,)``, ``sigma*`` ``(d, d)``. If ``sqrtm(Σ₁Σ₂)`` is not finite (singular product),
    it is recomputed with ``eps·I`` added to both covariances. An imaginary part of the square
    root's diagonal larger than ``imag_atol`` is a :class:`MetricError`; smaller ones are
    rounding noise and dropped.
    """
    mu1 = np.atleast_1d(np.asarray(mu1, dtype=np.float64))
    mu2 = np.atleast_1d(np.asarray(mu2, dtype=np.float64))
    sigma1 = np.atleast_2d(np.asarray(sigma1, dtype=np.float64))
    sigma2 = np.atleast_2d(np.asarray(sigma2, dtype=np.float64))
    d = mu1.shape[0]
    if mu1.shape != (d,) or mu2.shape != (d,):
        raise MetricError(f"means have shapes {mu1.shape} and {mu2.shape}; expected ({d},) each")
    if sigma1.shape != (d, d) or sigma2.shape != (d, d):
        raise MetricError(f"covariances have shapes {sigma1.shape} and {sigma2.shape}; "
                          f"expected ({d}, {d}) each")
    for name, a in (("mu1", mu1), ("sigma1", sigma1), ("mu2", mu2), ("sigma2", sigma2)):
        if not np.isfinite(a).all():
            raise MetricError(f"frechet_distance: {name} has non-finite values")

    diff = mu1 - mu2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # singular-matrix notes; checked below
        covmean = scipy.linalg.sqrtm(sigma1 @ sigma2)
        if not np.isfinite(covmean).all():
            offset = np.eye(d) * eps
            covmean = scipy.linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    if not np.isfinite(covmean).all():
        raise MetricError("frechet_distance: the square root of Σ₁Σ₂ is not finite even with "
                          f"eps={eps} added; the feature statistics are degenerate")
    if np.iscomplexobj(covmean):
        imag = np.abs(np.diagonal(covmean).imag).max()
        if imag > imag_atol:
            raise MetricError(f"frechet_distance: sqrtm(Σ₁Σ₂) has an imaginary component of "
                              f"{imag:.3g} (> {imag_atol}); the covariances are not valid "
                              f"(not symmetric positive semi-definite?)")
        covmean = covmean.real
    value = float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * np.trace(covmean))
    return value


def frechet_distance_from_stats(a: FeatureStats, b: FeatureStats, unbiased: bool = False,
                                eps: float = 1e-6) -> float:
    """:func:`frechet_distance` between two :class:`FeatureStats` (biased covariance default)."""
    if a.dim != b.dim:
        raise MetricError(f"feature dimensions differ: {a.dim} vs {b.dim}")
    need = 2
    for label, s in (("first", a), ("second", b)):
        if s.n < need:
            raise MetricError(f"Fréchet distance needs at least {need} samples per set; the "
                              f"{label} set has {s.n}")
    return frechet_distance(a.mean, a.covariance(unbiased), b.mean, b.covariance(unbiased), eps)
