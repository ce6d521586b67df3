"""Hyper-parameter search from a config: a model's ``search:`` section runs Optuna over its
(dunder) parameters by cross-validation on the texts it is fit on, prunes trials that fall
behind after their first folds, records every trial, and refits the best.

In a cross-validated run the search runs inside each outer fold (nested cross-validation:
the scores a run reports never come from texts the search chose on); with a test split it
runs once, on the training split. A search's trials are journalled in the run directory, so
a resumed run keeps the trials that finished and runs only the rest.
"""

from __future__ import annotations

import numbers
import time

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.metrics import get_scorer
from sklearn.model_selection import StratifiedKFold

from hybridnlp.utils.validation import check_fitted, check_texts_labels, text_input_tags

__all__ = ["SCORERS", "OptunaSearch", "check_space", "journalled", "render_search"]

SCORERS = {"accuracy": "accuracy", "macro_f1": "f1_macro", "log_loss": "neg_log_loss"}
_KINDS = ("low", "high", "log", "step", "choices")


def check_space(space: dict, params: dict, where: str) -> None:
    """Raise ValueError naming the first bad entry of a search space: each name a parameter
    of the model (``params``: its ``get_params(deep=True)``), each value ``{low, high}``
    (numbers; ``log: true`` for a log scale, ``step`` for a grid) or ``{choices: [...]}``."""
    import difflib

    if not space:
        raise ValueError(f"{where}.params: the search space is empty; name at least one "
                         f"parameter, e.g. clf__C: {{low: 0.01, high: 100, log: true}}.")
    for name, spec in space.items():
        at = f"{where}.params.{name}"
        if name not in params:
            close = difflib.get_close_matches(name, list(params), n=1, cutoff=0.6)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ValueError(f"{at}: the model has no parameter {name!r}.{hint}")
        if not isinstance(spec, dict) or set(spec) - set(_KINDS):
            raise ValueError(f"{at}: expected {{low: A, high: B}} (with log: true or step: S)"
                             f" or {{choices: [...]}}, got {spec!r}.")
        if "choices" in spec:
            if set(spec) != {"choices"} or not isinstance(spec["choices"], list) or \
                    not spec["choices"]:
                raise ValueError(f"{at}: choices must be a non-empty list, alone; got "
                                 f"{spec!r}.")
            continue
        low, high = spec.get("low"), spec.get("high")
        if not all(isinstance(v, numbers.Real) and not isinstance(v, bool)
                   for v in (low, high)) or not low < high:
            raise ValueError(f"{at}: low and high must be numbers with low < high, got "
                             f"low={low!r}, high={high!r}.")
        if spec.get("log") and low <= 0:
            raise ValueError(f"{at}: a log scale needs low > 0, got low={low!r}.")
        if spec.get("log") and spec.get("step") is not None:
            raise ValueError(f"{at}: give log or step, not both.")


def _suggest(trial, name: str, spec: dict):
    if "choices" in spec:
        return trial.suggest_categorical(name, spec["choices"])
    low, high, step = spec["low"], spec["high"], spec.get("step")
    if all(isinstance(v, numbers.Integral) for v in (low, high, step or 1)):
        return trial.suggest_int(name, low, high, step=step or 1, log=bool(spec.get("log")))
    return trial.suggest_float(name, low, high, step=step, log=bool(spec.get("log")))


class OptunaSearch(ClassifierMixin, BaseEstimator):
    """Cross-validated hyper-parameter search with Optuna's TPE sampler and median pruning.

    Parameters
    ----------
    estimator : classifier
    space : dict
        Parameter name -> ``{"low": A, "high": B}`` (``"log": True``, ``"step": S``) or
        ``{"choices": [...]}`` (``check_space``).
    n_trials : int or None, default=20
        Trials in all (a resumed search counts those its journal holds).
    timeout : float or None, default=None
        Seconds for the trials of this fit.
    cv : int, default=3
        Stratified folds of each trial.
    scoring : {"accuracy", "macro_f1", "log_loss"}, default="accuracy"
    pruning : bool, default=True
        Stop a trial whose mean score after a fold is below the median of the earlier
        trials' at that fold (Optuna's ``MedianPruner``, after 3 complete trials).
    random_state : int or None, default=None
        Seeds the sampler and the folds.
    storage : path, optional
        A journal file of the trials (the run directory's); an existing one is continued.

    Attributes
    ----------
    best_params_, best_score_, best_estimator_, classes_, trials_ (one dict per trial:
    number, state, value, params, seconds, folds)
    """

    def __init__(self, *, estimator, space, n_trials=20, timeout=None, cv=3,
                 scoring="accuracy", pruning=True, random_state=None, storage=None):
        self.estimator = estimator
        self.space = space
        self.n_trials = n_trials
        self.timeout = timeout
        self.cv = cv
        self.scoring = scoring
        self.pruning = pruning
        self.random_state = random_state
        self.storage = storage

    def _study(self):
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        storage = None
        if self.storage is not None:
            from optuna.storages import JournalStorage
            from optuna.storages.journal import JournalFileBackend

            storage = JournalStorage(JournalFileBackend(str(self.storage)))
        pruner = (optuna.pruners.MedianPruner(n_startup_trials=3) if self.pruning
                  else optuna.pruners.NopPruner())
        return optuna.create_study(study_name="search", storage=storage, load_if_exists=True,
                                   direction="maximize", pruner=pruner)

    def fit(self, X, y, sample_weight=None):
        """Run the trials on ``X, y``, then refit the best parameters on all of it."""
        import optuna

        if self.scoring not in SCORERS:
            raise ValueError(f"scoring={self.scoring!r} must be one of {', '.join(SCORERS)}.")
        if self.n_trials is None and self.timeout is None:
            raise ValueError("give n_trials, timeout or both (a search needs a budget).")
        check_space(self.space, self.estimator.get_params(deep=True), "search")
        texts, y = check_texts_labels(X, y)
        texts = np.asarray(texts, dtype=object)
        scorer = get_scorer(SCORERS[self.scoring])
        seed = self.random_state if isinstance(self.random_state, numbers.Integral) else 0
        folds = list(StratifiedKFold(self.cv, shuffle=True, random_state=seed).split(texts, y))
        fit_params = {} if sample_weight is None else {"sample_weight": sample_weight}

        def objective(trial):
            params = {name: _suggest(trial, name, spec) for name, spec in self.space.items()}
            scores = []
            for step, (train, test) in enumerate(folds):
                model = clone(self.estimator).set_params(**params)
                weights = {k: np.asarray(v)[train] for k, v in fit_params.items()}
                model.fit(list(texts[train]), y[train], **weights)
                scores.append(float(scorer(model, list(texts[test]), y[test])))
                trial.set_user_attr("folds", scores)
                trial.report(float(np.mean(scores)), step)
                if trial.should_prune():
                    raise optuna.TrialPruned()
            return float(np.mean(scores))

        study = self._study()
        self._optimize(study, objective, seed)
        complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
        if not complete:
            raise ValueError("the search finished no trial (every one was pruned or failed); "
                             "give more trials or time, or turn pruning off.")
        self.best_params_ = dict(study.best_params)
        self.best_score_ = float(study.best_value)
        self.trials_ = [{"number": t.number, "state": t.state.name.lower(),
                         "value": t.value, "params": dict(t.params),
                         "seconds": (t.datetime_complete - t.datetime_start).total_seconds()
                         if t.datetime_complete and t.datetime_start else None,
                         "folds": list(t.user_attrs.get("folds", []))}
                        for t in study.trials]
        self.best_estimator_ = clone(self.estimator).set_params(**self.best_params_)
        self.best_estimator_.fit(list(texts), y, **fit_params)
        self.classes_ = self.best_estimator_.classes_
        return self

    def _optimize(self, study, objective, seed: int) -> None:
        """Trials until ``n_trials`` have finished (those in the journal count) or
        ``timeout`` passes. Each trial's sampler is seeded by the number of trials finished
        before it, so a resumed search draws what an uninterrupted one would have (a trial
        cut short by the interruption is marked failed and drawn again)."""
        import optuna

        State = optuna.trial.TrialState
        for stale in (t for t in study.trials if t.state == State.RUNNING):
            study.tell(stale.number, state=State.FAIL)  # an interrupted run's last trial
        deadline = None if self.timeout is None else time.monotonic() + self.timeout

        def finished() -> int:
            return sum(t.state in (State.COMPLETE, State.PRUNED) for t in study.trials)

        while self.n_trials is None or finished() < self.n_trials:
            if deadline is not None and time.monotonic() >= deadline:
                break
            study.sampler = optuna.samplers.TPESampler(seed=seed * 100_003 + finished())
            trial = study.ask()
            try:
                study.tell(trial, objective(trial))
            except optuna.TrialPruned:
                study.tell(trial, state=State.PRUNED)
            except BaseException:
                study.tell(trial, state=State.FAIL)
                raise

    def predict(self, X):
        check_fitted(self, "best_estimator_")
        return self.best_estimator_.predict(X)

    def predict_proba(self, X):
        check_fitted(self, "best_estimator_")
        return self.best_estimator_.predict_proba(X)

    def explain(self, X, **kwargs):
        check_fitted(self, "best_estimator_")
        from hybridnlp.hybrid.explain import explain

        return explain(self.best_estimator_, X, **kwargs)

    def __sklearn_tags__(self):
        return text_input_tags(super().__sklearn_tags__())


def journalled(estimator, run_dir, name: str, fold: int):
    """A search of the run's model ``name`` in outer fold ``fold``, journalled in
    ``run_dir/search/`` (a resumed run continues it); any other estimator as it is."""
    if not isinstance(estimator, OptunaSearch):
        return estimator
    from hybridnlp.utils.paths import inside

    folder = inside(run_dir, "search")
    folder.mkdir(exist_ok=True)
    return clone(estimator).set_params(storage=str(inside(folder, f"{name}-fold{fold}.log")))


def render_search(m: dict) -> list[str]:
    """Report lines: per searched model, each fold's chosen parameters and cross-validated
    score, and every trial of the last fold's search."""
    lines = []
    for model, folds in (m.get("search") or {}).items():
        lines += [f"## Search: {model}", "",
                  f"Optuna (TPE, median pruning) by cross-validation on each fit's training "
                  f"texts; the best parameters were refit. {len(folds)} search(es): "
                  + "; ".join(f"fold {f['fold']}: {_params(f['best_params'])} "
                              f"(cv {f['best_score']:.4f})" for f in folds) + ".", "",
                  f"Trials of the last search (fold {folds[-1]['fold']}):", "",
                  "| trial | state | score | parameters | seconds |", "|---:|---|---:|---|---:|"]
        for t in folds[-1]["trials"]:
            value = "-" if t["value"] is None else f"{t['value']:.4f}"
            seconds = "-" if t["seconds"] is None else f"{t['seconds']:.1f}"
            lines.append(f"| {t['number']} | {t['state']} | {value} | {_params(t['params'])} "
                         f"| {seconds} |")
        lines.append("")
    return lines


def _params(params: dict) -> str:
    return ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                     for k, v in params.items())
