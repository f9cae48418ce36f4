"""Known-good first trials: each architecture's portfolio runs before the tuner explores.

AutoKeras starts its greedy tuner from ``initial_hps`` and Auto-sklearn 2.0 from a
portfolio of configurations that did well on other data sets: on a short budget
the first trials decide the result, so they should be the settings the
literature found to work, not random draws. Each ``Architecture.portfolio(spec)``
names a few; the search takes the first entry of every architecture, then the
second, and so on, before its tuner proposes anything.

This is an oracle mixin, so it serves every tuner the same way (random, Bayesian,
Hyperband, grid; in the chief as in a single process): it takes the place of the
oracle's random proposals (Hyperband gives an entry the epochs of its bracket),
and the grid then walks its whole grid from its first point, as without a
portfolio (so a portfolio entry that lies on the grid comes again in its turn). An entry already tried,
found among the oracle's trials by its values, is skipped: a resumed search never
repeats one. Bayesian optimisation counts the portfolio among its initial points.
"""

from __future__ import annotations

from keras_tuner.src.engine import hyperparameters as hp_module
from keras_tuner.src.engine import trial as trial_module

from .hypermodel import ARCHITECTURE_HP


def entries(architectures, spec) -> list[dict]:
    """The portfolio of the chosen architectures as joint-space values, interleaved."""
    per_architecture = [
        [{ARCHITECTURE_HP: arch.name, **{f"{arch.name}/{key}": value for key, value in entry.items()}}
         for entry in (arch.portfolio(spec) or [])]
        for arch in architectures
    ]
    longest = max((len(entries) for entries in per_architecture), default=0)
    return [entries[i] for i in range(longest) for entries in per_architecture if i < len(entries)]


class PortfolioOracle:
    """Mixin for a KerasTuner oracle: untried portfolio entries first, then the oracle's own proposals."""

    portfolio: list[dict] = []

    def _next_entry(self) -> dict | None:
        for entry in self.portfolio:
            if not any(_matches(trial.hyperparameters.values, entry) for trial in self.trials.values()):
                return self._complete(entry)
        return None

    def _complete(self, entry: dict) -> dict:
        """``entry`` with every other active hyperparameter at its default, as KerasTuner fills values."""
        hps = hp_module.HyperParameters()
        for hp in self.hyperparameters.space:
            hps.merge([hp])
            if hps.is_active(hp):
                hps.values[hp.name] = entry.get(hp.name, hp.default)
        return {**entry, **hps.values}

    def _random_values(self):
        # the one proposal step that random search, Bayesian optimisation's initial
        # points and Hyperband's new brackets share
        entry = self._next_entry()
        return entry if entry is not None else super()._random_values()

    def _is_portfolio_trial(self, trial) -> bool:
        return any(_matches(trial.hyperparameters.values, entry) for entry in self.portfolio)


class PortfolioGridOracle(PortfolioOracle):
    """The grid starts from its first combination once the portfolio is done, as if nothing ran before."""

    def populate_space(self, trial_id):
        entry = self._next_entry()
        if entry is not None:
            return {"status": trial_module.TrialStatus.RUNNING, "values": entry}
        if self._populate_next or not all(map(self._is_portfolio_trial, self.trials.values())):
            return super().populate_space(trial_id)
        started, self.start_order = self.start_order, []  # the grid's "first trial" test
        try:
            return super().populate_space(trial_id)
        finally:
            self.start_order = started

    def end_trial(self, trial):
        super().end_trial(trial)
        if self._is_portfolio_trial(trial):  # not a point of the grid's ordered walk
            self._populate_next = [i for i in self._populate_next if i != trial.trial_id]


def _matches(values: dict, entry: dict) -> bool:
    return all(values.get(name) == value for name, value in entry.items())


def install(oracle, portfolio: list[dict]) -> None:
    """Give ``oracle`` (built by its tuner) the portfolio behaviour, in place."""
    if not portfolio:
        return
    from keras_tuner.src.tuners.gridsearch import GridSearchOracle

    mixin = PortfolioGridOracle if isinstance(oracle, GridSearchOracle) else PortfolioOracle
    oracle.__class__ = type(f"Portfolio{type(oracle).__name__}", (mixin, type(oracle)), {})
    oracle.portfolio = portfolio
