"""The `vae` task: a variational autoencoder trained on the negative ELBO, reported per image."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from omegaconf import DictConfig

from dlrun.datasets.base import DataInfo
from dlrun.device import distributed
from dlrun.errors import ConfigError
from dlrun.models import build_model
from dlrun.models.vae import VAE
from dlrun.optimizers import build_optimizer
from dlrun.schedulers import build_scheduler
from dlrun.tasks.generative import GenerativeTask

EVAL_SEED = 0  # the noise of z = mu + sigma * eps when measuring a split: the same every epoch


class VaeTask(GenerativeTask):
    """Variational autoencoder: loss = reconstruction + beta * KL (the negative ELBO), per image."""

    family, normalize, output = "vae", "unit", "decoder's sigmoid"

    def __init__(self, cfg: DictConfig, info: DataInfo, reconstruction, beta, sample_every_n_epochs, num_samples):
        super().__init__(cfg, info, sample_every_n_epochs, num_samples)
        self.reconstruction, self.beta = reconstruction, beta
        self.vae = build_model(cfg.model, info)
        if not isinstance(self.vae, VAE):
            raise ConfigError(
                f"task vae needs a VAE model (dlrun.models.vae.VAE); model '{cfg.model.name}' is a "
                f"{type(self.vae).__name__}"
            )
        self.models["vae"] = self.vae
        self.optimizers["vae"] = build_optimizer(cfg.optimizer, self.vae.parameters())
        self.schedulers["vae"] = build_scheduler(cfg.scheduler, self.optimizers["vae"], cfg.trainer.max_epochs)

    @property
    def latent_dim(self) -> int:
        return self.vae.latent_dim

    # ---- the loss
    def terms(self, x: torch.Tensor, eps: torch.Tensor | None = None, model=None) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-image reconstruction loss (summed over pixels) and KL divergence to N(0, I)."""
        with self.autocast():
            logits, mu, log_var = (model or self.models["vae"])(x, eps)
        logits, mu, log_var = logits.float(), mu.float(), log_var.float()
        if self.reconstruction == "bce":
            recon = F.binary_cross_entropy_with_logits(logits, x, reduction="none")
        else:
            recon = (torch.sigmoid(logits) - x).pow(2)
        kl = -0.5 * (1 + log_var - mu.pow(2) - log_var.exp()).sum(dim=1)
        return recon.flatten(1).sum(dim=1), kl

    def training_step(self, batch):
        x, _ = batch
        recon, kl = self.terms(x)
        loss = (recon + self.beta * kl).mean()
        self.optimize(loss, self.optimizers["vae"], self.models["vae"])
        return {"loss": loss.detach(), "recon": recon.mean().detach(), "kl": kl.mean().detach()}

    @torch.no_grad()
    def evaluate(self, batches) -> dict[str, float]:
        """Negative ELBO, reconstruction and KL per image over the whole split (one z per image, fixed noise)."""
        self.train(False)
        gen = torch.Generator(self.device).manual_seed(EVAL_SEED + distributed.rank())
        sums = torch.zeros(3, dtype=torch.float64, device=self.device)
        for x, _ in batches:
            eps = torch.randn(len(x), self.latent_dim, generator=gen, device=self.device)
            recon, kl = self.terms(x, eps, model=self.vae)
            sums += torch.stack([recon.sum(), kl.sum(), recon.new_tensor(len(x))]).double()
        recon, kl, n = distributed.all_reduce_sum(sums).tolist()
        return {"loss": (recon + self.beta * kl) / n, "recon": recon / n, "kl": kl / n}

    def log_keys(self) -> list[str]:
        return ["loss", "recon", "kl"]

    def summary_inputs(self, x):
        return {"vae": (x, torch.zeros(len(x), self.latent_dim, device=x.device))}  # eps given: no draw from the RNG

    # ---- pictures and sampling
    @torch.no_grad()
    def generate(self, z, labels=None):
        self.train(False)
        return self.vae.decode(z.to(self.device)).float()

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Decoded posterior means of images (in [0, 1])."""
        self.train(False)
        return self.vae.decode(self.vae.encode(x)[0]).float()

    def pictures(self, example):
        pictures = super().pictures(example)
        if example is not None:
            originals = example[0][:8]
            pictures["reconstructions"] = (torch.cat([originals, self.reconstruct(originals)]), len(originals))
        return pictures
