"""Transfer learning with torchvision's classification models (`model=torchvision`).

The architecture comes from torchvision by name, its weights from torch hub's cache
(`$TORCH_HOME/hub/checkpoints/<file>`) or a download, and its classifier head (the last layer that gives the
weights' class scores: resnet's `fc`, mobilenet's and efficientnet's `classifier[-1]`, vit's `heads.head`...)
is replaced by one for the data's classes. `image_input` tells the data what images the weights expect
(3 channels, resize, centre crop, normalization): `dlrun.datasets` applies it to whole batches on the device.
"""

from __future__ import annotations

import logging
import socket
import urllib.parse
from pathlib import Path

import torch
from torch import nn

from dlrun.callbacks.base import Callback
from dlrun.datasets.base import DataInfo
from dlrun.device import distributed
from dlrun.downloads import unreachable
from dlrun.errors import CheckpointError, ConfigError, did_you_mean
from dlrun.models.build import restoring_weights

log = logging.getLogger("dlrun")

DOWNLOAD_TIMEOUT_S = 3.0  # how long the host of the weights may take to answer before the run gives up


def architectures() -> list[str]:
    """Every classification architecture torchvision ships."""
    from torchvision import models

    return models.list_models(module=models)


def check_arch(arch: str) -> None:
    names = architectures()
    if arch not in names:
        raise ConfigError(
            f"model.arch: '{arch}' is not a torchvision classification architecture "
            f"(`torchvision.models.list_models(module=torchvision.models)`).{did_you_mean(arch, names)}"
        )


def weights_enum(arch: str, weights: str | None):
    """The torchvision weights `weights` names (an enum member), a Path to a state-dict file, or None."""
    if weights is None:
        return None
    from torchvision import models

    enum = models.get_model_weights(arch)
    if weights == "DEFAULT":
        return enum.DEFAULT
    if weights in enum.__members__:
        return enum[weights]
    path = Path(weights).expanduser()
    if path.suffix in (".pt", ".pth", ".bin") or "/" in weights or path.exists():
        if not path.is_file():
            raise ConfigError(f"model.weights: no state-dict file {path}")
        return path
    names = [*enum.__members__, "DEFAULT"]
    raise ConfigError(
        f"model.weights: '{weights}' is not a weights name of {arch} ({', '.join(names)}), "
        f"a path to a state-dict file, or null.{did_you_mean(weights, names)}"
    )


def image_input(arch: str, weights: str | None, **_) -> dict:
    """What the model takes: 3 channels; with weights, their resize, centre crop and normalization (a state-dict
    file gets those of the arch's DEFAULT weights). Plain data: it is saved in checkpoints with the data's
    preprocessing, so predict, serve, export and explain prepare images exactly as training did."""
    check_arch(arch)
    chosen = weights_enum(arch, weights)
    needs: dict = {"channels": 3}
    if chosen is None:
        return needs
    if isinstance(chosen, Path):
        from torchvision import models

        chosen = models.get_model_weights(arch).DEFAULT
    t = chosen.transforms()
    needs.update(
        resize=[int(s) for s in t.resize_size],
        crop=[int(s) for s in t.crop_size],
        interpolation=str(getattr(t.interpolation, "value", t.interpolation)),
        mean=[float(m) for m in t.mean],
        std=[float(s) for s in t.std],
        normalize="weights",
    )
    return needs


AUXILIARY = {"inception_v3": ("AuxLogits",), "googlenet": ("aux1", "aux2")}  # training-only extra heads


def _arch_kwargs(arch: str, pretrained: bool, from_enum: bool = False) -> dict:
    """Keyword arguments that keep the network the same whether or not weights are loaded (inception/googlenet:
    no auxiliary heads, removed after loading torchvision's weights; their input transform as with the weights)."""
    if arch not in AUXILIARY:
        return {}
    if from_enum:  # torchvision's builder insists on aux_logits=True and init_weights=False itself
        return {"transform_input": True}
    return {"aux_logits": False, "transform_input": pretrained, "init_weights": not pretrained}


def _without_auxiliary(arch: str, net: nn.Module) -> nn.Module:
    if arch in AUXILIARY:
        net.aux_logits = False
        for name in AUXILIARY[arch]:
            setattr(net, name, None)
    return net


def hub_file(chosen) -> Path:
    """Where torch hub caches (and torchvision looks for) the file of these weights."""
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(urllib.parse.urlparse(chosen.url).path).name


def _pretrained(arch: str, chosen) -> nn.Module:
    """torchvision's model with `chosen` weights: from the hub cache when the file is there, else downloaded;
    offline, one line naming the file, where to put it and its URL."""
    from torchvision import models

    target = hub_file(chosen)
    if not target.is_file():
        reason = unreachable(chosen.url, DOWNLOAD_TIMEOUT_S)
        if reason is None:
            previous = socket.getdefaulttimeout()
            socket.setdefaulttimeout(30)
            try:
                log.info("downloading %s weights %s to %s", arch, chosen, target)
                return _without_auxiliary(
                    arch, models.get_model(arch, weights=chosen, **_arch_kwargs(arch, True, True))
                )
            except Exception as exc:  # noqa: BLE001 - any download failure becomes the same one-line message
                reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            finally:
                socket.setdefaulttimeout(previous)
        raise ConfigError(
            f"weights {chosen} of {arch} not found: place {target.name} in {target.parent}/ "
            f"(download {chosen.url}; it failed: {reason})"
        )
    try:
        return _without_auxiliary(arch, models.get_model(arch, weights=chosen, **_arch_kwargs(arch, True, True)))
    except (RuntimeError, OSError, EOFError) as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"cannot load weights {target}: {detail}") from None


def _from_file(arch: str, path: Path, head: str) -> nn.Module:
    """The arch with the tensors of a state-dict file (its classifier head, if any, is replaced anyway)."""
    from torchvision import models

    net = models.get_model(arch, weights=None, **_arch_kwargs(arch, True))
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - a file torch cannot read safely
        raise CheckpointError(f"cannot read model.weights {path}: {str(exc).strip().splitlines()[0]}") from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    own = net.state_dict()
    skip = (head, *AUXILIARY.get(arch, ()))
    body = {k: v for k, v in state.items() if not k.startswith(tuple(f"{name}." for name in skip))}
    missing = [k for k in own if not k.startswith(head + ".") and k not in body]
    wrong = [k for k, v in body.items() if k in own and tuple(v.shape) != tuple(own[k].shape)]
    extra = [k for k in body if k not in own]
    if missing or wrong or extra:
        what = f"missing {missing[0]}" if missing else f"shape of {wrong[0]}" if wrong else f"unexpected key {extra[0]}"
        raise CheckpointError(f"model.weights {path} does not fit {arch}: {what}")
    net.load_state_dict(body, strict=False)
    return net


def classifier_name(net: nn.Module, classes: int) -> str:
    """The name of the head: the last Linear (or 1x1 conv, squeezenet's) that gives `classes` scores."""
    found = [
        name
        for name, m in net.named_modules()
        if (isinstance(m, nn.Linear) and m.out_features == classes)
        or (isinstance(m, nn.Conv2d) and m.out_channels == classes and m.kernel_size == (1, 1))
    ]
    if not found:
        raise ConfigError(f"model.arch: found no classifier layer with {classes} outputs to replace")
    return found[-1]


class TorchvisionNet(nn.Module):
    """A torchvision network whose head is new; `freeze` keeps the rest (the backbone) fixed, in eval mode."""

    def __init__(self, net: nn.Module, head: str, freeze: str, unfreeze_at_epoch: int | None):
        super().__init__()
        self.net = net
        self.head_name = head
        self.freeze, self.unfreeze_at_epoch = freeze, unfreeze_at_epoch
        self.frozen = False
        self.set_frozen(self.frozen_at(1))

    def forward(self, x):
        return self.net(x)

    def head_parameters(self) -> list[nn.Parameter]:
        return list(self.net.get_submodule(self.head_name).parameters())

    def backbone_parameters(self) -> list[nn.Parameter]:
        head = {id(p) for p in self.head_parameters()}
        return [p for p in self.net.parameters() if id(p) not in head]

    def parameter_groups(self) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
        """(head, backbone): optimizer.backbone_lr_scale gives the backbone its own learning rate."""
        return self.head_parameters(), self.backbone_parameters()

    def frozen_at(self, epoch: int) -> bool:
        return self.freeze == "backbone" and (self.unfreeze_at_epoch is None or epoch < self.unfreeze_at_epoch)

    def set_frozen(self, frozen: bool) -> bool:
        """Freeze or unfreeze the backbone; True when that changed something."""
        if frozen == self.frozen and any(p.requires_grad for p in self.backbone_parameters()) != frozen:
            return False
        self.frozen = frozen
        for p in self.backbone_parameters():
            p.requires_grad_(not frozen)
        self.train(self.training)
        return True

    def train(self, mode: bool = True):
        super().train(mode)
        if mode and self.frozen:  # a frozen backbone's batch-norm statistics (and dropout) stay as loaded
            head = self.net.get_submodule(self.head_name)
            for m in self.net.modules():
                if m is not head:
                    m.training = False
        return self

    def callbacks(self) -> list[Callback]:
        return [Unfreeze()] if self.freeze == "backbone" and self.unfreeze_at_epoch is not None else []


class Unfreeze(Callback):
    """At the start of each epoch, the backbone is frozen or not as `model.unfreeze_at_epoch` says (so a resumed
    run is in the right state); in a multi-process job the network is wrapped again in DistributedDataParallel,
    whose gradient sync covers only the parameters that were trainable when it was wrapped."""

    priority = 0

    def on_epoch_start(self, trainer, epoch: int) -> None:
        task = trainer.task
        net = task.net("model")
        if net.set_frozen(net.frozen_at(epoch)):
            log.info("epoch %d: the backbone is %s", epoch, "frozen" if net.frozen else "trained from now on")
            if distributed.world() > 1:
                task.wrap_ddp()


def torchvision_model(info: DataInfo, arch, weights, freeze, unfreeze_at_epoch) -> nn.Module:
    """A torchvision classifier: pretrained weights (hub cache or download), a new head for the data's classes."""
    if info.kind != "classification" or len(info.input_shape) != 3 or info.per_step:
        raise ConfigError(
            f"model=torchvision classifies images; this data set gives {info.kind} data of shape {info.input_shape}"
        )
    check_arch(arch)
    chosen = weights_enum(arch, weights)
    from torchvision import models

    if chosen is None or restoring_weights():  # a checkpoint's weights replace these at once
        net = models.get_model(arch, weights=None, **_arch_kwargs(arch, chosen is not None))
        classes = 1000
    elif isinstance(chosen, Path):
        net = models.get_model(arch, weights=None, **_arch_kwargs(arch, True))
        classes = 1000
        net = _from_file(arch, chosen, classifier_name(net, classes))
    else:
        net = _pretrained(arch, chosen)
        classes = len(chosen.meta["categories"])
    head = classifier_name(net, classes)
    old = net.get_submodule(head)
    if isinstance(old, nn.Linear):
        new: nn.Module = nn.Linear(old.in_features, info.output_size)
    else:
        new = nn.Conv2d(old.in_channels, info.output_size, kernel_size=1)
    parent, _, leaf = head.rpartition(".")
    setattr(net.get_submodule(parent) if parent else net, leaf, new)
    return TorchvisionNet(net, head, freeze, unfreeze_at_epoch)
