"""TensorBoard: per-epoch scalars, learning rate, optional histograms and graph, and hparams at the end."""

from __future__ import annotations

import math

from torch.utils.tensorboard import SummaryWriter
from torch.utils.tensorboard.summary import hparams as hparams_summary

from dlrun.callbacks.base import Callback


class TensorBoardLogger(Callback):
    priority = 70

    def __init__(self, log_dir, hparams: dict, histogram_every_n_epochs: int = 0, log_graph: bool = False):
        self.log_dir = str(log_dir)
        self.hparams = hparams
        self.histogram_every = histogram_every_n_epochs
        self.log_graph = log_graph
        self._writer: SummaryWriter | None = None

    @property
    def writer(self) -> SummaryWriter:
        if self._writer is None:
            self._writer = SummaryWriter(log_dir=self.log_dir)
        return self._writer

    def on_fit_start(self, trainer):
        if self.log_graph and trainer.example_batch is not None:
            for name, model in trainer.task.models.items():
                try:
                    model.eval()
                    self.writer.add_graph(model, trainer.example_batch[0][:2])
                except Exception as exc:  # noqa: BLE001 - a graph that cannot be traced is not fatal
                    trainer.log.warning("could not trace the graph of %s: %s", name, exc)

    def on_epoch_end(self, trainer, epoch, logs):
        for key, value in logs.items():
            if key != "epoch" and isinstance(value, (int, float)) and math.isfinite(value):
                self.writer.add_scalar(key, value, epoch)
        if self.histogram_every and epoch % self.histogram_every == 0:
            for mname, model in trainer.task.models.items():
                for pname, p in model.named_parameters():
                    self.writer.add_histogram(f"weights/{mname}.{pname}", p.detach().cpu(), epoch)
                    if p.grad is not None:
                        self.writer.add_histogram(f"gradients/{mname}.{pname}", p.grad.detach().cpu(), epoch)
        self.writer.flush()

    def log_images(self, pictures: dict, step: int) -> None:
        """The run's PNG pictures ({name: path}) as TensorBoard images under plots/."""
        if self.writer is None:
            return
        from matplotlib.image import imread

        for name, path in pictures.items():
            self.writer.add_image(f"plots/{name}", imread(path)[..., :3], step, dataformats="HWC")

    def on_run_end(self, results: dict) -> None:
        """Called by the run with its final metrics: the HParams tab entry of this run."""
        metrics = {f"hparam/{k}": v for k, v in results.items() if isinstance(v, float) and math.isfinite(v)}
        _, ssi, sei = hparams_summary(self.hparams, metrics)
        fw = self.writer.file_writer
        # no per-run "experiment" summary: TensorBoard would take the first run's as the whole sweep's (its
        # hparam values as the only ones shown); without it, HParams builds one entry per run from them all
        for summary in (ssi, sei):
            fw.add_summary(summary)
        for key, value in metrics.items():
            self.writer.add_scalar(key, value)
        self.writer.close()

    def add_image(self, tag: str, image, step: int = 0) -> None:
        self.writer.add_image(tag, image, step)

    def add_scalars(self, values: dict[str, float], step: int) -> None:
        """Scalars under their own tags (e.g. `diagnostics/<layer>/grad_norm`), flushed with the epoch."""
        for tag, value in values.items():
            self.writer.add_scalar(tag, value, step)

    def add_figure(self, tag: str, figure, step: int = 0) -> None:
        self.writer.add_figure(tag, figure, step)

    def on_fit_end(self, trainer):
        self.writer.flush()
