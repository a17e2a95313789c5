"""`dlrun inspect dataset=csv dataset.path=FILE dataset.target=COLUMN`: the inferred schema of a table and
its class balance, read as a run would read it, without training."""

from __future__ import annotations

from dlrun.errors import ConfigError


def inspect_dataset(cfg) -> str:
    """The schema table (and the class balance of a classification target) as text."""
    from omegaconf import OmegaConf

    from dlrun.datasets.csv_table import CsvTable
    from dlrun.datasets.table_schema import render_balance, render_schema

    dataset = OmegaConf.to_container(cfg.dataset, resolve=True)
    if dataset.get("name") != "csv":
        raise ConfigError(f"dlrun inspect reads tables (dataset=csv); got dataset={dataset.get('name')}")
    table = CsvTable(**{k: v for k, v in dataset.items() if k in CsvTable.__dataclass_fields__})
    raw = table.load()
    out = [f"{table.path}: {len(raw.y)} rows, target '{table.target}' ({raw.kind})", render_schema(table.schema)]
    if raw.kind == "classification":
        out += ["", "class balance:", render_balance(list(raw.class_names), raw.y)]
    return "\n".join(out)
