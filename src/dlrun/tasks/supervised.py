"""Classification and regression: one model, one optimizer, one loss (+ optional weight penalty)."""

from __future__ import annotations

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from dlrun import metrics as M
from dlrun.datasets.base import IGNORE_LABEL, DataInfo
from dlrun.device import distributed
from dlrun.errors import ConfigError
from dlrun.losses import LOSSES
from dlrun.models import build_model
from dlrun.optimizers import build_optimizer
from dlrun.regularization import Regularization
from dlrun.schedulers import build_scheduler
from dlrun.tasks.base import Task


class SupervisedTask(Task):
    default_loss = "mse"

    def __init__(
        self,
        cfg: DictConfig,
        info: DataInfo,
        loss: str | None,
        metrics: list[str] | None,
        top_k: int,
        class_weights,
        pos_weight,
        label_smoothing: float,
        threshold,
    ):
        super().__init__()
        self.info = info
        self.model = build_model(cfg.model, info)
        self.models["model"] = self.model
        self.loss_name = loss or self.default_loss
        self.loss_fn = LOSSES.build(
            self.loss_name,
            where="task.loss",
            **self.loss_options(class_weights, pos_weight, label_smoothing),
        )
        self.metric_names = list(metrics) if metrics is not None else self.default_metrics()
        for name in self.metric_names:
            M.METRICS.get(name)
        self.metric_ctx = {"top_k": top_k, "num_classes": info.num_classes}
        if threshold != 0.5 and not info.binary:
            raise ConfigError(f"task.threshold is for two classes; this {info.kind} task has {info.num_classes}")
        self.auto_threshold = threshold == "auto"
        self.set_threshold(info.threshold if self.auto_threshold else float(threshold))
        reg = OmegaConf.to_container(cfg.regularization, resolve=True)
        self.reg = Regularization(**reg)
        self.penalized = self.reg.weights(self.model) if self.reg.active else []
        self.optimizers["model"] = build_optimizer(cfg.optimizer, self.model.parameters(), model=self.model)
        self.schedulers["model"] = build_scheduler(cfg.scheduler, self.optimizers["model"], cfg.trainer.max_epochs)

    def default_metrics(self) -> list[str]:
        return []

    def loss_options(self, class_weights, pos_weight, label_smoothing: float) -> dict:
        """Options of the loss from task.class_weights / pos_weight / label_smoothing (classification only)."""
        given = [k for k, v in (("class_weights", class_weights), ("pos_weight", pos_weight)) if v is not None]
        if label_smoothing:
            given.append("label_smoothing")
        if given:
            raise ConfigError(f"task.{given[0]} is for classification; this is a {self.info.kind} task")
        return {}

    def set_threshold(self, threshold: float) -> None:
        """The decision threshold of a binary task: in its metrics and in the info saved with checkpoints."""
        self.threshold = self.info.threshold = threshold
        self.metric_ctx["threshold"] = threshold

    def setup(self, device, grad_clip, autocast_dtype) -> None:
        super().setup(device, grad_clip, autocast_dtype)
        self.loss_fn.to(device)  # class weights live in the loss

    # how targets and outputs line up for the loss and for the metrics
    def _loss_input(self, out: torch.Tensor) -> torch.Tensor:
        return out

    def scores(self, out: torch.Tensor) -> torch.Tensor:
        """Predictions from raw model outputs: values (regression), probabilities (classification)."""
        return out

    def _align(self, out: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Outputs and targets as the loss and the metrics take them: one row per prediction."""
        return out, y

    def targets_of(self, y: torch.Tensor) -> torch.Tensor:
        """A split's targets, one per prediction (as `_align` leaves them)."""
        return y

    def training_step(self, batch):
        x, y = batch
        with self.autocast():
            out, y = self._align(self.models["model"](x), y)  # through the DDP wrapper when there is one
            loss = self.loss_fn(self._loss_input(out).float(), y)
        total = loss
        logs = {"loss": loss.detach()}
        if self.penalized:
            penalty = self.reg.penalty(self.penalized)
            total = loss + penalty
            logs["penalty"] = penalty.detach()
        self.optimize(total, self.optimizers["model"], self.models["model"])
        logs["_outputs"] = (out.detach(), y)  # raw outputs: scores are computed once per epoch, not per step
        return logs

    def epoch_metrics(self, outputs):
        """Metrics from raw model outputs (logits or values) and targets."""
        scores = self.scores(torch.cat([o[0] for o in outputs]).float()).cpu().numpy()
        targets = torch.cat([o[1] for o in outputs]).cpu().numpy()
        return M.compute(self.metric_names, *self.in_data_units(targets, scores), self.metric_ctx)

    def in_data_units(self, targets, scores):
        """Targets and predictions in the data's original units (undoing any target scaling)."""
        return targets, scores

    @torch.no_grad()
    def predict(self, batches, aligned: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """Raw model outputs (logits or values) and targets for every batch of the whole split, in eval mode,
        one row per prediction (`aligned`) or as the model gives them.

        With several processes each evaluates its share and the results are gathered in rank order.
        """
        self.train(False)
        outs, ys = [], []
        for x, y in batches:
            with self.autocast():
                outs.append(self.model(x).float())
            ys.append(y)
        out, y = distributed.gather_cat(torch.cat(outs)), distributed.gather_cat(torch.cat(ys))
        return self._align(out, y) if aligned else (out, y)

    def evaluate(self, batches) -> dict[str, float]:
        out, y = self.predict(batches)
        loss = float(self.loss_fn(self._loss_input(out), y))
        return {"loss": loss, **self.epoch_metrics([(out, y)])}

    def predictions(self, x: torch.Tensor, batch_size: int = 512) -> np.ndarray:
        """Class probabilities ((n,) of class 1 when binary), or values in the data's original units."""
        rows = (
            (x[lo : lo + batch_size], x.new_zeros(len(x[lo : lo + batch_size]))) for lo in range(0, len(x), batch_size)
        )
        scores = self.scores(self.predict(rows, aligned=False)[0]).cpu().numpy()
        return self.in_data_units(scores, scores)[1]

    def log_keys(self) -> list[str]:
        return ["loss", *self.metric_names]


class ClassificationTask(SupervisedTask):
    """Binary (one logit, BCE-with-logits) or multiclass (softmax cross-entropy) classification."""

    def __init__(
        self,
        cfg: DictConfig,
        info: DataInfo,
        loss,
        metrics,
        top_k,
        class_weights,
        pos_weight,
        label_smoothing,
        threshold,
    ):
        if info.kind != "classification":
            raise ConfigError(
                f"task 'classification' needs class labels, but data set '{cfg.dataset.name}' is a regression data set"
            )
        if info.per_step and not isinstance(self, TaggingTask):
            raise ConfigError(f"data set '{cfg.dataset.name}' has one label per step: use task=tagging")
        self.binary = info.binary
        self.default_loss = "bce" if self.binary else "cross_entropy"
        super().__init__(cfg, info, loss, metrics, top_k, class_weights, pos_weight, label_smoothing, threshold)
        if self.binary != (self.loss_name == "bce"):
            raise ConfigError(
                f"task.loss '{self.loss_name}' does not fit {info.num_classes} classes; "
                f"use {'bce' if self.binary else 'cross_entropy'}"
            )

    def default_metrics(self):
        return ["accuracy", "f1", "auc"] if self.binary else ["accuracy", "f1"]

    def _loss_input(self, out):
        return out.squeeze(-1) if self.binary else out

    def loss_options(self, class_weights, pos_weight, label_smoothing: float) -> dict:
        from dlrun.tasks import imbalance

        counts, names = self.info.class_counts, self.info.class_names
        options = {"label_smoothing": float(label_smoothing)} if label_smoothing else {}
        if self.loss_name == "bce":
            if class_weights is not None:
                if pos_weight is not None:
                    raise ConfigError("set task.class_weights or task.pos_weight, not both")
                weights = imbalance.class_weights(class_weights, counts, names)
                pos_weight = weights[1] / weights[0]  # BCE weighs the positive class relative to the negative
            found = imbalance.pos_weight(pos_weight, counts)
            if found is not None:
                options["pos_weight"] = found
            return options
        if pos_weight is not None:
            raise ConfigError(f"task.pos_weight is for two classes; with {len(names)} use task.class_weights")
        weights = imbalance.class_weights(class_weights, counts, names)
        if weights is not None:
            options["weight"] = weights
        return options

    def scores(self, out):
        return torch.sigmoid(out.squeeze(-1)) if self.binary else torch.softmax(out, dim=-1)

    def per_class(self, predicted: tuple[torch.Tensor, torch.Tensor]) -> dict:
        """Precision, recall, F1 and support of each class for (outputs, targets) of `predict`."""
        from dlrun.metrics.per_class import per_class_table, predicted_labels

        out, y = predicted
        labels = predicted_labels(self.scores(out.float()).cpu().numpy(), self.threshold)
        return per_class_table(y.cpu().numpy(), labels, self.info.class_names)


class TaggingTask(ClassificationTask):
    """Sequence tagging: one class per step (the books' part-of-speech tagger); padded steps do not count."""

    def __init__(
        self,
        cfg: DictConfig,
        info: DataInfo,
        loss,
        metrics,
        top_k,
        class_weights,
        pos_weight,
        label_smoothing,
        threshold,
    ):
        if not info.per_step:
            raise ConfigError(
                f"task 'tagging' needs one label per step (dataset=tagged_text); "
                f"data set '{cfg.dataset.name}' has one per row"
            )
        super().__init__(cfg, info, loss, metrics, top_k, class_weights, pos_weight, label_smoothing, threshold)

    def default_metrics(self):
        return ["accuracy", "f1"]

    def _align(self, out, y):
        real = y != IGNORE_LABEL
        return out[real], y[real]

    def targets_of(self, y):
        return y[y != IGNORE_LABEL]


class RegressionTask(SupervisedTask):
    """Regression of numeric targets (loss mse, mae or huber)."""

    def __init__(
        self,
        cfg: DictConfig,
        info: DataInfo,
        loss,
        metrics,
        top_k,
        class_weights,
        pos_weight,
        label_smoothing,
        threshold,
    ):
        if info.kind != "regression":
            raise ConfigError(
                f"task 'regression' needs numeric targets, but data set '{cfg.dataset.name}' has class labels"
            )
        if loss is not None and loss not in ("mse", "mae", "huber"):
            raise ConfigError(f"task.loss '{loss}' is not a regression loss; use mse, mae or huber")
        super().__init__(cfg, info, loss, metrics, top_k, class_weights, pos_weight, label_smoothing, threshold)

    def default_metrics(self):
        return ["mae", "mse", "rmse", "r2"]

    def in_data_units(self, targets, scores):
        shift, scale = self.info.target_shift, self.info.target_scale
        return targets * scale + shift, scores * scale + shift
