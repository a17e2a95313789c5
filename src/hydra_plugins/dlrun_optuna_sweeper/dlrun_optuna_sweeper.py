"""dlrun's Optuna sweeper (`hydra/sweeper=dlrun_optuna`): Hydra's Optuna sweeper, made resumable.

Differences from the stock `optuna` sweeper, all about continuing an interrupted search whose study is
stored in SQLite inside the sweep directory (see conf/hparams_search/):
- `n_trials` is the number of finished trials the study should reach: running the same command again
  only runs the trials still missing (trials left running by an interruption are marked failed);
- job directories are numbered by Optuna trial number, so a resumed search adds directories instead of
  overwriting the first ones;
- the sweep directory is created before the SQLite file is opened in it;
- a resumed search reseeds the sampler from (seed, trials so far), so it does not propose again the
  random start-up points an earlier invocation tried, and stays reproducible.

Lives in Hydra's `hydra_plugins` namespace because Hydra only instantiates sweepers from there. Optuna
is imported only when a search runs, so installing dlrun without the `sweep` extra costs nothing.
"""

import logging
from dataclasses import dataclass
from pathlib import Path

from hydra.core.config_store import ConfigStore

log = logging.getLogger(__name__)

try:
    from hydra_plugins.hydra_optuna_sweeper.config import OptunaSweeperConf
    from hydra_plugins.hydra_optuna_sweeper.optuna_sweeper import OptunaSweeper
except ImportError:  # the `sweep` extra is not installed: nothing to register
    OptunaSweeper = None


def _resumable_impl():
    import optuna

    from hydra_plugins.hydra_optuna_sweeper._impl import OptunaSweeperImpl

    class ResumableOptunaSweeperImpl(OptunaSweeperImpl):
        def sweep(self, arguments):
            Path(str(self.sweep_dir)).mkdir(parents=True, exist_ok=True)
            if self.storage is not None:
                study = optuna.create_study(
                    study_name=self.study_name,
                    storage=self.storage,
                    directions=self._get_directions(),
                    load_if_exists=True,
                )
                trials = study.get_trials(deepcopy=False)
                for trial in trials:
                    if trial.state == optuna.trial.TrialState.RUNNING:  # interrupted: never finished
                        study.tell(trial.number, state=optuna.trial.TrialState.FAIL)
                finished = sum(t.state != optuna.trial.TrialState.WAITING for t in trials)
                self.job_idx = len(trials)  # job N is trial N
                if trials:  # a fresh sampler with the same seed would re-propose the start-up points tried
                    _reseed(self.sampler, len(trials))
                if trials:
                    log.info(
                        "study %s already has %d trials; running %d more",
                        study.study_name,
                        finished,
                        max(0, self.n_trials - finished),
                    )
                self.n_trials -= finished
                if self.n_trials <= 0:
                    log.info("study %s is complete (%d trials)", study.study_name, finished)
                    return
            super().sweep(arguments)

    return ResumableOptunaSweeperImpl


def _reseed(sampler, offset: int) -> None:
    """Derive the sampler's random state from (its seed, trials so far): resumed runs stay reproducible."""
    import numpy as np

    for part in (sampler, getattr(sampler, "_random_sampler", None)):
        rng = getattr(part, "_rng", None)
        if isinstance(rng, np.random.RandomState):
            part._rng = np.random.RandomState((int(rng.randint(2**31 - 1)) + offset) % (2**31 - 1))


if OptunaSweeper is not None:

    class DlrunOptunaSweeper(OptunaSweeper):
        def __init__(
            self,
            sampler,
            direction,
            storage,
            study_name,
            n_trials,
            n_jobs,
            max_failure_rate,
            search_space,
            custom_search_space,
            params,
        ) -> None:
            self.sweeper = _resumable_impl()(
                sampler,
                direction,
                storage,
                study_name,
                n_trials,
                n_jobs,
                max_failure_rate,
                search_space,
                custom_search_space,
                params,
            )

    @dataclass
    class DlrunOptunaSweeperConf(OptunaSweeperConf):
        _target_: str = "hydra_plugins.dlrun_optuna_sweeper.dlrun_optuna_sweeper.DlrunOptunaSweeper"

    ConfigStore.instance().store(
        group="hydra/sweeper", name="dlrun_optuna", node=DlrunOptunaSweeperConf, provider="dlrun"
    )
