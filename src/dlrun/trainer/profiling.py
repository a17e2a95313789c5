"""`trainer.profile=N`: N training steps under torch.profiler (after one unprofiled step, which pays the
one-time costs), then a top-operators table in the console and in `profile/top_ops.txt`, and a Chrome trace in
`profile/trace.pt.trace.json` of the run directory (chrome://tracing, https://ui.perfetto.dev, or TensorBoard's
profiler plugin: `tensorboard --logdir RUN/profile`)."""

from __future__ import annotations

import logging

import torch

from dlrun.callbacks.base import Callback
from dlrun.rundir import RunDir

log = logging.getLogger("dlrun")

TOP_OPERATORS = 15


class Profile(Callback):
    priority = 5  # before the other callbacks' batch-end work is what gets profiled next

    def __init__(self, steps: int, save: bool = True):
        self.steps, self.save = steps, save
        self.profiler: torch.profiler.profile | None = None
        self.done = False
        self.seen = 0  # training steps since the profiler started (the first one is its warm-up)

    def on_fit_start(self, trainer) -> None:
        activities = [torch.profiler.ProfilerActivity.CPU]
        if torch.cuda.is_available():
            activities.append(torch.profiler.ProfilerActivity.CUDA)
        self.profiler = torch.profiler.profile(
            activities=activities,
            schedule=torch.profiler.schedule(wait=0, warmup=1, active=self.steps, repeat=1),
            on_trace_ready=lambda prof: self.finish(trainer),
            record_shapes=True,
        )
        self.profiler.start()

    def on_batch_end(self, trainer, step: int, logs) -> None:
        if self.profiler is not None and not self.done:
            self.seen += 1
            self.profiler.step()  # after the last active step this calls finish (on_trace_ready)

    def on_fit_end(self, trainer) -> None:
        if self.profiler is not None:
            self.profiler.stop()  # fewer batches than steps: stop() hands over what was recorded
        self.profiler = None

    def finish(self, trainer) -> None:
        if self.done:
            return
        self.done = True
        if not self.save:
            return
        run = RunDir(trainer.run_dir)
        sort = "self_cuda_time_total" if torch.cuda.is_available() else "self_cpu_time_total"
        table = self.profiler.key_averages().table(sort_by=sort, row_limit=TOP_OPERATORS)
        run.write_profile(table, self.profiler.export_chrome_trace)
        log.info(
            "top operators over %d profiled steps (by %s):\n%s", min(self.steps, max(self.seen - 1, 0)), sort, table
        )
        log.info("profile trace: %s (chrome://tracing, ui.perfetto.dev or TensorBoard's profiler)", run.profile_trace)
