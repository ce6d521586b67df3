"""A config's ``search:`` (Optuna, issue 32 item 6) against scikit-learn's GridSearchCV over
the same budget -> benchmarks/RESULTS.md "Search against GridSearchCV".

NBSVM word + char n-grams on MR, 5-fold stratified outer cross-validation (seed 0); inside
each outer fold both searches choose ``clf__C`` and ``features__alpha`` by 3-fold CV on the
fold's training texts with 12 candidates each: ``OptunaSearch`` (TPE, median pruning after
the first inner folds, the space of ``experiments/mr_search.yaml``) and ``GridSearchCV`` on a
4 x 3 grid over the same ranges (log-spaced). Then each refits its best on the outer fold's
training texts and is scored on its test texts. The hand-set model (C=0.3, alpha=1) is the
anchor.

Run alone: ``.venv/bin/python benchmarks/search.py`` (about 15 minutes on 2 cores).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _report import stamp, write_section  # noqa: E402

from hybridnlp import load_dataset  # noqa: E402
from hybridnlp.experiments.registry import build_model  # noqa: E402
from hybridnlp.experiments.search import OptunaSearch  # noqa: E402

SPACE = {"clf__C": {"low": 0.01, "high": 10.0, "log": True},
         "features__alpha": {"low": 0.25, "high": 2.0, "log": True}}
GRID = {"clf__C": [0.01, 0.1, 1.0, 10.0], "features__alpha": [0.25, 0.71, 2.0]}
TRIALS = 12


def nbsvm(**params):
    return build_model("nbsvm", {"features__analyzer": "both", **params})


def main() -> None:
    from sklearn.base import clone
    from sklearn.model_selection import GridSearchCV, StratifiedKFold

    mr = load_dataset("mr")
    texts, y = mr.data, np.asarray(mr.target)
    inner = StratifiedKFold(3, shuffle=True, random_state=0)
    models = {
        "hand-set (C=0.3, alpha=1)": lambda: nbsvm(clf__C=0.3),
        f"OptunaSearch, {TRIALS} trials (TPE, median pruning)": lambda: OptunaSearch(
            estimator=nbsvm(), space=SPACE, n_trials=TRIALS, cv=3, pruning=True,
            scoring="accuracy", random_state=0),
        f"GridSearchCV, {len(GRID['clf__C'])} x {len(GRID['features__alpha'])} grid":
            lambda: GridSearchCV(nbsvm(), GRID, cv=inner, scoring="accuracy"),
    }
    scores = {name: [] for name in models}
    times = dict.fromkeys(models, 0.0)
    chosen = {name: [] for name in models}
    pruned = 0
    for train, test in StratifiedKFold(5, shuffle=True, random_state=0).split(texts, y):
        tr, te = [texts[i] for i in train], [texts[i] for i in test]
        for name, make in models.items():
            model = clone(make())
            start = time.perf_counter()
            model.fit(tr, y[train])
            times[name] += time.perf_counter() - start
            scores[name].append(float(np.mean(model.predict(te) == y[test])))
            if hasattr(model, "best_params_"):
                chosen[name].append({k: round(float(v), 3) for k, v in
                                     model.best_params_.items()})
            pruned += sum(t.get("state") == "pruned" for t in getattr(model, "trials_", []))
            print(name, scores[name][-1], f"{times[name]:.0f} s", flush=True)
    rows = ["| model | accuracy (5-fold) | ± (folds) | fit time, 5 folds (s) |",
            "|---|---|---|---|"]
    for name in models:
        rows.append(f"| {name} | {np.mean(scores[name]):.4f} | {np.std(scores[name]):.4f} | "
                    f"{times[name]:.0f} |")
    notes = [f"{name} chose, per outer fold: {chosen[name]}." for name in models
             if chosen[name]]
    write_section("search-gridsearchcv", "\n".join([
        "## Search against GridSearchCV (issue 32, item 6)", "",
        stamp("python benchmarks/search.py"), "",
        f"NBSVM word + char n-grams on MR ({len(texts):,} sentences), 5-fold stratified outer "
        f"CV (seed 0); each search picks `clf__C` in [0.01, 10] and `features__alpha` in "
        f"[0.25, 2] by 3-fold CV on the outer fold's training texts with {TRIALS} candidates, "
        f"then refits the best. Optuna pruned {pruned} of {5 * TRIALS} trials after their "
        f"first inner fold(s).", "", *rows, "", *notes, ""]))


if __name__ == "__main__":
    main()
