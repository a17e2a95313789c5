"""The data files shipped inside the package: recipes find them by name (`${dlrun.data:NAME}`), they are
really inside the installed package folder, a bad name is one line, and a user's own path still wins."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

import dlrun
from conftest import assert_one_line_error
from dlrun import packaged_data
from dlrun.config import compose, conf_dir, shipped_experiments_dir
from dlrun.errors import ConfigError, DataError, raised_by_resolver
from dlrun.packaged_data import PACKAGED_FILES, packaged_file

PACKAGE_DIR = Path(dlrun.__file__).resolve().parent / "datasets" / "packaged"

# every shipped config that reads a packaged file, and the name it reads
READERS = [
    (["+experiment=auto_mpg"], "auto_mpg"),
    (["+experiment=boston_housing_mlp"], "boston_housing"),
    (["+experiment=boston_housing_mlp_64_64"], "boston_housing"),
    (["+experiment=boston_housing_kfold"], "boston_housing"),
    (["dataset=boston_housing"], "boston_housing"),
    (["+experiment=sms_spam_mlp"], "sms_spam"),
    (["+experiment=sms_spam_lstm"], "sms_spam"),
    (["+experiment=temperature_lstm"], "daily_min_temperatures"),
]

UNKNOWN = (
    "unknown packaged data set 'auto_mgp'. Known: auto_mpg (auto-mpg.data), boston_housing (BostonHousing.csv), "
    "daily_min_temperatures (daily-min-temperatures.csv), sms_spam (SMSSpamCollection). Did you mean 'auto_mpg'?"
)


def test_every_packaged_file_is_inside_the_installed_package():
    files = {name: Path(packaged_file(name)) for name in PACKAGED_FILES}
    for name, path in files.items():
        assert path.is_file() and path.stat().st_size > 0, name
        assert path.parent.parent == PACKAGE_DIR and path.parent.name == name
    shipped = {p for p in PACKAGE_DIR.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    assert shipped == set(files.values()) | {PACKAGE_DIR / "README.md"}  # nothing unlisted, nothing missing
    assert sum(p.stat().st_size for p in shipped) < 1_000_000
    notes = (PACKAGE_DIR / "README.md").read_text(encoding="utf-8")
    for name, path in files.items():
        assert f"`{name}`" in notes and path.name in notes  # each set's source and terms of use are written down


def test_shipped_configs_name_only_known_packaged_files():
    texts = [
        p.read_text(encoding="utf-8")
        for folder in (conf_dir(), shipped_experiments_dir())
        for p in folder.rglob("*.yaml")
    ]
    values = [line.split(" #", 1)[0] for text in texts for line in text.splitlines()]  # not the comments
    named = {m for value in values for m in re.findall(r"\$\{dlrun\.data:([^}]*)\}", value)}
    assert named == set(PACKAGED_FILES)


@pytest.mark.parametrize("overrides,name", READERS, ids=[" ".join(o) for o, _ in READERS])
def test_recipes_compose_to_the_packaged_files(overrides, name):
    path = compose(overrides).dataset.path
    assert path == packaged_file(name) and Path(path).is_file() and Path(path).is_relative_to(PACKAGE_DIR)


def test_a_users_own_path_is_kept():
    assert compose(["+experiment=auto_mpg", "dataset.path=my.csv"]).dataset.path == "my.csv"
    assert compose(["dataset=boston_housing", "dataset.path=/home/me/boston.csv"]).dataset.path == "/home/me/boston.csv"


def test_an_unknown_name_is_one_config_error_line():
    with pytest.raises(ConfigError) as raised:
        packaged_file("auto_mgp")
    assert str(raised.value) == UNKNOWN


def test_the_resolvers_error_is_found_inside_omegaconfs_wrapper():
    from omegaconf import OmegaConf

    cfg = compose(["+experiment=auto_mpg", "dataset.path=${dlrun.data:auto_mgp}"])
    with pytest.raises(Exception) as raised:
        OmegaConf.to_container(cfg.dataset, resolve=True)
    assert "full_key: dataset.path" in str(raised.value)  # OmegaConf's wrapper: several lines
    found = raised_by_resolver(raised.value)
    assert isinstance(found, ConfigError) and str(found) == UNKNOWN
    assert raised_by_resolver(ValueError("not a resolver's")) is None


def test_an_unknown_name_on_the_command_line_is_one_line_and_exit_2(cli, tmp_path):
    result = cli("train", "+experiment=auto_mpg", "dataset.path=${dlrun.data:auto_mgp}", "device.threads=1")
    assert assert_one_line_error(result, UNKNOWN, tmp_path) == f"dlrun: error: {UNKNOWN}"


def test_a_missing_packaged_file_is_one_data_error_line(monkeypatch, tmp_path):
    monkeypatch.setattr(packaged_data, "PACKAGED_DIR", tmp_path)
    with pytest.raises(
        DataError,
        match=r"^packaged data file missing: .*SMSSpamCollection \(reinstall dlrun, or set "
        r"dataset.path to your copy\)$",
    ):
        packaged_file("sms_spam")


def test_resolving_a_packaged_name_imports_neither_torch_nor_pandas():
    code = (
        "import sys; from dlrun.packaged_data import packaged_file; packaged_file('auto_mpg'); "
        "print(sorted({'torch', 'pandas', 'numpy'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
