"""Units of the distributed run: the world from torchrun's environment, the work assignment and
the feature cache."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch

from vdmbench.distributed import World, assign_work, collective_timeout_s, world_from_env
from vdmbench.errors import VdmbenchError
from vdmbench.metrics.extractor import VideoFeatureExtractor
from vdmbench.metrics.feature_cache import FeatureCache


def test_world_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
        monkeypatch.delenv(var, raising=False)
    assert world_from_env() == World()
    monkeypatch.setenv("WORLD_SIZE", "1")
    assert not world_from_env().distributed
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("LOCAL_RANK", "1")
    w = world_from_env()
    assert (w.rank, w.size, w.local_rank, w.is_main) == (3, 4, 1, False)
    assert w.label() == "rank 3 of 4"
    assert w.device("cuda") == "cuda:1" and w.device("cpu") == "cpu"
    with pytest.raises(VdmbenchError, match="give --device cuda"):
        w.device("cuda:0")
    monkeypatch.setenv("RANK", "4")
    with pytest.raises(VdmbenchError, match="RANK"):
        world_from_env()
    monkeypatch.setenv("RANK", "x")
    with pytest.raises(VdmbenchError, match="not an integer"):
        world_from_env()


def test_collective_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VDMBENCH_COLLECTIVE_TIMEOUT_S", raising=False)
    assert collective_timeout_s() == 1800.0
    monkeypatch.setenv("VDMBENCH_COLLECTIVE_TIMEOUT_S", "45")
    assert collective_timeout_s() == 45.0
    monkeypatch.setenv("VDMBENCH_COLLECTIVE_TIMEOUT_S", "0")
    with pytest.raises(VdmbenchError, match="positive"):
        collective_timeout_s()


@pytest.mark.parametrize("world", [1, 2, 3, 8])
def test_assign_work_is_balanced_and_content_keyed(world: int) -> None:
    rng = random.Random(world)
    groups = [[f"{rng.getrandbits(64):016x}" for _ in range(n)] for n in (7, 4, 5, 1, 13)]
    ranks = assign_work(groups, world)
    assert [len(r) for r in ranks] == [len(g) for g in groups]
    total = [sum(r.count(k) for r in ranks) for k in range(world)]
    assert max(total) - min(total) <= 1  # all items: within one of each other
    for r in ranks:  # every group: within one of each other
        counts = [r.count(k) for k in range(world)]
        assert max(counts) - min(counts) <= 1
    # the assignment follows the keys, not their order within a group
    shuffled = [rng.sample(range(len(g)), len(g)) for g in groups]
    again = assign_work([[g[i] for i in perm] for g, perm in zip(groups, shuffled)], world)
    for r, r2, perm in zip(ranks, again, shuffled):
        assert [r[i] for i in perm] == r2
    assert all(x == 0 for r in assign_work(groups, 1) for x in r)
    with pytest.raises(ValueError):
        assign_work(groups, 0)


class _CountingExtractor(VideoFeatureExtractor):
    name = "counting"

    def __init__(self) -> None:
        super().__init__("0" * 64)
        self.calls = 0

    def features(self, batch: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return batch.double().mean(dim=(1, 2, 3)) * torch.tensor([1.0, 2.0, 3.0]).double() / 7

    def probs(self, batch: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return torch.softmax(batch.double().mean(dim=(1, 2, 3)), dim=1)


def test_feature_cache_returns_what_the_extractor_computed(tmp_path: Path) -> None:
    ext = _CountingExtractor()
    batch = torch.randint(0, 256, (3, 4, 5, 6, 3), dtype=torch.uint8,
                          generator=torch.Generator().manual_seed(0))
    cache = FeatureCache(tmp_path / "features")
    first = cache.call(ext, "features", batch)
    again = FeatureCache(tmp_path / "features").call(ext, "features", batch)
    assert ext.calls == 1 and torch.equal(first, again) and again.dtype == torch.float64
    assert torch.equal(first, ext.features(batch).double())
    # another call, another input or another device type is another entry
    cache.call(ext, "probs", batch)
    changed = batch.clone()
    changed[0, 0, 0, 0, 0] ^= 1
    cache.call(ext, "features", changed)
    FeatureCache(tmp_path / "features", device="cuda:1").call(ext, "features", batch)
    assert ext.calls == 2 + 3  # the direct call above, then three new entries
    assert len(list((tmp_path / "features").rglob("*.npy"))) == 4
    # an unreadable entry is recomputed, not trusted
    path = cache.path(cache.key(ext, "features", batch))
    path.write_bytes(b"garbage")
    assert torch.equal(cache.call(ext, "features", batch), first) and ext.calls == 6
    with pytest.raises(TypeError, match="uint8"):
        cache.call(ext, "features", batch.float())
