"""One schema per config group: the YAML files, the factories' signatures and the docs cannot drift from it."""

from dataclasses import fields

import pytest

from dlrun import conf_files
from dlrun.config import compose, group_options, list_experiments
from dlrun.errors import DataError
from dlrun.groups import REGISTRIES, SCHEMAS
from dlrun.reference import config_markdown
from dlrun.registry import factory_parameters
from dlrun.validate import resolve, validate

# what the engine passes to each group's factories before the config's keys
INJECTED = {
    "dataset": [],
    "model": ["info"],
    "task": ["cfg", "info"],
    "optimizer": ["params"],
    "scheduler": ["optimizer", "max_epochs"],
}


def test_the_yaml_files_are_the_ones_the_schemas_write(capsys):
    assert conf_files.main(["--check"]) == 0, capsys.readouterr().out


@pytest.mark.parametrize("group", sorted(REGISTRIES))
def test_every_factory_takes_exactly_its_schemas_keys_without_defaults_of_its_own(group):
    registry = REGISTRIES[group]
    for name in registry.names():
        component = registry.component(name)
        if component.factory is None:  # task=auto: chosen from the data
            continue
        params = factory_parameters(registry.get(name))
        names = [p.name for p in params]
        assert names[: len(INJECTED[group])] == INJECTED[group], f"{group}={name}: {names}"
        keys = {f.name for f in fields(component.schema)} - set(registry.engine_keys)
        assert set(names[len(INJECTED[group]) :]) == keys, f"{group}={name}"
        defaulted = [p.name for p in params if p.default is not p.empty]
        assert not defaulted, f"{group}={name}: defaults belong in the schema, not the signature: {defaulted}"


@pytest.mark.parametrize("group", sorted(REGISTRIES))
def test_every_option_of_a_component_group_composes_and_passes_its_schema(group):
    registry = REGISTRIES[group]
    assert group_options(group) == registry.names()  # one YAML file per registered component, no other
    for name in registry.names():
        values = resolve(compose([f"{group}={name}"]))[group]
        assert values.pop("name") == name
        if registry.schema(name) is not None:
            registry.check(name, values, group)


@pytest.mark.parametrize("group", sorted(SCHEMAS))
def test_every_preset_of_a_schema_group_validates(group):
    options = group_options(group)
    assert SCHEMAS[group][1] in options
    for option in options:
        checked = validate(compose([f"{group}={option}"]))
        assert checked is not None


@pytest.mark.parametrize("recipe", sorted(list_experiments()))
def test_every_recipe_composes_and_validates(recipe):
    cfg = compose([f"+experiment={recipe}"])
    try:
        validate(cfg)
    except DataError as exc:  # a recipe whose data cannot be downloaded here (IMDB): the file it needs is named
        assert str(cfg.dataset.path) in str(exc) and "\n" not in str(exc), exc


def test_the_config_reference_lists_every_option_and_key():
    text = config_markdown()
    for group, registry in REGISTRIES.items():
        for name in registry.names():
            assert f"### `{group}={name}`" in text
    assert "| `max_epochs` | `int, >= 1` | `30` | epochs to train (early stopping may end sooner) |" in text
    assert "| `type` | `auto\\|cpu\\|cuda\\|mps` | `auto` |" in text  # a | inside a cell is escaped
