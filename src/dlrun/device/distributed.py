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
    timeout = datetime.timedelta(seconds=timeout_s)
    if os.environ.get("TORCHELASTIC_USE_AGENT_STORE") == "True":
        # Under torchrun's agent the workers share its store across restarts, and the process group keys
        # its addresses by rank alone: restarted workers could read their dead predecessors' ports. A
        # prefix per attempt keeps every attempt's rendezvous to itself.
        agent = dist.TCPStore(
            os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"]), world, is_master=False, timeout=timeout
        )
        attempt = os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")
        store = dist.PrefixStore(f"dlrun/attempt_{attempt}/", agent)
        dist.init_process_group(backend, store=store, rank=rank, world_size=world, timeout=timeout)
        return
    dist.init_process_group(backend, timeout=timeout)


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


def lost_peer(exc: BaseException):
    """A collective that failed because another process of the job ended (killed, crashed), as a one-line
    error; None for anything else, which keeps its traceback."""
    from dlrun.errors import PeerLost

    if not launched():
        return None
    text = str(exc)
    dist_error = getattr(dist, "DistError", ())
    if not (
        isinstance(exc, dist_error)
        or "gloo/transport" in text
        or "Connection reset by peer" in text
        or "Connection closed by peer" in text
    ):
        return None
    first = next((ln.strip() for ln in text.splitlines() if ln.strip()), type(exc).__name__)
    return PeerLost(
        f"rank {env_world()[0]}: another process of the job ended during a collective operation ({first[:200]})"
    )
