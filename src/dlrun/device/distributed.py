"""Multi-process training on torch.distributed: who am I, and the few collectives the loop needs.

A process is part of a distributed job when torchrun (or dlrun's own launch, which uses torchrun's
elastic agent) or SLURM set RANK/WORLD_SIZE (SLURM_PROCID/SLURM_NTASKS). With one process every
helper here is a no-op, so the single-device code path is the same code.
"""

from __future__ import annotations

import datetime
import os

import torch
import torch.distributed as dist


def env_world() -> tuple[int, int, int]:
    """(rank, local_rank, world_size) from the environment; (0, 0, 1) outside a distributed job."""
    if "RANK" in os.environ and "WORLD_SIZE" in os.environ:
        return int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", 0)), int(os.environ["WORLD_SIZE"])
    if "SLURM_PROCID" in os.environ and int(os.environ.get("SLURM_NTASKS", "1")) > 1:
        return int(os.environ["SLURM_PROCID"]), int(os.environ.get("SLURM_LOCALID", 0)), int(os.environ["SLURM_NTASKS"])
    return 0, 0, 1


def launched() -> bool:
    return env_world()[2] > 1


def init(device_type: str, timeout_s: float) -> None:
    """Join the process group (nccl on CUDA, gloo on CPU)."""
    if dist.is_initialized() or not launched():
        return
    rank, _, world = env_world()
    os.environ.setdefault("RANK", str(rank))
    os.environ.setdefault("WORLD_SIZE", str(world))
    backend = "nccl" if device_type == "cuda" else "gloo"
    dist.init_process_group(backend, timeout=datetime.timedelta(seconds=timeout_s))


def shutdown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def active() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    return dist.get_rank() if active() else 0


def world() -> int:
    return dist.get_world_size() if active() else 1


def is_main() -> bool:
    return rank() == 0


def all_reduce_sum(t: torch.Tensor) -> torch.Tensor:
    if active():
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t


def gather_cat(t: torch.Tensor) -> torch.Tensor:
    """Concatenate every rank's tensor in rank order (shapes may differ in the first dimension)."""
    if not active():
        return t
    parts: list = [None] * world()
    dist.all_gather_object(parts, t.cpu())
    return torch.cat(parts).to(t.device)


def gather_objects(obj):
    """Every rank's object, in rank order (for per-rank RNG states in checkpoints)."""
    if not active():
        return [obj]
    parts: list = [None] * world()
    dist.all_gather_object(parts, obj)
    return parts


def barrier() -> None:
    if active():
        dist.barrier()
