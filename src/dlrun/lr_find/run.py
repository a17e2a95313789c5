"""Running the range test on a run's own task and data (for `dlrun lr-find` and `optimizer.lr=auto`, in
`dlrun.find_lr`).

The test builds the data and the task exactly as `dlrun train` does (same seed, same training rows, fold 0's for
K-fold), with the optimizer's rate replaced by the sweep's; it writes lr_find.json and lr_find.png and keeps no
weights. `optimizer.lr=auto` then trains a freshly built task (seeded again, so the run is the same as
`dlrun train optimizer.lr=<suggestion>`) and adds the suggestion to metrics.json under `lr_find`.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import asdict, replace
from pathlib import Path

from omegaconf import DictConfig, OmegaConf, open_dict, read_write

from dlrun.errors import DlrunError
from dlrun.lr_find.config import LRFindConfig
from dlrun.rundir import RunDir
from dlrun.schema import check

log = logging.getLogger("dlrun")


def settings_of(cfg: DictConfig) -> LRFindConfig:
    node = cfg.get("lr_find")
    return check(LRFindConfig, OmegaConf.to_container(node, resolve=True) if node is not None else {}, "lr_find")


def with_lr(cfg: DictConfig, lr: float) -> DictConfig:
    """A copy of `cfg` whose optimizer.lr is `lr`."""
    tuned = copy.deepcopy(cfg)
    with read_write(tuned), open_dict(tuned):
        tuned.optimizer.lr = float(lr)
    return tuned


def run_range_test(cfg: DictConfig, checked, run_dir: str | Path) -> dict:
    """Run the range test for `cfg` (checked: `validate(cfg)`); write lr_find.json and lr_find.png into `run_dir`
    and return what lr_find.json holds. A curve too short to suggest a rate is one DlrunError (files written)."""
    import torch

    from dlrun.cv import fold_rows
    from dlrun.datasets import build_data
    from dlrun.device import autocast_dtype, resolve_device
    from dlrun.lr_find.range_test import cycle, suggest, sweep
    from dlrun.models.build import image_input_of
    from dlrun.tasks import build_task
    from dlrun.trainer.loop import seed_everything

    settings = settings_of(cfg)
    device = resolve_device(checked.device)
    if checked.device.threads is not None:
        torch.set_num_threads(checked.device.threads)
    seed_everything(cfg.seed)
    cv = replace(checked.cv, fold=0) if checked.cv.is_parent else checked.cv  # K-fold: fold 0's training rows
    data = build_data(cfg, None, rows=fold_rows(cv), model_input=image_input_of(cfg.model)).to(device)
    task = build_task(with_lr(cfg, settings.min_lr), data.info)
    task.setup(device, checked.trainer.grad_clip, autocast_dtype(checked.device, device))
    task.accumulate = checked.trainer.accumulate_grad_batches  # each rate's step on the run's effective batch
    batches = data.batches("train", checked.trainer.batch_size, train=True, seed=cfg.seed)
    curve = sweep(task, cycle(batches), settings)
    result = {
        "suggestion": suggest(curve["lrs"], curve["smoothed"], settings),
        **curve,
        "steps": len(curve["lrs"]),
        "optimizer": cfg.optimizer.name,
        "batch_size": checked.trainer.batch_size,
        "settings": asdict(settings),
    }
    write_results(run_dir, result)
    if result["suggestion"] is None:
        raise DlrunError(
            f"lr-find: the loss {result['stopped'] or 'curve'} after {result['steps']} steps, too soon to suggest "
            f"a rate; lower lr_find.min_lr (now {settings.min_lr:g}) or raise lr_find.num_steps"
        )
    return result


def write_results(run_dir: str | Path, result: dict) -> None:
    from dlrun.lr_find.figure import lr_find_figure

    files = RunDir(run_dir)
    files.path.mkdir(parents=True, exist_ok=True)
    files.write_lr_find(result)
    lr_find_figure(result).savefig(files.lr_find_plot, dpi=100)
