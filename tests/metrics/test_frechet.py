"""Fréchet distance against an independent float64 reference, and streaming statistics."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vdmbench.errors import DataError, MetricError
from vdmbench.metrics.frechet import FeatureStats, frechet_distance, frechet_distance_from_stats


def _psd_sqrt(a: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh(a)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def reference_fd(mu1, s1, mu2, s2) -> float:
    """Tr((S1 S2)^½) = Tr((√S1 S2 √S1)^½) = Σ √eig(√S1 S2 √S1): a different route from sqrtm."""
    r1 = _psd_sqrt(s1)
    m = r1 @ s2 @ r1
    eig = np.clip(np.linalg.eigvalsh((m + m.T) / 2), 0, None)
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * np.sqrt(eig).sum())


def _random_cov(rng: np.random.Generator, d: int, rank: int) -> np.ndarray:
    a = rng.normal(size=(d, rank)) * rng.uniform(0.5, 2.0, size=rank)
    return a @ a.T / rank


@pytest.mark.parametrize("d,rank1,rank2", [(8, 8, 8), (32, 32, 32), (16, 5, 16), (24, 24, 7),
                                           (12, 4, 6)])
def test_matches_independent_reference(d: int, rank1: int, rank2: int) -> None:
    rng = np.random.default_rng(d * 100 + rank1 + rank2)
    mu1, mu2 = rng.normal(size=d), rng.normal(size=d) + 0.3
    s1, s2 = _random_cov(rng, d, rank1), _random_cov(rng, d, rank2)
    got = frechet_distance(mu1, s1, mu2, s2)
    want = reference_fd(mu1, s1, mu2, s2)
    assert got == pytest.approx(want, rel=1e-8)


def test_zero_for_identical_and_symmetric() -> None:
    rng = np.random.default_rng(0)
    mu, s = rng.normal(size=10), _random_cov(rng, 10, 10)
    assert abs(frechet_distance(mu, s, mu, s)) < 1e-9
    mu2, s2 = rng.normal(size=10), _random_cov(rng, 10, 10)
    assert frechet_distance(mu, s, mu2, s2) == pytest.approx(frechet_distance(mu2, s2, mu, s),
                                                             rel=1e-10)
    # mean-only difference: exactly |Δμ|²
    assert frechet_distance(mu, s, mu + 1.0, s) == pytest.approx(10.0, rel=1e-9)


def test_one_dimensional_closed_form() -> None:
    # d² = (m1−m2)² + (σ1 − σ2)²
    got = frechet_distance(np.array([1.0]), np.array([[4.0]]), np.array([3.0]), np.array([[9.0]]))
    assert got == pytest.approx(4.0 + 1.0, rel=1e-12)


def test_rejects_bad_inputs() -> None:
    with pytest.raises(MetricError, match="shapes"):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(4), np.eye(4))
    with pytest.raises(MetricError, match="non-finite"):
        frechet_distance(np.zeros(2), np.array([[np.nan, 0], [0, 1]]), np.zeros(2), np.eye(2))
    # a "covariance" with a negative eigenvalue gives a genuinely complex square root
    bad = np.array([[1.0, 0.0], [0.0, -4.0]])
    with pytest.raises(MetricError, match="imaginary"):
        frechet_distance(np.zeros(2), bad, np.zeros(2), np.eye(2))


def test_no_deprecated_disp_warning() -> None:
    import warnings

    rng = np.random.default_rng(3)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        frechet_distance(rng.normal(size=5), _random_cov(rng, 5, 5), rng.normal(size=5),
                         _random_cov(rng, 5, 5))


def _features(n: int = 61, d: int = 9, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)) @ rng.normal(size=(d, d)) + 100.0  # large mean on purpose


def test_stats_match_numpy_and_batch_size_independent() -> None:
    x = _features()
    ref_mean = x.mean(axis=0)
    ref_cov = np.cov(x, rowvar=False, bias=True)
    results = []
    for bs in (1, 7, len(x)):
        st = FeatureStats()
        for s in range(0, len(x), bs):
            st.update(torch.from_numpy(x[s:s + bs]) if bs == 7 else x[s:s + bs])
        results.append(st)
        assert st.n == len(x)
        np.testing.assert_allclose(st.mean, ref_mean, rtol=1e-12)
        np.testing.assert_allclose(st.cov, ref_cov, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(st.covariance(unbiased=True),
                                   np.cov(x, rowvar=False, bias=False), rtol=1e-10, atol=1e-12)
    for st in results[1:]:
        np.testing.assert_allclose(st.mean, results[0].mean, rtol=1e-12, atol=0)
        np.testing.assert_allclose(st.cov, results[0].cov, rtol=1e-12, atol=1e-12)


def test_biased_and_unbiased_differ_by_n_over_n_minus_1() -> None:
    x = _features(n=20)
    st = FeatureStats().update(x)
    np.testing.assert_allclose(st.covariance(unbiased=True), st.cov * 20 / 19, rtol=1e-12)
    other = FeatureStats().update(_features(n=20, seed=5))
    assert frechet_distance_from_stats(st, other) != frechet_distance_from_stats(
        st, other, unbiased=True)


def test_merge_equals_one_pass() -> None:
    x = _features(n=50)
    one = FeatureStats().update(x)
    a = FeatureStats().update(x[:23])
    b = FeatureStats().update(x[23:] - 0.0)
    merged = FeatureStats().merge(a).merge(b)
    assert merged.n == 50
    np.testing.assert_allclose(merged.mean, one.mean, rtol=1e-12)
    np.testing.assert_allclose(merged.cov, one.cov, rtol=1e-10, atol=1e-12)
    with pytest.raises(MetricError, match="dimension"):
        a.merge(FeatureStats().update(np.zeros((3, 4))))


def test_save_load_round_trip(tmp_path) -> None:
    st = FeatureStats().update(_features(n=17))
    p = st.save(tmp_path / "sub" / "s.npz", meta={"what": "test"})
    back = FeatureStats.load(p)
    assert back.n == st.n and back.dim == st.dim and back.meta == {"what": "test"}
    np.testing.assert_array_equal(back.mean, st.mean)
    np.testing.assert_array_equal(back.cov, st.cov)
    assert list(tmp_path.joinpath("sub").iterdir()) == [p]  # no temp file left behind
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(DataError, match="junk.npz"):
        FeatureStats.load(tmp_path / "junk.npz")


def test_stats_reject_bad_features() -> None:
    st = FeatureStats()
    with pytest.raises(MetricError, match=r"\(N, d\)"):
        st.update(np.zeros(5))
    with pytest.raises(MetricError, match="row 1"):
        st.update(np.array([[0.0, 1.0], [np.inf, 0.0]]))
    st.update(np.zeros((2, 2)))
    with pytest.raises(MetricError, match="dimension"):
        st.update(np.zeros((2, 3)))
    with pytest.raises(MetricError, match="at least 2"):
        frechet_distance_from_stats(FeatureStats().update(np.zeros((1, 2))), st)
