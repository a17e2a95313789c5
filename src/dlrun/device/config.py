"""The `device` config group's schema (`conf/device/auto.yaml` is written from it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from dlrun.errors import ConfigError
from dlrun.schema import option


@dataclass
class DeviceConfig:
    """Where and how the model runs."""

    type: Literal["auto", "cpu", "cuda", "mps"] = option("auto", "auto picks CUDA when present, else CPU")
    count: int | Literal["all"] = option(
        1, "training processes per node (DDP via torchrun's elastic agent); all = every visible GPU", ge=1
    )
    precision: Literal[32, "32", "bf16", "fp16"] = option(
        32, "float32, or autocast to bfloat16 / float16 (fp16 needs CUDA)"
    )
    nodes: int = option(1, "machines in the job (multi-node: run the same command on each, with rdzv_endpoint)", ge=1)
    rdzv_endpoint: str | None = option(
        None, "host:port of torchrun's c10d rendezvous (multi-node); null = a free local port"
    )
    max_restarts: int = option(
        0, "torchrun restarts the workers this often after a failure (use with trainer.resume=auto)", ge=0
    )
    timeout_s: float = option(300, "timeout of collective operations; a stuck rank fails the job after this", gt=0)
    keep_global_batch: bool = option(
        False, "false = trainer.batch_size per process (global = x processes); true = split it"
    )
    compile: bool = option(False, "torch.compile every network (first epoch slower, later ones faster)")
    channels_last: bool | Literal["auto"] = option(
        "auto",
        "channels-last memory format for image batches and conv "
        "nets; auto = on for conv nets on CPU, and on CUDA with "
        "bf16/fp16",
    )
    deterministic: bool = option(False, "deterministic algorithms and cuDNN settings (reproducible on GPU, slower)")
    benchmark: bool = option(False, "cudnn.benchmark autotuning (faster for fixed shapes; excludes deterministic)")
    threads: int | None = option(
        None,
        "CPU threads of torch's operator pool; null = torch's default (cores / processes when several train)",
        ge=1,
    )

    def __post_init__(self):
        if self.deterministic and self.benchmark:
            raise ConfigError("device.deterministic and device.benchmark exclude each other; pick one")

    def processes(self) -> int:
        """Processes per node: device.count, or every visible GPU for 'all'."""
        if self.count != "all":
            return int(self.count)
        import torch

        if self.type in ("auto", "cuda") and torch.cuda.is_available():
            return torch.cuda.device_count()
        raise ConfigError("device.count=all counts visible GPUs and there are none; give a number of CPU processes")
