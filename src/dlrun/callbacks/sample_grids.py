"""Pictures of a generative task during training: its grids as PNG in <run dir>/samples/ and in TensorBoard."""

from __future__ import annotations

from dlrun.callbacks.base import Callback
from dlrun.device import distributed


class SampleGrids(Callback):
    """Every `every_n_epochs` epochs and after the last one, save the task's `pictures()` (rank 0 only).

    Files are `samples/<name>_epoch_NNN.png`; TensorBoard shows them as images `samples/<name>`.
    """

    priority = 60  # before the TensorBoard logger flushes the epoch

    def __init__(self, every_n_epochs: int = 1):
        self.every_n_epochs = every_n_epochs

    def on_epoch_end(self, trainer, epoch, logs):
        last = epoch == trainer.cfg.max_epochs or trainer.should_stop
        if not distributed.is_main() or not self.every_n_epochs or (epoch % self.every_n_epochs and not last):
            return
        from dlrun.plots.image_grids import save_grid

        task = trainer.task
        was_training = task.models.training
        pictures = task.pictures(trainer.example_batch)
        task.train(was_training)
        logger = next((cb for cb in trainer.callbacks if hasattr(cb, "add_image")), None)
        for name, (images, columns) in pictures.items():
            grid = save_grid(images, trainer.run_dir / "samples" / f"{name}_epoch_{epoch:03d}.png", columns)
            if logger is not None:
                logger.add_image(f"samples/{name}", grid, epoch)
