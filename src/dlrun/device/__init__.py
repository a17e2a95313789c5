"""The `device` config: which device the run uses and at what precision."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

import torch

from dlrun.errors import ConfigError

log = logging.getLogger(__name__)


@dataclass
class DeviceConfig:
    type: Literal["auto", "cpu", "cuda", "mps"] = "auto"
    count: int | Literal["all"] = 1
    precision: Literal[32, "32", "bf16", "fp16"] = 32
    nodes: int = 1
    rdzv_endpoint: str | None = None
    max_restarts: int = 0
    timeout_s: float = 300.0
    keep_global_batch: bool = False
    compile: bool = False
    channels_last: bool | Literal["auto"] = "auto"
    deterministic: bool = False
    benchmark: bool = False
    threads: int | None = None

    def __post_init__(self):
        if self.deterministic and self.benchmark:
            raise ConfigError("device.deterministic and device.benchmark exclude each other; pick one")
        if self.count != "all" and self.count < 1:
            raise ConfigError(f"device.count must be >= 1 or 'all', got {self.count}")
        if self.threads is not None and self.threads < 1:
            raise ConfigError(f"device.threads must be >= 1 or null, got {self.threads}")
        if self.nodes < 1 or self.max_restarts < 0 or self.timeout_s <= 0:
            raise ConfigError("device.nodes must be >= 1, device.max_restarts >= 0 and device.timeout_s > 0")

    def processes(self) -> int:
        """Processes per node: device.count, or every visible GPU for 'all'."""
        if self.count != "all":
            return int(self.count)
        if self.type in ("auto", "cuda") and torch.cuda.is_available():
            return torch.cuda.device_count()
        raise ConfigError("device.count=all counts visible GPUs and there are none; give a number of CPU processes")


def resolve_device(cfg: DeviceConfig) -> torch.device:
    from dlrun.device import distributed

    _, local_rank, _ = distributed.env_world()
    if cfg.type == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", local_rank % torch.cuda.device_count())
        return torch.device("cpu")
    if cfg.type == "cuda" and torch.cuda.is_available():
        return torch.device("cuda", local_rank % torch.cuda.device_count())
    if cfg.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device.type=cuda but no CUDA GPU is visible; use device.type=auto or cpu")
    if cfg.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ConfigError("device.type=mps but MPS is not available on this machine; use device.type=auto or cpu")
    return torch.device(cfg.type)


def autocast_dtype(cfg: DeviceConfig, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for device.precision, or None for float32 (with a warning when unsupported)."""
    precision = str(cfg.precision)
    if precision == "32":
        return None
    if precision == "fp16" and device.type != "cuda":
        log.warning("device.precision=fp16 needs CUDA; training in float32 on %s", device.type)
        return None
    if precision == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        log.warning("device.precision=bf16 is not supported by this GPU; training in float32")
        return None
    return torch.bfloat16 if precision == "bf16" else torch.float16


def apply_backend_flags(cfg: DeviceConfig) -> None:
    """Deterministic algorithms (reproducible, slower) or cuDNN autotuning (faster, not reproducible)."""
    if cfg.deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
    elif cfg.benchmark:
        torch.backends.cudnn.benchmark = True


def use_channels_last(cfg: DeviceConfig, device: torch.device, models, autocast: torch.dtype | None) -> bool:
    """device.channels_last, with `auto` deciding per run: on for conv nets on the CPU (oneDNN's NHWC kernels;
    about 12% less CPU time for the benchmark CNN here) and on CUDA under autocast (tensor cores); off otherwise."""
    if cfg.channels_last != "auto":
        return bool(cfg.channels_last)
    has_conv = any(isinstance(m, torch.nn.Conv2d) for net in models.values() for m in net.modules())
    return has_conv and (device.type == "cpu" or (device.type == "cuda" and autocast is not None))
