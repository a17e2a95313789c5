"""The `model` config group: one schema per model (`conf/model/NAME.yaml` is written from it).

Input and output sizes always come from the data set, never from the config.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Literal

from dlrun.errors import ConfigError
from dlrun.registry import Registry
from dlrun.schema import REQUIRED, option

# keys every model has, used by the engine (models/build.py), not passed to the factory
ENGINE_KEYS = ("init_from",)
MODELS = Registry("model", group="model", engine_keys=ENGINE_KEYS)

Activation = Literal["relu", "tanh", "sigmoid", "gelu", "leaky_relu", "elu"]
Init = Literal["default", "xavier_uniform", "xavier_normal", "kaiming"]
Pooling = Literal["last", "mean", "per_step"]


@dataclass
class Model:
    """Keys of every model."""

    init_from: str | None = option(
        None,
        "run directory or checkpoint file of another run: its layers whose names and shapes match are loaded "
        "into this model before training (a different head is skipped); null = start from the model's own init",
    )


@MODELS.declare("mlp", factory="dlrun.models.mlp:mlp")
@dataclass
class MLP(Model):
    """Multi-layer perceptron. Input and output sizes come from the data set."""

    hidden: list[int] = option([64], "widths of the hidden layers; [] is a linear (logistic) model", ge=1)
    activation: Activation = option("relu", "activation after each hidden layer (leaky_relu: slope 0.2)")
    dropout: float | list[float] = option(
        0.0, "dropout after each hidden layer (one value or one per layer)", ge=0, lt=1
    )
    batchnorm: bool = option(False, "BatchNorm1d after each hidden linear layer")
    init: Init = option("default", "weight initialisation (default: PyTorch's)")


@dataclass
class ConvBlock:
    """One block of the cnn: `convs` x (Conv2d, [BatchNorm2d], activation), then optional max-pooling and dropout."""

    channels: int = option(REQUIRED, "output channels of each conv (required)", ge=1)
    kernel: int = option(3, "kernel size", ge=1)
    stride: int = option(1, "stride", ge=1)
    padding: int | None = option(None, "zero padding; null = kernel // 2 ('same' for odd kernels at stride 1)", ge=0)
    convs: int = option(1, "convolutions in the block", ge=1)
    pool: int = option(0, "max-pool kernel and stride after the block; 0 = none", ge=0)
    batchnorm: bool = option(False, "BatchNorm2d after each conv")
    activation: Activation = option("relu", "activation after each conv")
    dropout: float = option(0.0, "channel dropout (Dropout2d) after the block", ge=0, lt=1)


@MODELS.declare("cnn", factory="dlrun.models.cnn:cnn")
@dataclass
class CNN(Model):
    """Convolutional network: conv blocks, then an MLP head. Input channels and size come from the data set."""

    blocks: list[ConvBlock] = option(
        [ConvBlock(channels=32, pool=2), ConvBlock(channels=64, pool=2)],
        "conv blocks, each a mapping of ConvBlock keys (channels, kernel, stride, padding, "
        "convs, pool, batchnorm, activation, dropout)",
    )
    head: list[int] = option([128], "hidden widths of the MLP head after flattening", ge=1)
    head_dropout: float = option(0.0, "dropout after each head layer", ge=0, lt=1)
    global_pool: bool = option(False, "global average pooling before the head (instead of flattening the whole map)")
    init: Init = option("default", "weight initialisation (default: PyTorch's)")


@dataclass
class Recurrent(Model):
    hidden: int = option(64, "hidden units per direction and layer", ge=1)
    layers: int = option(1, "stacked recurrent layers", ge=1)
    bidirectional: bool = option(False, "also read each sequence backwards (the head sees both final states)")
    dropout: float = option(0.0, "between stacked layers and before the head", ge=0, lt=1)
    pooling: Pooling = option(
        "last", "last (final hidden state) | mean (mean of the outputs over real steps) | per_step (tagging)"
    )
    embedding_dim: int = option(32, "width of the word embedding (token input)", ge=1)
    projection: int | None = option(
        None,
        "numeric windows: a linear layer to this width before the recurrent layers; null feeds the values as they are",
        ge=1,
    )


@MODELS.declare("lstm", factory="dlrun.models.recurrent:lstm")
@dataclass
class LSTM(Recurrent):
    """LSTM over token ids (embedding) or numeric windows, then a linear head. Sizes come from the data set."""


@MODELS.declare("gru", factory="dlrun.models.recurrent:gru")
@dataclass
class GRU(Recurrent):
    """GRU over token ids (embedding) or numeric windows, then a linear head. Sizes come from the data set."""


@MODELS.declare("vae_mlp", factory="dlrun.models.vae:vae_mlp", task="vae")
@dataclass
class VaeMLP(Model):
    """The books' MLP VAE (task vae): encoder 784-400 ReLU -> mu, log_var; decoder 20-400 ReLU-784 sigmoid."""

    latent_dim: int = option(20, "size of z (2 gives the manifold grid of `dlrun sample`)", ge=1)
    hidden: list[int] = option([400], "encoder hidden widths; the decoder mirrors them", ge=1)


@MODELS.declare("vae_conv", factory="dlrun.models.vae:vae_conv", task="vae")
@dataclass
class VaeConv(Model):
    """Convolutional VAE (task vae): stride-2 4x4 convs, dense mu and log_var; transposed convs back, sigmoid."""

    latent_dim: int = option(16, "size of z", ge=1)
    channels: list[int] = option(
        [32, 64],
        "channels of the encoder's convs, each halving the image (height and width must divide by 2^len)",
        ge=1,
    )
    hidden: int = option(256, "width of the dense layer between the convs and the latent space", ge=1)


@dataclass
class GanMLPBase(Model):
    latent_dim: int = option(64, "size of z", ge=1)
    generator_hidden: list[int] = option([256, 256], "generator hidden widths", ge=1)
    discriminator_hidden: list[int] = option([256, 256], "discriminator hidden widths", ge=1)
    generator_activation: Activation = option("relu", "activation of the generator's hidden layers")
    discriminator_activation: Activation = option("leaky_relu", "activation of the discriminator's hidden layers")
    discriminator_dropout: float = option(0.0, "dropout after each discriminator hidden layer", ge=0, lt=1)
    conditional: bool = option(False, "embed the class label into both networks (task cgan)")
    embedding_dim: int = option(10, "width of the label embedding (conditional only)", ge=1)


@MODELS.declare("gan_mlp", factory="dlrun.models.gan:gan_mlp", task="gan")
@dataclass
class GanMLP(GanMLPBase):
    """The books' MLP GAN (task gan): G 64-256-256-784 ReLU, tanh out; D 784-256-256-1 LeakyReLU(0.2)."""


@MODELS.declare("cgan_mlp", factory="dlrun.models.gan:cgan_mlp", task="gan")
@dataclass
class CganMLP(GanMLPBase):
    """The books' conditional MLP GAN (task cgan): G 110-256-512-1024-784, D 794-1024-512-256-1, label embedding."""

    latent_dim: int = option(100, "size of z", ge=1)
    generator_hidden: list[int] = option([256, 512, 1024], "generator hidden widths", ge=1)
    discriminator_hidden: list[int] = option([1024, 512, 256], "discriminator hidden widths", ge=1)
    generator_activation: Activation = option("leaky_relu", "activation of the generator's hidden layers")
    discriminator_dropout: float = option(0.4, "dropout after each discriminator hidden layer", ge=0, lt=1)
    conditional: bool = option(
        True, "embed the class label into both networks (task cgan); false makes it a plain GAN (task gan)"
    )


@MODELS.declare("dcgan", factory="dlrun.models.dcgan:dcgan", task="gan")
@dataclass
class DCGAN(Model):
    """DCGAN (task gan, or cgan with conditional: true): transposed convs up, strided convs down; N(0, 0.02) init."""

    latent_dim: int = option(100, "size of z", ge=1)
    generator_width: int = option(
        64, "channels of the generator's last hidden layer (doubling towards the input)", ge=1
    )
    discriminator_width: int = option(64, "channels of the discriminator's first conv (doubling with each stage)", ge=1)
    conditional: bool = option(False, "label embedding beside z (G) and as an extra input channel (D): task cgan")
    embedding_dim: int = option(10, "width of the generator's label embedding (conditional only)", ge=1)


@MODELS.declare(
    "torchvision",
    factory="dlrun.models.torchvision_models:torchvision_model",
    image_input="dlrun.models.torchvision_models:image_input",
)
@dataclass
class Torchvision(Model):
    """A torchvision classification model (transfer learning): pretrained weights, a new head for the data's classes."""

    arch: str = option(
        "resnet18",
        "any classification architecture of torchvision.models (resnet18, mobilenet_v3_small, efficientnet_b0, "
        "convnext_tiny, vit_b_16...)",
    )
    weights: str | None = option(
        "DEFAULT",
        "DEFAULT | a weights name of the arch (IMAGENET1K_V1...) | path to a state-dict file | null (random init); "
        "read from $TORCH_HOME/hub/checkpoints/ when there, else downloaded",
    )
    freeze: Literal["backbone", "none"] = option(
        "none", "backbone: train only the new head; the backbone runs in eval mode (batch-norm statistics kept)"
    )
    unfreeze_at_epoch: int | None = option(
        None, "with freeze=backbone: the backbone trains too from this epoch on; null = frozen throughout", ge=1
    )

    def __post_init__(self):
        if self.unfreeze_at_epoch is not None and self.freeze != "backbone":
            raise ConfigError("model.unfreeze_at_epoch needs model.freeze=backbone")


def image_input(cfg: dict) -> dict | None:
    """What a model needs its images to be (channels, size, normalization), from its `image_input` hook;
    None for models that take the data's images as they are."""
    hook = MODELS.component(cfg["name"]).meta.get("image_input")
    if hook is None:
        return None
    module, _, attr = hook.partition(":")
    values = {k: v for k, v in cfg.items() if k != "name"}
    return getattr(importlib.import_module(module), attr)(**values)


def model_task(name: str) -> str | None:
    """The generative task a model is made for (None for models of any supervised task)."""
    return MODELS.component(name).meta.get("task")
