"""dlrun's Optuna sweeper (`hydra/sweeper=dlrun_optuna`), on current Optuna (4.x and newer).

- The search space is Hydra's override syntax (`hydra.sweeper.params` and the command line): `choice(...)`,
  `range(...)`, `interval(...)`, `tag(log, interval(...))`, `tag(int, interval(...))` (integers); plain values
  are fixed.
- `sampler`: a name (`tpe`, `cmaes`, `random`, `grid`, `gp`, `nsga2`, `qmc`), `{name: tpe, **kwargs}` or a
  `_target_` mapping; seeded with `seed` unless its own arguments set one.
- `pruner`: `median`, `successive_halving`, `hyperband`, ... or `none`, the same three spellings. Jobs report
  their monitored metric every epoch and stop when pruned (`dlrun.optuna_trial`, stored in the study).
- `direction`: one direction, or a list for a multi-objective study; `objectives` names what each direction
  reads from the job's metrics.json (default: the job's return value, its checkpoint monitor).
- The study (`storage`, e.g. SQLite in the sweep directory) is resumable: `n_trials` is the number of
  finished trials the study should reach; trials an interruption left running are marked failed; job
  directories are numbered by trial number; the sampler is seeded with seed + trials so far.
- A failed job is recorded as a failed trial and the search goes on (up to `max_failure_rate`).

Lives in Hydra's `hydra_plugins` namespace because Hydra only discovers sweepers there. Optuna is imported
only when a search runs, so installing dlrun without the `sweep` extra costs nothing.
"""

import logging
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hydra.core.config_store import ConfigStore
from hydra.plugins.sweeper import Sweeper

log = logging.getLogger(__name__)


@dataclass
class DlrunOptunaSweeperConf:
    _target_: str = "hydra_plugins.dlrun_optuna_sweeper.dlrun_optuna_sweeper.DlrunOptunaSweeper"
    sampler: Any = "tpe"
    pruner: Any = "none"
    seed: Any = None
    direction: Any = "minimize"
    objectives: Any = None
    storage: Any = None
    study_name: Any = None
    n_trials: int = 20
    n_jobs: int = 1
    max_failure_rate: float = 1.0
    params: Any = field(default_factory=dict)


ConfigStore.instance().store(group="hydra/sweeper", name="dlrun_optuna", node=DlrunOptunaSweeperConf, provider="dlrun")


def search_space(arguments: list[str]):
    """(distributions, fixed values) from Hydra overrides: sweeps become Optuna distributions."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.core.override_parser.types import Transformer
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    space, fixed = {}, {}
    for override in OverridesParser.create().parse_overrides(arguments):
        name = override.get_key_element()
        if not override.is_sweep_override():
            fixed[name] = override.get_value_element_as_str()
            continue
        value = override.value()
        if override.is_choice_sweep() or (override.is_range_sweep() and value.shuffle):
            space[name] = CategoricalDistribution(list(override.sweep_iterator(transformer=Transformer.encode)))
        elif override.is_range_sweep():
            if any(isinstance(v, float) for v in (value.start, value.stop, value.step)):
                n = int(round((value.stop - value.start) / value.step))  # stop is exclusive, as in Hydra
                high = float(f"{value.start + (n - 1) * value.step:.12g}")
                space[name] = FloatDistribution(value.start, high, step=value.step)
            else:
                step = int(value.step)
                last = int(value.start) + ((int(value.stop) - int(value.start) - 1) // step) * step
                space[name] = IntDistribution(int(value.start), last, step=step)
        elif override.is_interval_sweep():
            log_scale = "log" in value.tags
            if "int" in value.tags or (isinstance(value.start, int) and isinstance(value.end, int)):
                space[name] = IntDistribution(int(value.start), int(value.end), log=log_scale)
            else:
                space[name] = FloatDistribution(float(value.start), float(value.end), log=log_scale)
        else:
            raise ValueError(f"{override.input_line} is not supported by the Optuna sweeper")
    return space, fixed


def grid_choices(distribution) -> list:
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    if isinstance(distribution, CategoricalDistribution):
        return list(distribution.choices)
    if isinstance(distribution, (IntDistribution, FloatDistribution)) and distribution.step and not distribution.log:
        n = int(round((distribution.high - distribution.low) / distribution.step)) + 1
        return [distribution.low + i * distribution.step for i in range(n)]
    raise ValueError("the grid sampler needs choice(...) or range(...) parameters, not interval(...)")


def quoted(value: str) -> str:
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def absolute_storage(storage: str | None) -> str | None:
    """A relative SQLite path made absolute, so that jobs in other directories or processes find it."""
    prefix = "sqlite:///"
    if storage and storage.startswith(prefix) and not storage.startswith(prefix + "/"):
        return prefix + str(Path(storage[len(prefix) :]).resolve())
    return storage


class DlrunOptunaSweeper(Sweeper):
    def __init__(
        self,
        sampler,
        pruner,
        seed,
        direction,
        objectives,
        storage,
        study_name,
        n_trials,
        n_jobs,
        max_failure_rate,
        params,
    ) -> None:
        from omegaconf import OmegaConf

        def plain(value):
            return OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value

        self.sampler_spec, self.pruner_spec = plain(sampler), plain(pruner)
        self.seed = seed
        self.directions = [direction] if isinstance(direction, str) else list(plain(direction))
        self.objectives = plain(objectives)
        if self.objectives is not None and len(self.objectives) != len(self.directions):
            raise ValueError(
                f"hydra.sweeper.objectives has {len(self.objectives)} names for {len(self.directions)} directions"
            )
        if not 0.0 <= max_failure_rate <= 1.0:
            raise ValueError(f"hydra.sweeper.max_failure_rate must be in [0, 1], got {max_failure_rate}")
        self.storage, self.study_name = storage, study_name
        self.n_trials, self.n_jobs, self.max_failure_rate = n_trials, n_jobs, max_failure_rate
        self.params = plain(params) or {}
        self.job_idx = 0

    def setup(self, *, hydra_context, task_function, config) -> None:
        from hydra.core.plugins import Plugins

        self.config, self.hydra_context = config, hydra_context
        self.launcher = Plugins.instance().instantiate_launcher(
            config=config, hydra_context=hydra_context, task_function=task_function
        )
        self.sweep_dir = Path(str(config.hydra.sweep.dir))

    def build_sampler(self, space: dict, offset: int = 0):
        """The sampler; a resumed search (`offset` trials so far) seeds it with seed + offset, so it does not
        propose the random start-up points again and stays reproducible."""
        from dlrun.optuna_trial import SAMPLERS, build, spec

        target = spec(self.sampler_spec or "tpe", SAMPLERS, "sampler")
        if target["_target_"] == SAMPLERS["grid"]:
            target.setdefault("search_space", {name: grid_choices(d) for name, d in space.items()})
        if self.seed is not None and "seed" not in target:
            target["seed"] = int(self.seed)
        if offset and target.get("seed") is not None:
            target["seed"] = (int(target["seed"]) + offset) % (2**31 - 1)
        try:
            return build(target)
        except (ImportError, AttributeError) as exc:
            from dlrun.errors import ConfigError

            raise ConfigError(f"hydra.sweeper.sampler {target['_target_']} is not available here: {exc}") from exc

    def sweep(self, arguments: list[str]) -> None:
        from dlrun.errors import DlrunError

        try:
            self.search(arguments)
        except DlrunError as exc:  # a bad sweeper setting: one line, as dlrun reports bad input
            print(f"dlrun: error: {exc}", file=sys.stderr)
            raise SystemExit(exc.exit_code) from None

    def search(self, arguments: list[str]) -> None:
        import optuna
        from omegaconf import OmegaConf

        from dlrun.optuna_trial import OBJECTIVES_ATTR, PRUNER_ATTR, PRUNERS, build, spec

        self.sweep_dir.mkdir(parents=True, exist_ok=True)
        storage = absolute_storage(self.storage)
        space, fixed = search_space([f"{k}={v}" for k, v in self.params.items()] + list(arguments))
        for name in fixed:
            space.pop(name, None)
        pruner_target = spec(self.pruner_spec or "none", PRUNERS, "pruner")
        if len(self.directions) > 1 and pruner_target["_target_"] != PRUNERS["none"]:
            log.warning("Optuna cannot prune multi-objective trials: hydra.sweeper.pruner is ignored")
            pruner_target = spec("none", PRUNERS, "pruner")
        backend = optuna.storages.get_storage(storage) if storage else optuna.storages.InMemoryStorage()
        known = optuna.create_study(
            study_name=self.study_name, storage=backend, directions=self.directions, load_if_exists=True
        )
        trials = known.get_trials(deepcopy=False)
        for trial in trials:
            if trial.state == optuna.trial.TrialState.RUNNING:  # an interruption left it: never finished
                known.tell(trial.number, state=optuna.trial.TrialState.FAIL)
        finished = sum(t.state != optuna.trial.TrialState.WAITING for t in trials)
        self.job_idx = len(trials)  # job N is trial N
        sampler = self.build_sampler(space, len(trials))
        study = optuna.load_study(
            study_name=known.study_name, storage=backend, sampler=sampler, pruner=build(pruner_target)
        )
        study.set_user_attr(PRUNER_ATTR, pruner_target)
        monitor = OmegaConf.select(self.config, "trainer.checkpoint.monitor", default="objective")
        study.set_user_attr(OBJECTIVES_ATTR, list(self.objectives or [str(monitor)]))
        if trials:
            log.info(
                "study %s already has %d trials; running %d more", study.study_name, finished, self.n_trials - finished
            )
        to_go = self.n_trials - finished
        if isinstance(sampler, optuna.samplers.GridSampler):
            to_go = min(to_go, math.prod(len(grid_choices(d)) for d in space.values()) - finished)
        log.info(
            "study %s in %s: %s sampler, %s pruner, directions %s",
            study.study_name,
            storage,
            type(sampler).__name__,
            pruner_target["_target_"].rsplit(".", 1)[-1],
            self.directions,
        )
        while to_go > 0:
            batch = [study.ask(space) for _ in range(min(to_go, self.n_jobs))]
            overrides = [self.overrides(study, trial, fixed, storage) for trial in batch]
            returns = self.launcher.launch(overrides, initial_job_idx=self.job_idx)
            self.job_idx += len(returns)
            failures = sum(not self.tell(study, trial, ret) for trial, ret in zip(batch, returns, strict=True))
            if failures / len(returns) > self.max_failure_rate:
                log.error("%d of %d jobs failed (max_failure_rate=%s)", failures, len(returns), self.max_failure_rate)
                for ret in returns:
                    _ = ret.return_value  # raises the job's own exception
            to_go -= len(batch)
        self.save_results(study)

    def overrides(self, study, trial, fixed: dict, storage: str | None) -> tuple[str, ...]:
        from dlrun.optuna_trial import job_env

        params = {**trial.params, **fixed}
        link = []
        if storage is not None:  # an in-memory study cannot be reached from the job: no pruning then
            env = job_env(storage, study.study_name, trial.number)
            link = [f"++hydra.job.env_set.{k}={quoted(v)}" for k, v in env.items()]
        return tuple(f"{name}={value}" for name, value in params.items()) + tuple(link)

    def values(self, ret) -> list[float]:
        """The trial's objective values: the job's return value, or the named metrics of its metrics.json."""
        if self.objectives is None:
            value = ret.return_value
            if isinstance(value, (list, tuple)):
                return [float(v) for v in value]
            if value is None:
                raise ValueError("the job returned no value (it failed or has no finite monitored metric)")
            return [float(value)]
        from omegaconf import OmegaConf

        from dlrun.rundir import RunDir

        job_dir = OmegaConf.select(ret.hydra_cfg, "hydra.runtime.output_dir") if ret.hydra_cfg is not None else None
        metrics = RunDir(job_dir).read_metrics() if job_dir else None
        if metrics is None:
            raise ValueError("the job wrote no metrics.json")
        return [objective_value(metrics, name) for name in self.objectives]

    def tell(self, study, trial, ret) -> bool:
        """Record the trial: complete, pruned (the job said so) or failed. False when it failed."""
        import optuna

        from dlrun.optuna_trial import PRUNED_ATTR

        state = optuna.trial.TrialState
        pruned = study.get_trials(deepcopy=False, states=(state.RUNNING,))
        pruned = next((t.user_attrs.get(PRUNED_ATTR) for t in pruned if t.number == trial.number), None)
        if pruned is not None and len(self.directions) == 1:
            record(study, trial, state=state.PRUNED)
            log.info("trial %d pruned at step %s", trial.number, pruned)
            return True
        try:
            from hydra.core.utils import JobStatus

            if ret.status != JobStatus.COMPLETED:
                raise ValueError("the job raised")
            values = self.values(ret)
            if not all(math.isfinite(v) for v in values):
                raise ValueError(f"non-finite objective values {values}")
            record(study, trial, values if len(values) > 1 else values[0])
            return True
        except Exception as exc:  # noqa: BLE001 - a failed job is a failed trial; the search goes on
            record(study, trial, state=state.FAIL)
            log.warning("trial %d failed: %s", trial.number, exc)
            return False

    def save_results(self, study) -> None:
        import optuna
        from omegaconf import OmegaConf

        done = [t for t in study.get_trials(deepcopy=False) if t.state == optuna.trial.TrialState.COMPLETE]
        if not done:
            return
        if len(self.directions) == 1:
            best = study.best_trial
            results = {"name": "optuna", "best_params": best.params, "best_value": best.value}
            log.info("best trial %d: %s, value %s", best.number, best.params, best.value)
        else:
            front = [{"number": t.number, "params": t.params, "values": t.values} for t in study.best_trials]
            results = {"name": "optuna", "solutions": front}
            log.info("Pareto front: %d trials", len(front))
        OmegaConf.save(OmegaConf.create(results), self.sweep_dir / "optimization_results.yaml")


def record(study, trial, values=None, state=None) -> None:
    """study.tell; the grid sampler's `study.stop()` after the last grid point (outside optimize) is harmless:
    the trial is stored before it raises."""
    try:
        study.tell(trial, values, state=state)
    except RuntimeError as exc:
        if "Study.stop" not in str(exc):
            raise


def objective_value(metrics: dict, name: str) -> float:
    """An objective read from a run's metrics.json: a best-epoch metric (`val/accuracy`; for K-fold the mean
    over folds), `test/...`, `wall_time_s` (the whole job), `train_time_s` (its epochs' training time), or
    `parameters` (the model's parameter count)."""
    if name.startswith("test/"):
        value = (metrics.get("test") or {}).get(name[5:])
    elif name == "wall_time_s":
        value = metrics.get("wall_time_s")
    elif name == "train_time_s":  # the epochs' training time, summed
        value = sum(float(r.get("train_time_s", 0.0)) for r in metrics.get("history", []))
    elif name == "parameters":
        value = metrics.get("parameters")
    elif "cv" in metrics:
        value = (metrics["cv"].get("mean") or {}).get(name)
    else:
        epoch = (metrics.get("best") or {}).get("epoch")
        row = next((r for r in metrics.get("history", []) if r.get("epoch") == epoch), {})
        value = row.get(name, (metrics.get("best") or {}).get(name))
    if value is None:
        raise ValueError(f"objective '{name}' is not in the job's metrics.json")
    return float(value)
