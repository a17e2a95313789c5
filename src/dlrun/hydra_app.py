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
            return train(cfg, hc.runtime.output_dir)
        except DlrunError as exc:
            if hc.mode == RunMode.MULTIRUN:  # one bad job must not end the sweep
                log.error("job %s failed: %s", hc.job.num, exc)
                return None
            fail(exc)

    sys.argv = ["dlrun"] + args
    entry()
