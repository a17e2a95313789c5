"""The link between an Optuna sweep and its jobs: how a job finds its trial, and what the sweeper reads back.

The sweeper (`hydra/sweeper=dlrun_optuna`, src/hydra_plugins/dlrun_optuna_sweeper/) sets three environment
variables in each job through `hydra.job.env_set` (so they reach jobs of every launcher: basic, joblib,
submitit): the study's storage URL, the study's name and the trial number. A job that finds them opens its
trial with Optuna's storage API, reports its monitored metric every epoch, and stops when the study's pruner
says so (`dlrun.callbacks.optuna_pruning`). The pruner itself is stored in the study's user attributes, so
a job builds the same pruner as the sweeper. Optuna is imported only when a job has a trial.
"""

from __future__ import annotations

import os
from typing import Any

STORAGE_ENV = "DLRUN_OPTUNA_STORAGE"
STUDY_ENV = "DLRUN_OPTUNA_STUDY"
TRIAL_ENV = "DLRUN_OPTUNA_TRIAL"
PRUNER_ATTR = "dlrun_pruner"  # study user attribute: the pruner spec ({"_target_": ..., **kwargs} or None)
OBJECTIVES_ATTR = "dlrun_objectives"  # study user attribute: the metric name of each direction
PRUNED_ATTR = "dlrun_pruned_epoch"  # trial user attribute: the last epoch (or fold) of a pruned job

PRUNERS = {
    "median": "optuna.pruners.MedianPruner",
    "successive_halving": "optuna.pruners.SuccessiveHalvingPruner",
    "hyperband": "optuna.pruners.HyperbandPruner",
    "percentile": "optuna.pruners.PercentilePruner",
    "threshold": "optuna.pruners.ThresholdPruner",
    "patient": "optuna.pruners.PatientPruner",
    "wilcoxon": "optuna.pruners.WilcoxonPruner",
    "none": "optuna.pruners.NopPruner",
}
SAMPLERS = {
    "tpe": "optuna.samplers.TPESampler",
    "cmaes": "optuna.samplers.CmaEsSampler",
    "random": "optuna.samplers.RandomSampler",
    "grid": "optuna.samplers.GridSampler",
    "gp": "optuna.samplers.GPSampler",
    "nsga2": "optuna.samplers.NSGAIISampler",
    "qmc": "optuna.samplers.QMCSampler",
}


def job_env(storage: str, study_name: str, number: int) -> dict[str, str]:
    return {STORAGE_ENV: storage, STUDY_ENV: study_name, TRIAL_ENV: str(number)}


def in_trial() -> bool:
    """Whether this process runs a job of an Optuna sweep."""
    return bool(os.environ.get(STORAGE_ENV)) and bool(os.environ.get(TRIAL_ENV))


def spec(value: Any, names: dict[str, str], what: str) -> dict | None:
    """A sampler or pruner setting as a `_target_` mapping: a name, {name: ..., **kwargs} or {_target_: ...}."""
    if value is None:
        return None
    if isinstance(value, str):
        value = {"name": value}
    value = dict(value)
    if "_target_" in value:
        return value
    name = str(value.pop("name", ""))
    if name not in names:
        from dlrun.errors import ConfigError

        raise ConfigError(f"hydra.sweeper.{what} must be one of {', '.join(names)} or a _target_ mapping, got '{name}'")
    return {"_target_": names[name], **value}


def build(target_spec: dict | None):
    """The object a `_target_` mapping names (None stays None)."""
    if target_spec is None:
        return None
    import importlib

    kwargs = dict(target_spec)
    module, _, attr = str(kwargs.pop("_target_")).rpartition(".")
    return getattr(importlib.import_module(module), attr)(**kwargs)


def open_trial():
    """(study, trial) of this job, from the environment the sweeper set; None outside an Optuna sweep."""
    if not in_trial():
        return None
    import optuna

    storage = optuna.storages.get_storage(os.environ[STORAGE_ENV])
    name = os.environ.get(STUDY_ENV) or None
    probe = optuna.load_study(study_name=name, storage=storage)
    pruner = build(probe.user_attrs.get(PRUNER_ATTR)) or optuna.pruners.NopPruner()
    study = optuna.load_study(study_name=probe.study_name, storage=storage, pruner=pruner)
    study_id = storage.get_study_id_from_name(study.study_name)
    trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, int(os.environ[TRIAL_ENV]))
    return study, optuna.trial.Trial(study, trial_id)


class TrialReporter:
    """Reports values of one job's trial and asks the pruner; single-objective studies only (Optuna's rule)."""

    def __init__(self, study, trial):
        self.study, self.trial = study, trial
        self.enabled = len(study.directions) == 1
        self.pruned_at: int | None = None

    @classmethod
    def from_env(cls) -> TrialReporter | None:
        opened = open_trial()
        return cls(*opened) if opened is not None else None

    def report(self, value: float, step: int) -> bool:
        """Report `value` at `step`; True when the trial should stop (it is then marked for the sweeper)."""
        if not self.enabled:
            return False
        import math

        if not math.isfinite(value):
            return False
        self.trial.report(float(value), step)
        if self.trial.should_prune():
            self.pruned_at = step
            self.trial.set_user_attr(PRUNED_ATTR, step)
            return True
        return False
