"""The `gan` and `cgan` tasks: a generator and a discriminator, each with its own optimizer.

Per batch: `d_steps` discriminator updates (a real and a fake batch, each its own forward and
backward pass, so batch norm never mixes them and DDP sees one forward per backward), then
`g_steps` generator updates with fresh latent vectors. The logged `loss` is d_loss + g_loss: it
catches a diverging run, but it does not measure sample quality; neither does any validation
figure of a GAN, so GAN recipes set `trainer.checkpoint.monitor: null` (the final weights are the
last epoch's). D(x) and D(G(z)) are logged as `d_real` and `d_fake`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from omegaconf import DictConfig, OmegaConf

from dlrun.datasets.base import DataInfo
from dlrun.device import distributed
from dlrun.errors import ConfigError
from dlrun.models import build_model
from dlrun.models.gan import GanPair
from dlrun.optimizers import build_optimizer
from dlrun.schedulers import build_scheduler
from dlrun.tasks.generative import GenerativeTask

EVAL_SEED = 0  # the latent vectors and labels of the fakes when measuring a split: the same every epoch


class GanTask(GenerativeTask):
    """GAN: generator and discriminator with their own optimizers; d_loss, g_loss, D(x), D(G(z)) logged."""

    family, normalize, output = "gan", "symmetric", "generator's tanh"
    conditional = False

    def __init__(
        self,
        cfg: DictConfig,
        info: DataInfo,
        generator_optimizer,
        discriminator_optimizer,
        generator_loss,
        d_steps,
        g_steps,
        label_smoothing,
        sample_every_n_epochs,
        num_samples,
    ):
        super().__init__(cfg, info, sample_every_n_epochs, num_samples)
        self.generator_loss, self.d_steps, self.g_steps = generator_loss, d_steps, g_steps
        self.real_target = 1.0 - label_smoothing  # one-sided: fakes keep the target 0
        pair = build_model(cfg.model, info)
        if not isinstance(pair, GanPair):
            raise ConfigError(
                f"task {self.registered_name()} needs a GAN model (a GanPair of generator and "
                f"discriminator); model '{cfg.model.name}' is a {type(pair).__name__}"
            )
        self.generator, self.discriminator = pair.generator, pair.discriminator
        self.models["generator"], self.models["discriminator"] = self.generator, self.discriminator
        for name, node in (("generator", generator_optimizer), ("discriminator", discriminator_optimizer)):
            opt = build_optimizer(
                OmegaConf.create(node), self.models[name].parameters(), where=f"task.{name}_optimizer"
            )
            self.optimizers[name] = opt
            self.schedulers[name] = build_scheduler(cfg.scheduler, opt, cfg.trainer.max_epochs)

    def steps_per_batch(self, optimizer: str) -> int:
        return self.d_steps if optimizer == "discriminator" else self.g_steps

    @property
    def latent_dim(self) -> int:
        return self.generator.latent_dim

    @property
    def num_classes(self) -> int:
        return self.generator.num_classes

    # ---- one batch
    def _labels(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor | None:
        """Random class labels of the fakes (conditional models only)."""
        if not self.conditional:
            return None
        return torch.randint(0, self.num_classes, (n,), device=self.device, generator=generator)

    def _latent(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.randn(n, self.latent_dim, device=self.device, generator=generator)

    def _g_loss(self, fake_logits: torch.Tensor) -> torch.Tensor:
        if self.generator_loss == "non_saturating":  # -log D(G(z)): fakes scored against the "real" label
            return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))
        return -F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))  # log(1 - D(G(z)))

    def training_step(self, batch):
        x, y = batch
        n = len(x)
        real_labels = y.long() if self.conditional else None  # two-class data sets hold float targets
        G, D = self.models["generator"], self.models["discriminator"]
        d_opt, g_opt = self.optimizers["discriminator"], self.optimizers["generator"]
        for _ in range(self.d_steps):
            fake_labels = self._labels(n)
            with torch.no_grad(), self.autocast():
                fake = G(self._latent(n), fake_labels)
            d_opt.zero_grad(set_to_none=True)
            with self.autocast():
                real_logits = D(x, real_labels).float()
            loss_real = F.binary_cross_entropy_with_logits(real_logits, torch.full_like(real_logits, self.real_target))
            self.backward(loss_real)
            with self.autocast():
                fake_logits = D(fake, fake_labels).float()
            loss_fake = F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
            self.backward(loss_fake)
            self.step(d_opt, D)
        for _ in range(self.g_steps):
            fake_labels = self._labels(n)
            with self.autocast():
                g_logits = D(G(self._latent(n), fake_labels), fake_labels).float()
            g_loss = self._g_loss(g_logits)
            self.optimize(g_loss, g_opt, G)
        d_loss = (loss_real + loss_fake).detach()
        return {
            "loss": d_loss + g_loss.detach(),
            "d_loss": d_loss,
            "g_loss": g_loss.detach(),
            "d_real": torch.sigmoid(real_logits.detach()).mean(),
            "d_fake": torch.sigmoid(fake_logits.detach()).mean(),
        }

    @torch.no_grad()
    def evaluate(self, batches) -> dict[str, float]:
        """The same figures on a split's real images and as many fakes (fixed noise), without label smoothing."""
        self.train(False)
        gen = torch.Generator(self.device).manual_seed(EVAL_SEED + distributed.rank())
        sums = torch.zeros(6, dtype=torch.float64, device=self.device)
        for x, y in batches:
            n = len(x)
            labels = self._labels(n, gen)
            z = self._latent(n, gen)
            with self.autocast():
                real_logits = self.discriminator(x, y.long() if self.conditional else None).float()
                fake_logits = self.discriminator(self.generator(z, labels), labels).float()
            bce = F.binary_cross_entropy_with_logits
            sums += torch.stack(
                [
                    bce(real_logits, torch.ones_like(real_logits), reduction="sum"),
                    bce(fake_logits, torch.zeros_like(fake_logits), reduction="sum"),
                    self._g_loss(fake_logits) * n,
                    torch.sigmoid(real_logits).sum(),
                    torch.sigmoid(fake_logits).sum(),
                    real_logits.new_tensor(n),
                ]
            ).double()
        real, fake, g_loss, d_real, d_fake, n = distributed.all_reduce_sum(sums).tolist()
        d_loss = (real + fake) / n
        return {
            "loss": d_loss + g_loss / n,
            "d_loss": d_loss,
            "g_loss": g_loss / n,
            "d_real": d_real / n,
            "d_fake": d_fake / n,
        }

    def log_keys(self) -> list[str]:
        return ["loss", "d_loss", "g_loss", "d_real", "d_fake"]

    def summary_inputs(self, x):
        labels = torch.zeros(len(x), dtype=torch.long, device=x.device) if self.conditional else None
        z = torch.zeros(len(x), self.latent_dim, device=x.device)
        return {"generator": (z, labels), "discriminator": (x, labels)}

    # ---- pictures and sampling
    @torch.no_grad()
    def generate(self, z, labels=None):
        self.train(False)
        with self.autocast():
            images = self.generator(z.to(self.device), None if labels is None else labels.to(self.device))
        return self.to_pixels(images.float())


class CganTask(GanTask):
    """Conditional GAN: class labels embedded into both networks; fakes get random labels; one row per class."""

    conditional = True

    def __init__(
        self,
        cfg: DictConfig,
        info: DataInfo,
        generator_optimizer,
        discriminator_optimizer,
        generator_loss,
        d_steps,
        g_steps,
        label_smoothing,
        sample_every_n_epochs,
        num_samples,
    ):
        super().__init__(
            cfg,
            info,
            generator_optimizer,
            discriminator_optimizer,
            generator_loss,
            d_steps,
            g_steps,
            label_smoothing,
            sample_every_n_epochs,
            num_samples,
        )

    def class_grid(self, per_class: int, z: torch.Tensor | None = None) -> torch.Tensor:
        """One row per class, the same `per_class` latent vectors in every row (images in [0, 1])."""
        z = self.fixed_latent(per_class) if z is None else z.to(self.device)
        labels = torch.arange(self.num_classes, device=self.device).repeat_interleave(len(z))
        return self.generate(z.repeat(self.num_classes, 1), labels)

    def pictures(self, example):
        return {"samples": (self.class_grid(self.num_samples), self.num_samples)}
