"""The Hydra entry point behind `dlrun train`: Hydra makes the run directory, logging and sweeps."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

from dlrun.config import conf_dir
from dlrun.errors import DlrunError

log = logging.getLogger("dlrun")


def run_hydra(args: list[str], fail: Callable[[DlrunError], None]) -> None:
    import hydra
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode
    from omegaconf import DictConfig

    @hydra.main(config_path=str(conf_dir()), config_name="config", version_base="1.3")
    def entry(cfg: DictConfig) -> float | None:
        from dlrun.train import train

        hc = HydraConfig.get()
        try:
            if needs_launch(cfg):  # device.count > 1 and not yet inside a distributed job: start the workers
                return launch_workers(cfg, list(hc.overrides.task), hc.runtime.output_dir)
            return train(cfg, hc.runtime.output_dir)
        except DlrunError as exc:
            if hc.mode == RunMode.MULTIRUN:  # one bad job must not end the sweep
                log.error("job %s failed: %s", hc.job.num, exc)
                return None
            fail(exc)

    sys.argv = ["dlrun"] + args
    entry()


def needs_launch(cfg) -> bool:
    from dlrun.device import distributed

    count = cfg.device.count
    return (count == "all" or int(count) > 1 or int(cfg.device.nodes) > 1) and not distributed.launched()


def launch_workers(cfg, overrides: list[str], run_dir: str) -> float | None:
    """Run the job in device.count processes; return the monitored value rank 0 wrote to metrics.json."""
    import json
    from pathlib import Path

    from omegaconf import OmegaConf

    from dlrun.device import DeviceConfig
    from dlrun.device.launch import launch

    dev = DeviceConfig(**OmegaConf.to_container(cfg.device, resolve=True))
    nprocs = dev.processes()
    log.info("starting %d training processes per node on %d node(s)", nprocs, dev.nodes)
    launch(overrides, run_dir, nprocs, dev.nodes, dev.rdzv_endpoint, dev.max_restarts)
    metrics = Path(run_dir) / "metrics.json"
    best = json.loads(metrics.read_text()).get("best", {}) if metrics.is_file() else {}
    value = best.get(cfg.trainer.checkpoint.monitor)
    return float(value) if value is not None else None
