"""``--mode tpe``: a model-based search with a trial budget, through Optuna's TPE sampler (the
optional ``search`` extra: ``pip install 'perfanalyzer[search]'``), as Model Analyzer's optuna
mode.

Every valid candidate of the space (the same list ``--mode full`` measures) is described by its
coordinates, one categorical parameter per dimension (per model and dimension for an ensemble, a
BLS model or several models); the sampler proposes coordinates, a proposal that is not a valid
combination is told as failed, one already measured is told its score again without being
measured, and the search ends after ``trials`` measured candidates (the default, measured first,
is one of them) or when the space is exhausted. An infeasible candidate (no point met the limits)
is told as failed: TPE learns from scored trials only. The sampler's seed is fixed, so the same
measurements lead to the same proposals.

Drive it like :class:`~.space.QuickSearch`: :meth:`TpeSearch.next`, :meth:`TpeSearch.record`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..errors import OptionError
from .composite import SERVER_DIMENSIONS, CompositeCandidate
from .space import DIMENSIONS, Candidate

INSTALL_HINT = "pip install 'perfanalyzer[search]' (or pip install optuna)"
SEED = 0
#: Proposals in a row that bring no new candidate before the space counts as exhausted.
MAX_IDLE_ASKS = 200


def require_optuna() -> None:
    """Raise OptionError (one line) when Optuna is not installed."""
    try:
        import optuna  # noqa: F401  (optional: the search extra)
    except ImportError:
        raise OptionError(f"--mode tpe needs Optuna, which is not installed: "
                          f"{INSTALL_HINT}") from None


def coordinates(c: Candidate) -> dict[str, str]:
    """The candidate as one categorical value per dimension (text: Optuna's categorical choices
    are plain values, and preferred batch sizes are tuples)."""
    if isinstance(c, CompositeCandidate):
        out = {f"{m}.{d}": repr(getattr(p, d)) for m, p in c.parts for d in SERVER_DIMENSIONS}
        out["client_batch"] = repr(c.client_batch)
        return out
    return {d: repr(getattr(c, d)) for d in DIMENSIONS}


class TpeSearch:
    """TPE over the candidates ``space`` (the default first), ``trials`` measured at most."""

    def __init__(self, space: Sequence[Candidate], default: Candidate, trials: int) -> None:
        require_optuna()
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.optuna = optuna
        self.default, self.trials = default, trials
        self.by_coords = {self._id(coordinates(c)): c for c in space}
        choices: dict[str, list[str]] = {}
        for c in space:
            for name, value in coordinates(c).items():
                if value not in choices.setdefault(name, []):
                    choices[name].append(value)
        self.distributions: dict[str, Any] = {n: optuna.distributions.CategoricalDistribution(v)
                              for n, v in choices.items()}
        self.study = optuna.create_study(direction="maximize",
                                         sampler=optuna.samplers.TPESampler(seed=SEED))
        self.scores: dict[str, float | None] = {}
        self.best: Candidate = default
        self._open: dict[str, Any] = {}  # candidate key -> the trial that proposed it

    def _id(self, coords: dict[str, str]) -> tuple[tuple[str, str], ...]:
        return tuple(sorted(coords.items()))

    def record(self, candidate: Candidate, score: float | None) -> None:
        self.scores[candidate.key] = score
        best = self.scores.get(self.best.key)
        if score is not None and (best is None or score > best):
            self.best = candidate
        trial = self._open.pop(candidate.key, None)
        if trial is not None:
            self._tell(trial, score)
        elif self._id(coordinates(candidate)) in self.by_coords:  # measured before (resumed)
            params = coordinates(candidate)
            state = self.optuna.trial.TrialState
            self.study.add_trial(self.optuna.trial.create_trial(
                params=params, distributions=self.distributions,
                value=score, state=state.COMPLETE if score is not None else state.FAIL))

    def _tell(self, trial: Any, score: float | None) -> None:
        if score is None:
            self.study.tell(trial, state=self.optuna.trial.TrialState.FAIL)
        else:
            self.study.tell(trial, score)

    def next(self) -> Candidate | None:
        if self.default.key not in self.scores:
            return self.default
        if len(self.scores) >= min(self.trials, len(self.by_coords)):
            return None
        for _ in range(MAX_IDLE_ASKS):
            trial = self.study.ask(self.distributions)
            c = self.by_coords.get(self._id(dict(trial.params)))
            if c is None:  # not a valid combination
                self.study.tell(trial, state=self.optuna.trial.TrialState.FAIL)
            elif c.key in self.scores:  # measured already: its score again, no new measurement
                self._tell(trial, self.scores[c.key])
            else:
                self._open[c.key] = trial
                return c
        return None
