"""Finding, composing and explaining configs (no torch here: `dlrun --help` stays fast).

Config groups live in `conf/`; recipes live in `experiments/` (shipped) and `./experiments/` (the
user's), both reachable as the `experiment` group through a small Hydra config source.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from hydra.core.object_type import ObjectType
from hydra.plugins.config_source import ConfigLoadError, ConfigResult, ConfigSource

from dlrun.errors import ConfigError, did_you_mean

_PACKAGE_DIR = Path(__file__).resolve().parent
_REPO_DIR = _PACKAGE_DIR.parent.parent


def _shipped(name: str) -> Path:
    """`conf/` or `experiments/`: inside the wheel, or at the repository root for a source checkout."""
    inside = _PACKAGE_DIR / name
    return inside if inside.is_dir() else _REPO_DIR / name


def conf_dir() -> Path:
    return _shipped("conf")


def shipped_experiments_dir() -> Path:
    return _shipped("experiments")


def local_experiments_dir() -> Path:
    return Path.cwd() / "experiments"


def experiment_dirs() -> list[Path]:
    """Where `+experiment=NAME` looks, first match wins: the user's folder, then the shipped one."""
    dirs = [local_experiments_dir(), shipped_experiments_dir()]
    unique: list[Path] = []
    for d in dirs:
        if d.resolve() not in [u.resolve() for u in unique]:
            unique.append(d)
    return unique


def list_experiments() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for d in experiment_dirs():
        if d.is_dir():
            for f in sorted(d.glob("*.yaml")):
                found.setdefault(f.stem, f)
    return dict(sorted(found.items()))


def describe_yaml(path: Path) -> str:
    """The first comment line of a YAML file that is not a `@package` header."""
    for line in path.read_text(encoding="utf-8").splitlines():
        text = line.strip()
        if text.startswith("#") and "@package" not in text:
            return text.lstrip("# ").strip()
        if text and not text.startswith("#"):
            break
    return ""


class LocalSource(ConfigSource):
    """Config folders that may not exist, without Hydra's "not available" warnings.

    `dlrun://experiments/local` and `dlrun://experiments/shipped` serve `<dir>/NAME.yaml` as the config
    `experiment/NAME` (./experiments and dlrun's recipes); `dlrun://conf/local` serves ./conf/<group>/NAME.yaml,
    so users add options to any group from their own directory.
    """

    @staticmethod
    def scheme() -> str:
        return "dlrun"

    def _file(self, config_path: str) -> Path | None:
        path = config_path.strip("/")
        path = path if path.endswith(".yaml") else f"{path}.yaml"
        if self.path == "conf/local":
            return Path.cwd() / "conf" / path
        group, _, name = path.partition("/")
        if group != "experiment" or not name or "/" in name:
            return None
        folder = local_experiments_dir() if self.path == "experiments/local" else shipped_experiments_dir()
        return folder / name

    def _group_dir(self, config_path: str) -> Path | None:
        path = config_path.strip("/")
        if self.path == "conf/local":
            return Path.cwd() / "conf" / path
        if path == "experiment":
            return local_experiments_dir() if self.path == "experiments/local" else shipped_experiments_dir()
        return None

    def load_config(self, config_path: str) -> ConfigResult:
        from omegaconf import OmegaConf

        path = self._file(config_path)
        if path is None or not path.is_file():
            raise ConfigLoadError(f"Config not found: {config_path}")
        text = path.read_text(encoding="utf-8")
        return ConfigResult(
            config=OmegaConf.create(OmegaConf.load(path)),
            path=f"{self.scheme()}://{self.path}",
            provider=self.provider,
            header=ConfigSource._get_header_dict(text[:512]),
        )

    def available(self) -> bool:
        return True  # a missing folder simply holds nothing

    def is_group(self, config_path: str) -> bool:
        if config_path.strip("/") == "":
            return True
        folder = self._group_dir(config_path)
        return folder is not None and folder.is_dir()

    def is_config(self, config_path: str) -> bool:
        path = self._file(config_path)
        return path is not None and path.is_file()

    def list(self, config_path: str, results_filter: ObjectType | None) -> list[str]:
        path = config_path.strip("/")
        if path == "" and self.path != "conf/local":
            return ["experiment"] if results_filter in (None, ObjectType.GROUP) else []
        folder = self._group_dir(path) if path else Path.cwd() / "conf"
        if folder is None or not folder.is_dir():
            return []
        found: list[str] = []
        for entry in folder.iterdir():
            self._list_add_result(found, f"{path}/{entry.name}".strip("/"), entry.name, results_filter)
        return sorted(set(found))


def register_sources() -> None:
    from omegaconf import OmegaConf

    from dlrun.packaged_data import packaged_file

    OmegaConf.register_new_resolver("dlrun.data", packaged_file, replace=True)  # ${dlrun.data:auto_mpg}
    from hydra._internal.sources_registry import SourcesRegistry

    SourcesRegistry.instance().register(LocalSource)


register_sources()


def _direction(monitor: str, mode: str) -> str:
    """`${dlrun.direction:MONITOR,MODE}`: Optuna's direction for a checkpoint monitor and its mode."""
    from dlrun.metrics import resolve_mode

    return "maximize" if resolve_mode(mode, monitor, "trainer.checkpoint.mode") == "max" else "minimize"


def register_resolvers() -> None:
    from omegaconf import OmegaConf

    OmegaConf.register_new_resolver("dlrun.direction", _direction, replace=True)


register_resolvers()


# ---------------------------------------------------------------- composition and its errors


def compose(overrides: list[str] | None = None, return_hydra_config: bool = False):
    """Compose the config as `dlrun train` would, turning Hydra's errors into one-line ConfigErrors."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from dlrun.plugins import load_entry_points

    overrides = list(overrides or [])
    load_entry_points()  # installed plugins' components are options of their groups (model=my_net)
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3", job_name="train"):
            try:
                return hydra_compose("config", overrides=overrides, return_hydra_config=return_hydra_config)
            except Exception as exc:  # noqa: BLE001 - every Hydra failure becomes one clear line
                raise explain_compose_error(exc, overrides) from exc
    finally:
        GlobalHydra.instance().clear()


def explain_compose_error(exc: Exception, overrides: list[str]) -> ConfigError:
    text = str(exc)
    missing = re.search(r"Could not find '([^']+)/([^']+)'", text)
    if missing:
        group, name = missing.groups()
        options = re.findall(r"^\t(\S+)$", text, flags=re.M) or group_options(group)
        kind = "experiment" if group == "experiment" else group
        return ConfigError(
            f"unknown {kind} '{name}'. Known: {', '.join(options) or '(none)'}.{did_you_mean(name, options)}"
        )
    bad_key = re.search(r"Could not (?:override|append to|delete from) '([^']+)'", text) or re.search(
        r"Key '([^']+)' is not in struct", text
    )
    if bad_key:
        key = bad_key.group(1)
        from dlrun.groups import unchosen_option_hint

        hint = unchosen_option_hint(key)  # logger.mlflow.KEY without logger=mlflow
        if hint:
            return ConfigError(f"unknown config key '{key}'.{hint}")
        keys = _known_keys([o for o in overrides if _override_key(o) != key])
        return ConfigError(f"unknown config key '{key}'.{did_you_mean(key, keys)}")
    if "OverrideParseException" in type(exc).__name__ or "mismatched input" in text or "no viable" in text:
        return ConfigError(f"cannot parse the override: {text.splitlines()[0]}")
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return ConfigError(f"invalid config: {first}")


def _override_key(override: str) -> str:
    return override.lstrip("+~").split("=", 1)[0].split("@", 1)[0]


def group_options(group: str) -> list[str]:
    """The options of a config group: dlrun's files, ./conf/<group>/ files and installed plugins' options."""
    if group == "experiment":
        return list(list_experiments())
    found = {
        p.stem
        for folder in (conf_dir() / group, Path.cwd() / "conf" / group)
        if folder.is_dir()
        for p in folder.glob("*.yaml")
    }
    from hydra.core.config_store import ConfigStore

    stored = ConfigStore.instance().repo.get(group, {})
    found |= {name.removesuffix(".yaml") for name in stored if isinstance(name, str)}
    return sorted(found)


def group_names() -> list[str]:
    return sorted(p.name for p in conf_dir().iterdir() if p.is_dir() and p.name != "hydra")


def _known_keys(overrides: list[str]) -> list[str]:
    from omegaconf import OmegaConf

    try:
        cfg = compose(overrides)
    except ConfigError:
        try:
            cfg = compose([])
        except ConfigError:
            return group_names()
    return sorted(set(flatten_keys(OmegaConf.to_container(cfg, resolve=False))) | set(group_names()))


def flatten_keys(node: Any, prefix: str = "") -> list[str]:
    keys = []
    if isinstance(node, dict):
        for k, v in node.items():
            path = f"{prefix}{k}"
            keys.append(path)
            keys.extend(flatten_keys(v, path + "."))
    return keys


def is_multirun(args: list[str]) -> bool:
    return any(a in ("-m", "--multirun") for a in args)


def hydra_only(args: list[str]) -> bool:
    """Arguments that ask Hydra for information rather than a run (--cfg, --info, --help...)."""
    flags = {"--cfg", "-c", "--info", "-i", "--help", "-h", "--hydra-help", "--shell-completion", "-sc"}
    return any(a.split("=", 1)[0] in flags for a in args)


def overrides_of(args: list[str]) -> list[str]:
    """The `key=value` overrides among Hydra's command-line arguments."""
    out, skip = [], False
    for a in args:
        if skip:
            skip = False
            continue
        if a in (
            "--config-name",
            "-cn",
            "--config-path",
            "-cp",
            "--config-dir",
            "-cd",
            "--package",
            "-p",
            "--experimental-rerun",
            "--cfg",
            "-c",
            "--info",
            "-i",
            "--shell-completion",
            "-sc",
        ):
            skip = a not in ("--shell-completion", "-sc")
            continue
        if a.startswith("-"):
            continue
        out.append(a)
    return out


def env_flag(name: str) -> bool:
    return os.environ.get(name, "") not in ("", "0", "false", "False")
