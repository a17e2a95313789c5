"""The `task` config group: one schema per task; a task owns the per-batch step (built in its module).

Schemas may also check the rest of the config (`check_config`): a GAN task needs a GAN model and images in
[-1, 1], for example. Those checks run with the others, before anything heavy is imported.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from dlrun.errors import ConfigError
from dlrun.models.config import MODELS, model_task
from dlrun.registry import Registry
from dlrun.schema import option

TASKS = Registry("task", group="task")

RANGES = {"unit": "[0, 1]", "symmetric": "[-1, 1]"}


@dataclass
class Supervised:
    loss: str | None = option(
        None, "null picks the task's default (bce or cross_entropy; mse for regression); see `dlrun list losses`"
    )
    metrics: list[str] | None = option(
        None, "metrics over each whole split; null picks the task's defaults; see `dlrun list metrics`"
    )
    top_k: int = option(5, "k of the top_k_accuracy metric", ge=1)
    class_weights: Literal["balanced"] | list[float] | dict[str, float] | None = option(
        None,
        "classification: weight of each class in the loss: balanced (n / (classes * n_class), from the training "
        "split) | [w0, w1, ...] in class order | {class_name: w} (unnamed classes 1) | null (all 1)",
    )
    pos_weight: Literal["balanced"] | float | None = option(
        None, "two classes: weight of the positive class in BCE: a number | balanced (negatives / positives) | null"
    )
    label_smoothing: float = option(
        0.0, "classification: targets are smoothed towards the uniform distribution by this much", ge=0, lt=1
    )
    threshold: Literal["auto"] | float = option(
        0.5,
        "two classes: rows whose probability of class 1 reaches this are predicted 1; auto picks it on the "
        "validation split for the monitored metric (f1 when the monitor is the loss or auc)",
    )

    def check_config(self, config: dict, name: str) -> None:
        from dlrun.losses.config import LOSSES
        from dlrun.metrics.config import METRICS
        from dlrun.tasks.imbalance import check_spec

        check_spec(self.class_weights, self.pos_weight)
        if self.threshold != "auto" and not 0 < self.threshold < 1:
            raise ConfigError(f"task.threshold must be auto or in (0, 1), got {self.threshold}")

        family = model_task(config["model"]["name"])
        if family is not None:
            raise ConfigError(
                f"model '{config['model']['name']}' is a {family} model: train it with task={family}"
                + (" (or task=cgan when it is conditional)" if family == "gan" else "")
            )
        if self.loss is not None:
            LOSSES.component(self.loss)
        for metric in self.metrics or []:
            METRICS.component(metric)


@TASKS.declare(
    "auto",
    factory=None,
    doc="classification for class labels, tagging for per-step labels, "
    "regression for numeric targets: chosen from the data set",
)
@dataclass
class Auto(Supervised):
    """The task follows from the data set: classification for labels, regression for numeric targets."""


@TASKS.declare("classification", factory="dlrun.tasks.supervised:ClassificationTask")
@dataclass
class Classification(Supervised):
    """Classification: one logit + BCE-with-logits for two classes, softmax cross-entropy for more."""


@TASKS.declare("tagging", factory="dlrun.tasks.supervised:TaggingTask")
@dataclass
class Tagging(Supervised):
    """Sequence tagging: one class per step (dataset=tagged_text, model.pooling=per_step); padding does not count."""


@TASKS.declare("regression", factory="dlrun.tasks.supervised:RegressionTask")
@dataclass
class Regression(Supervised):
    """Regression of one or more numeric targets (loss mse, mae or huber)."""

    def check_config(self, config: dict, name: str) -> None:
        super().check_config(config, name)
        if self.loss is not None and self.loss not in ("mse", "mae", "huber"):
            raise ConfigError(f"task.loss '{self.loss}' is not a regression loss; use mse, mae or huber")


@dataclass
class Generative:
    sample_every_n_epochs: int = option(1, "write sample grids every N epochs (and after the last); 0 = never", ge=0)
    num_samples: int = option(64, "images in the sample grid, decoded from one fixed latent batch", ge=1)

    family = ""  # the model family the task trains (MODELS' task=...)
    normalize = "unit"  # the dataset.normalize its networks' outputs match
    output = ""  # the output layer, for messages

    def check_config(self, config: dict, name: str) -> None:
        dataset, model = config["dataset"], config["model"]["name"]
        normalize = dataset.get("normalize")
        if normalize is None:
            raise ConfigError(
                f"task {name} trains on images (mnist, fashion_mnist, cifar10, image_folder); data set "
                f"'{dataset['name']}' is a table"
            )
        if normalize != self.normalize:
            raise ConfigError(
                f"task {name}: the {self.output} outputs pixels in {RANGES[self.normalize]}, so the data "
                f"must be normalized the same way: set dataset.normalize={self.normalize} "
                f"(got '{normalize}')"
            )
        if model_task(model) != self.family:
            known = [m for m in MODELS.names() if model_task(m) == self.family]
            raise ConfigError(
                f"task {name} needs a {self.family.upper()} model ({', '.join(known)}); got model '{model}'"
            )


@TASKS.declare("vae", factory="dlrun.tasks.vae:VaeTask")
@dataclass
class VAE(Generative):
    """Variational autoencoder on images in [0,1] (dataset.normalize=unit); loss = reconstruction + beta * KL."""

    reconstruction: Literal["bce", "mse"] = option(
        "bce", "bce (Bernoulli pixels, summed over pixels, the books') | mse (squared error summed over pixels)"
    )
    beta: float = option(1.0, "weight of the KL term (1 = the ELBO; > 1 = beta-VAE)", ge=0)

    family, normalize, output = "vae", "unit", "decoder's sigmoid"


GAN_OPTIMIZER = {"name": "adam", "lr": 0.0002}


@dataclass
class GanBase(Generative):
    generator_optimizer: dict[str, Any] = option(
        GAN_OPTIMIZER,
        "the generator's optimizer: any option of "
        "conf/optimizer/ (optimizer@task.generator_optimizer=sgd), keys as "
        "there; the books' Adam with lr 2e-4",
        group="optimizer",
    )
    discriminator_optimizer: dict[str, Any] = option(
        GAN_OPTIMIZER, "the discriminator's optimizer, as the generator's", group="optimizer"
    )
    generator_loss: Literal["non_saturating", "minimax"] = option(
        "non_saturating",
        "non_saturating (G minimizes -log D(G(z)), the books') | minimax (G minimizes log(1 - D(G(z))))",
    )
    d_steps: int = option(1, "discriminator updates per batch (each on a real and a fresh fake batch)", ge=1)
    g_steps: int = option(1, "generator updates per batch, after the discriminator's", ge=1)
    label_smoothing: float = option(
        0.0, "one-sided label smoothing: real images get the target 1 - this (fakes keep 0)", ge=0, lt=1
    )

    family, normalize, output = "gan", "symmetric", "generator's tanh"
    conditional = False

    def check_config(self, config: dict, name: str) -> None:
        super().check_config(config, name)
        if (config.get("trainer") or {}).get("accumulate_grad_batches", 1) > 1:
            raise ConfigError(
                f"task {name} steps its discriminator and generator on every batch: "
                "trainer.accumulate_grad_batches must be 1 (raise trainer.batch_size instead)"
            )
        conditional = bool(config["model"].get("conditional", False))
        if conditional != self.conditional:
            raise ConfigError(
                f"model '{config['model']['name']}' with model.conditional={str(conditional).lower()} "
                f"needs task={'cgan' if conditional else 'gan'}"
            )


@TASKS.declare("gan", factory="dlrun.tasks.gan:GanTask")
@dataclass
class GAN(GanBase):
    """GAN on images in [-1,1] (dataset.normalize=symmetric): a generator and a discriminator, an optimizer each."""


@TASKS.declare("cgan", factory="dlrun.tasks.gan:CganTask")
@dataclass
class CGAN(GanBase):
    """Conditional GAN on images in [-1,1]: the class label is embedded into both networks; one grid row per class."""

    num_samples: int = option(
        10,
        "images per class (columns) in the class grid: one row per class, the same latent vectors in every row",
        ge=1,
    )

    conditional = True
