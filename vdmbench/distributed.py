"""Running one suite over many processes (``torchrun … -m vdmbench run``), with the same records
at any world size.

vdmbench reads torchrun's environment (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``). Without it, or
with a world of one, nothing here starts a process group and a run is the single-process run.
With it:

- the process group is NCCL when the run's device is CUDA (each rank on ``cuda:LOCAL_RANK``) and
  gloo on the CPU, with a collective timeout (``VDMBENCH_COLLECTIVE_TIMEOUT_S``, default 1800 s)
  so that a hung rank ends the run instead of stalling it; a rank that dies is noticed by
  torchrun, which stops the others and names the rank;
- work items (one per model × batch of requests) are assigned by :func:`assign_work` from their
  content keys alone, so every world size generates the same videos into the shared
  content-keyed cache, each by exactly one rank;
- the only collective is :meth:`World.gather`, once per run, after which rank 0 alone measures
  (from the caches), times and writes records (see ``vdmbench/runner.py``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from vdmbench.errors import VdmbenchError

#: seconds a collective waits for the slowest rank before the run fails
DEFAULT_TIMEOUT_S = 1800.0


def _env_int(name: str) -> int | None:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise VdmbenchError(f"environment variable {name}={raw!r} is not an integer") from None


@dataclass(frozen=True)
class World:
    """This process's place among the processes of one run."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def distributed(self) -> bool:
        return self.size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def label(self) -> str:
        """``rank R of N`` (empty for a single process), for messages."""
        return f"rank {self.rank} of {self.size}" if self.distributed else ""

    def device(self, device: str) -> str:
        """The device this rank computes on: ``cuda`` becomes ``cuda:LOCAL_RANK`` in a
        distributed run; ``cpu`` and an explicit ``cuda:N`` of a single process stay."""
        if self.distributed and device == "cuda":
            return f"cuda:{self.local_rank}"
        if self.distributed and device.startswith("cuda:"):
            raise VdmbenchError(f"--device {device}: under torchrun give --device cuda (each rank "
                                f"takes cuda:LOCAL_RANK)")
        return device

    def gather(self, value: Any) -> list[Any]:
        """Every rank's ``value`` (picklable), in rank order, on every rank; the one
        synchronisation point of a run. A single process gets ``[value]``."""
        if not self.distributed:
            return [value]
        import torch.distributed as dist

        out: list[Any] = [None] * self.size
        dist.all_gather_object(out, value)
        return out

    def close(self) -> None:
        """Leave the process group (after the last collective)."""
        if not self.distributed:
            return
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()


def world_from_env() -> World:
    """The world torchrun describes in the environment (a single process without it)."""
    size = _env_int("WORLD_SIZE")
    if size is None or size <= 1:
        return World()
    rank = _env_int("RANK")
    if rank is None or not 0 <= rank < size:
        raise VdmbenchError(f"WORLD_SIZE={size} but RANK={os.environ.get('RANK')!r}; start the "
                            f"processes with torchrun")
    local = _env_int("LOCAL_RANK")
    return World(rank=rank, size=size, local_rank=rank if local is None else local)


def collective_timeout_s() -> float:
    raw = os.environ.get("VDMBENCH_COLLECTIVE_TIMEOUT_S")
    if raw is None:
        return DEFAULT_TIMEOUT_S
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if value <= 0:
        raise VdmbenchError(f"VDMBENCH_COLLECTIVE_TIMEOUT_S={raw!r}: give a positive number of "
                            f"seconds")
    return value


def init_world(device: str) -> World:
    """Read the environment and, in a distributed run, join the process group (NCCL for a CUDA
    ``device``, gloo for the CPU). Returns the world; call :meth:`World.close` when done."""
    world = world_from_env()
    if not world.distributed:
        return world
    import torch
    import torch.distributed as dist

    if dist.is_initialized():
        return world
    timeout = timedelta(seconds=collective_timeout_s())
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise VdmbenchError(f"--device {device}: CUDA is not available on this machine")
        torch.cuda.set_device(world.local_rank)
        dist.init_process_group("nccl", timeout=timeout,
                                device_id=torch.device("cuda", world.local_rank))
    else:
        dist.init_process_group("gloo", timeout=timeout)
    return world


def assign_work(keys_per_group: Sequence[Sequence[str]], world_size: int) -> list[list[int]]:
    """The rank of every work item, from content keys alone.

    ``keys_per_group[g][i]`` is the content key of item ``i`` of group ``g`` (a model's batches).
    Within a group, items in key order go to consecutive ranks, starting where the previous group
    stopped; so each rank gets ⌊n/W⌋ or ⌈n/W⌉ of every group's items and of all items, and the
    assignment does not depend on the order of items within a group. Returns ranks shaped like
    ``keys_per_group``."""
    if world_size < 1:
        raise ValueError(f"world size must be >= 1, got {world_size}")
    out: list[list[int]] = []
    start = 0
    for keys in keys_per_group:
        ranks = [0] * len(keys)
        for pos, i in enumerate(sorted(range(len(keys)), key=lambda j: keys[j])):
            ranks[i] = (start + pos) % world_size
        out.append(ranks)
        start += len(keys)
    return out
