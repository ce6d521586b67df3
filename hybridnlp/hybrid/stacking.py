"""Out-of-fold stacking of classical and neural text classifiers."""

from __future__ import annotations

import shutil
import tempfile

import numpy as np
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict

from hybridnlp.features import pipeline_proba, shared_counts
from hybridnlp.hybrid._heldout import _aligned, as_multilabel, fit_meta, held_out_probas
from hybridnlp.hybrid._multilabel_meta import combine as combine_multilabel
from hybridnlp.hybrid._multilabel_meta import fit_multilabel_meta
from hybridnlp.hybrid._text_ensemble import TextEnsemble
from hybridnlp.hybrid.cascade import choose_stage, is_expensive
from hybridnlp.utils.calibration import (
    fit_temperature,
    fit_top_label_beta,
    with_temperature,
    with_top_label_beta,
)
from hybridnlp.utils.class_weight import weighted_by_class
from hybridnlp.utils.multilabel import check_texts_multilabel, is_multilabel
from hybridnlp.utils.validation import (
    check_fitted,
    check_number,
    check_sample_weight,
    check_texts,
    check_texts_labels,
)

__all__ = ["StackingClassifier"]

_IDENTITY = (1.0, 1.0, 0.0)  # top_label_beta_ that maps nothing


class StackingClassifier(TextEnsemble):
    """A meta learner over held-out class probabilities of base learners.

    Each base learner's probabilities for the meta learner come from texts it was not trained
    on (``cv``), then it is refit on all the data for prediction. So a base learner that only
    memorises its training labels brings nothing to the meta learner, and gets no weight.

    Parameters
    ----------
    estimators : list of (name, estimator)
        Classifiers with ``predict_proba`` taking lists of texts (pipelines of our features and a
        linear model, ``TransformerClassifier``, ...).
    final_estimator : classifier, default=LogisticRegression(max_iter=1000)
    cv : int, float, "prefit" or splitter, default=5
        Folds (stratified, shuffled); a float in (0, 1) holds out that fraction once (blending,
        for expensive neural learners); "prefit" uses already fitted learners as they are.
    estimator_cv : dict of name -> cv, optional
        Per-learner ``cv`` overriding ``cv`` (e.g. ``{"transformer": 0.2}``). The meta learner is
        trained on the texts every learner held out.
    passthrough : transformer or None, default=None
        Its output on the texts (e.g. ``TfidfFeatures()``) is appended to the meta features.
    cache : bool, default=True
        Pipelines share a cache of fitted transformers, so identical feature steps (the same
        n-gram vocabulary in two learners) are computed once per fold.
    random_state : int or None
        Seeds the folds.
    n_jobs : int or None, default=None
        Fits (every fold of every component, and the refits) run as joblib jobs in parallel:
        -1 for all cores; ``joblib.parallel_config(backend="dask")`` with a
        ``dask.distributed`` client runs them on a cluster. Torch threads are divided between
        the jobs, so neural components' probabilities equal a serial fit's up to float
        summation order (within 1e-5, tested), the classical ones exactly.
    verbose : int, default=0
        A progress bar (tqdm, on standard error) per component over its held-out fits.
    calibrate : bool, "beta" or "temperature", default=False
        Calibrate the combined probabilities on the meta learner's cross-validated
        predictions of the held-out texts (5 stratified folds), so no text a calibration is
        fit on was seen by what it maps. ``True`` or ``"beta"``: beta calibration of the
        predicted class's confidence (Kull et al. 2017, ``top_label_beta_``; the other
        classes keep their proportions), which bends the reliability curve where one
        temperature cannot; ``"temperature"``: one temperature (Guo et al. 2017,
        ``temperature_``). ``predict`` is unchanged either way. Why beta is the default:
        benchmarks/RESULTS.md "Calibration".
    cascade : float or None, default=None
        Cheap first: the accuracy (a fraction, e.g. 0.002) a user gives up for speed.
        ``predict`` runs a stage of cheap components (n-gram models, fastText) and a meta
        learner fit on their held-out probabilities alone, and calls the others (the
        expensive ones, a Transformer or a pretrained encoder:
        :func:`~hybridnlp.hybrid.cascade.is_expensive`, and the cheap ones left out of the
        stage) only for the texts whose stage confidence is below ``cascade_threshold_``,
        chosen on the held-out texts (both stages' predictions there cross-validated) as the
        fewest escalations whose accuracy lost there, plus one standard error of it
        (:data:`~hybridnlp.hybrid.cascade.CONFIDENCE`), is at most ``cascade``. The stage is the
        cheapest 1, 2, ... cheap components (by their predict seconds per text, measured
        after the fit on up to 256 held-out texts: ``cascade_costs_``) whose expected
        seconds per text, with its escalations, are least (``cascade_stages_``); measured
        times decide it, so two fits may choose differently where two stages cost about the
        same. The texts the stage keeps get its probabilities (not calibrated). None: every
        component runs.
    class_weight : "balanced", dict or None, default=None
        Each text's weight times its class's ("balanced": n_texts / (n_classes x the
        class's count), as scikit-learn's); combined with ``fit``'s ``sample_weight``:
        every component and the meta learner get the product.
    text_column : str or None, default=None
        ``X`` is a pandas DataFrame: the components read its ``text_column``, and its other
        columns (metadata: numbers, standardised, a missing one at the mean; categories,
        one-hot, a missing one a category of its own) join the meta learner's input beside
        the components' probabilities (``table_``), so a user's rating or a channel name
        can shift the decision. The meta learner must take extra columns (the default
        logistic regression does; ``SimplexWeights`` and ``MetaSelection`` combine
        probabilities only).

    Attributes
    ----------
    estimators_ : list of fitted base learners (refit on all data)
    named_estimators_ : dict name -> fitted base learner
    final_estimator_ : fitted meta learner (multi-label: the shared one, a list of one per
        label, or None where one component alone was chosen)
    chosen_, meta_scores_ : str, dict
        Multi-label: the meta level chosen ("shared", "per_label" or a component's name)
        and every candidate's out-of-fold micro F1.
    thresholds_ : ndarray (n_labels,)
        Multi-label: each label's threshold on its combined probability.
    classes_ : ndarray
    n_meta_rows_ : int
        Texts the meta learner was trained on.
    held_out_ : dict name -> ndarray (n_meta_rows_, n_classes)
        Each learner's held-out probabilities on those texts; ``held_out_y_`` their labels.
    shared_components_ : list of str
        Learners reused from an earlier hybrid's fit inside ``share_fits`` (not fit again).
    temperature_ : float
        The temperature the probabilities are divided by (1.0 unless
        ``calibrate="temperature"``).
    top_label_beta_ : tuple (a, b, m)
        ``calibrate=True`` / ``"beta"``: the predicted class's confidence ``c`` becomes
        ``sigmoid(a log c - b log(1 - c) + m)`` (``(1, 1, 0)``, the identity, otherwise).
    table_ : dict or None
        With ``text_column``: the metadata columns' encoding (``numeric`` and ``other``
        column names, a fitted ``StandardScaler`` and ``OneHotEncoder``), fit on the
        training rows.
    cascade_threshold_, cascade_escalated_, cascade_loss_ : float
        With ``cascade``: the cheap stage's confidence below which a text is escalated, and
        the share of held-out texts escalated and the accuracy lost there at it;
        ``cascade_components_`` the cheap stage's components, ``cascade_curve_``
        (thresholds, shares escalated, accuracy lost) every other choice of its threshold.
    cascade_costs_, cascade_stages_ : dict, list of dict
        With ``cascade``: each component's measured predict seconds per text, and each
        candidate stage's ``components``, ``threshold``, ``escalated``, ``loss`` and
        expected ``seconds_per_text``.
    """

    def __init__(self, *, estimators, final_estimator=None, cv=5, estimator_cv=None,
                 passthrough=None, cache=True, random_state=None, n_jobs=None, verbose=0,
                 calibrate=False, cascade=None, class_weight=None, text_column=None):
        self.estimators = estimators
        self.text_column = text_column
        self.final_estimator = final_estimator
        self.cv = cv
        self.estimator_cv = estimator_cv
        self.passthrough = passthrough
        self.cache = cache
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.calibrate = calibrate
        self.cascade = cascade
        self.class_weight = class_weight

    def fit(self, X, y, sample_weight=None):
        """Held-out probabilities of every learner -> meta learner; learners refit on all.
        ``sample_weight`` (one per text) goes to every component's fits and to the meta
        learner's (the temperature and the cascade threshold are fit unweighted). A
        multi-label ``y`` (an indicator matrix or label lists): see ``_fit_multilabel``."""
        self.multilabel_ = is_multilabel(y)
        if self.multilabel_:
            return self._fit_multilabel(X, y, sample_weight)
        texts, table = self._split_input(X)
        texts, y = check_texts_labels(texts, y)
        w = weighted_by_class(check_sample_weight(sample_weight, len(texts)),
                              self.class_weight, np.unique(y), y)
        components = self._components()
        self._check_cascade(components)
        self._check_calibrate()
        seed = self._split_seed()  # one for every component: their held-out rows align
        self.classes_ = np.unique(y)
        cache_dir = tempfile.mkdtemp(prefix="hybridnlp-stack-") if self.cache else None
        try:
            cvs = [self._estimator_cv(len(texts)).get(name, self.cv) for name, _ in components]
            held = held_out_probas(components, texts, y, self.classes_, cvs, seed,
                                   memory=cache_dir, verbose=self.verbose, n_jobs=self.n_jobs,
                                   sample_weight=w)
        finally:
            if cache_dir:
                shutil.rmtree(cache_dir, ignore_errors=True)
        rows = np.logical_and.reduce([h.rows for h in held])
        if rows.sum() < 2 or len(np.unique(y[rows])) < 2:
            raise ValueError("the held-out parts leave too few texts for the meta learner; "
                             "use more folds or a larger holdout fraction.")
        self.estimators_ = [h.fitted for h in held]
        self.named_estimators_ = dict(zip([n for n, _ in components], self.estimators_))
        self.shared_components_ = [n for (n, _), h in zip(components, held) if h.shared]
        row_texts = [t for t, keep in zip(texts, rows) if keep]
        self.passthrough_ = None
        if self.passthrough is not None:
            self.passthrough_ = clone(self.passthrough).fit(texts, y)
        names = [n for n, _ in components]
        self.held_out_ = {n: h.proba[rows] for n, h in zip(names, held)}
        self.held_out_y_ = y[rows]
        final = self.final_estimator or self._default_final_estimator()
        self.table_ = None if table is None else _table_encoder(table, final)
        row_table = None if table is None else table.iloc[np.flatnonzero(rows)]
        meta = self._meta_features([h.proba[rows] for h in held], row_texts, row_table)
        self.final_estimator_ = fit_meta(clone(final), meta, y[rows],
                                         None if w is None else w[rows])
        self.n_meta_rows_ = int(rows.sum())
        self._fit_calibration(final, meta, y[rows], seed)
        self.cascade_threshold_ = None
        if self.cascade is not None:
            self._fit_cascade(final, meta, row_texts, y[rows], seed)
        return self

    def _fit_multilabel(self, X, y, sample_weight):
        """Multi-label: each component learns every label (ours natively, scikit-learn
        classifiers in ``OneVsRestClassifier``: :func:`as_multilabel`) and gives held-out
        per-label probabilities (k-fold or holdout, not stratified); the meta level is
        chosen out of fold among one meta learner shared by every label, one per label, and
        each component alone (:mod:`hybridnlp.hybrid._multilabel_meta`: ``chosen_``,
        ``meta_scores_``), and each label's threshold is tuned on its out-of-fold
        probabilities (``thresholds_``)."""
        for name, value in (("calibrate", self.calibrate), ("cascade", self.cascade),
                            ("passthrough", self.passthrough),
                            ("class_weight", self.class_weight),
                            ("text_column", self.text_column)):
            if value not in (None, False):
                raise ValueError(f"{name}={value!r} is not available with a multi-label y; "
                                 f"leave it at its default.")
        texts, Y, self.classes_ = check_texts_multilabel(X, y)
        w = check_sample_weight(sample_weight, len(texts))
        components = [(n, as_multilabel(est)) for n, est in self._components()]
        seed = self._split_seed()
        cvs = [self._estimator_cv(len(texts)).get(name, self.cv) for name, _ in components]
        held = held_out_probas(components, texts, Y, self.classes_, cvs, seed,
                               verbose=self.verbose, n_jobs=self.n_jobs, sample_weight=w)
        rows = np.logical_and.reduce([h.rows for h in held])
        if rows.sum() < 10:
            raise ValueError("the held-out parts leave too few texts for the meta learners; "
                             "use more folds or a larger holdout fraction.")
        names = [n for n, _ in components]
        self.estimators_ = [h.fitted for h in held]
        self.named_estimators_ = dict(zip(names, self.estimators_))
        self.shared_components_ = [n for n, h in zip(names, held) if h.shared]
        self.held_out_ = {n: h.proba[rows] for n, h in zip(names, held)}
        self.held_out_y_ = Y[rows]
        self.passthrough_, self.temperature_, self.cascade_threshold_ = None, 1.0, None
        self.top_label_beta_ = _IDENTITY
        final = self.final_estimator or self._default_final_estimator()
        blocks = np.stack([h.proba[rows] for h in held], axis=2)  # (n, K, M)
        meta = fit_multilabel_meta(final, blocks, Y[rows], names, seed,
                                   None if w is None else w[rows])
        self.chosen_, self.meta_scores_ = meta["chosen"], meta["scores"]
        self.final_estimator_ = meta["fitted"]  # a list with "per_label"; None: a component
        self.thresholds_ = meta["thresholds"]
        self.n_meta_rows_ = int(rows.sum())
        return self

    def __setstate__(self, state):  # pickled before these existed
        super().__setstate__({"cascade": None, "class_weight": None, "text_column": None,
                              "table_": None, **state})

    def _check_cascade(self, components) -> None:
        if self.cascade is None:
            return
        check_number("cascade", self.cascade, float, low=0, high=1, high_open=True)
        if self.text_column is not None:
            raise ValueError("cascade cannot be combined with text_column (the cheap stage "
                             "reads the texts alone); drop one of them.")
        if self.passthrough is not None:
            raise ValueError("cascade cannot be combined with passthrough (the cheap stage "
                             "would need the passthrough features too); drop one of them.")
        kinds = {is_expensive(est) for _, est in components}
        if kinds != {True, False}:
            which = "expensive" if True in kinds else "cheap"
            raise ValueError(f"cascade needs cheap and expensive components, but every one "
                             f"is {which} ({', '.join(n for n, _ in components)}); "
                             f"set cascade=None.")

    def _fit_cascade(self, final, meta, texts, y, seed: int) -> None:
        """The cheap stage, its meta learner and the threshold (``cascade`` docs;
        :func:`~hybridnlp.hybrid.cascade.choose_stage`)."""
        best, self.cascade_stages_, self.cascade_costs_ = choose_stage(
            self.named_estimators_, lambda names: self._meta_features(
                [self.held_out_[n] for n in names], texts),
            final, meta, y, np.searchsorted(self.classes_, y), self.cascade, seed, texts)
        self.cascade_components_ = best["components"]
        self.cascade_final_ = clone(final).fit(best["meta"], y)
        self.cascade_curve_ = best["curve"]
        self.cascade_threshold_, self.cascade_escalated_, self.cascade_loss_ = (
            best["threshold"], best["escalated"], best["loss"])

    def escalated(self, X) -> np.ndarray:
        """Which texts of ``X`` the cascade sends to the expensive components (bool)."""
        check_fitted(self, "final_estimator_")
        if getattr(self, "cascade_threshold_", None) is None:
            raise ValueError("escalated() needs a cascade; fit with cascade= (e.g. 0.002).")
        return self._cheap_stage(check_texts(X))[1]

    def _cheap_stage(self, texts):
        """(the cheap stage's probabilities, the texts below the threshold, the cheap
        components' probabilities)."""
        with shared_counts():
            cheap = {n: _aligned(self.named_estimators_[n],
                                 pipeline_proba(self.named_estimators_[n], texts), self.classes_)
                     for n in self.cascade_components_}
        proba = self.cascade_final_.predict_proba(self._meta_features(list(cheap.values()),
                                                                      texts))
        return proba, proba.max(axis=1) < self.cascade_threshold_, cheap

    def predict_proba(self, X) -> np.ndarray:
        if getattr(self, "cascade_threshold_", None) is None:
            return super().predict_proba(X)
        texts = check_texts(X)
        proba, low, cheap = self._cheap_stage(texts)
        if low.any():
            rest = [t for t, keep in zip(texts, low, strict=True) if keep]
            with shared_counts():
                parts = {n: cheap[n][low] if n in cheap else _aligned(
                    est, pipeline_proba(est, rest), self.classes_)
                    for n, est in self.named_estimators_.items()}
            proba[low] = self._combine(parts, rest)
        return proba

    def _check_calibrate(self) -> None:
        if self.calibrate not in (False, True, "beta", "temperature") \
                or not isinstance(self.calibrate, bool | str):
            raise ValueError(f"calibrate={self.calibrate!r} must be True, False, 'beta' or "
                             f"'temperature'.")

    def _fit_calibration(self, final, meta, y, seed: int) -> None:
        """``temperature_`` and ``top_label_beta_`` from the meta learner's cross-validated
        predictions on ``meta`` (``calibrate`` docs)."""
        self.temperature_, self.top_label_beta_ = 1.0, _IDENTITY
        if not self.calibrate:
            return
        n_splits = int(min(5, np.bincount(np.searchsorted(self.classes_, y)).min()))
        if n_splits < 2:
            raise ValueError(f"calibrate={self.calibrate!r} needs at least 2 held-out texts "
                             f"of every class; use more folds or a larger holdout fraction.")
        folds = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
        proba = cross_val_predict(clone(final), meta, y, cv=folds, method="predict_proba")
        y_idx = np.searchsorted(self.classes_, y)
        if self.calibrate == "temperature":
            self.temperature_ = fit_temperature(proba, y_idx)
        else:
            self.top_label_beta_ = fit_top_label_beta(proba, y_idx)

    def _default_final_estimator(self):
        return LogisticRegression(max_iter=1000)

    def _meta_features(self, probas: list[np.ndarray], texts: list[str], table=None):
        # Two classes: one column per learner suffices (the other is 1 - p).
        blocks = [p[:, 1:] if p.shape[1] == 2 else p for p in probas]
        meta = np.hstack(blocks)
        if getattr(self, "table_", None) is not None:
            meta = np.hstack([meta, _encode_table(self.table_, table)])
        if self.passthrough_ is not None:
            extra = self.passthrough_.transform(texts)
            return sp.hstack([sp.csr_matrix(meta), sp.csr_matrix(extra)], format="csr")
        return meta


    def _combine(self, probas: dict[str, np.ndarray], texts: list[str],
                 table=None) -> np.ndarray:
        if self._is_multilabel:
            blocks = np.stack(list(probas.values()), axis=2)  # (n, K, M)
            return combine_multilabel(self.chosen_, self.final_estimator_, blocks,
                                      list(probas))
        meta = self._meta_features(list(probas.values()), texts, table)
        proba = with_temperature(self.final_estimator_.predict_proba(meta),
                                 getattr(self, "temperature_", 1.0))
        return with_top_label_beta(proba, getattr(self, "top_label_beta_", _IDENTITY))


def _table_encoder(table, final) -> dict:
    """The metadata columns' encoding for the meta learner, fit on ``table``: numbers
    standardised (a missing value becomes 0, the column's mean), everything else one-hot (a
    missing value is a category of its own, an unseen value all zeros). Plain scikit-learn
    estimators in a dict, which skops saves at every supported version (a ColumnTransformer
    or an imputer keeps private types or numpy dtypes)."""
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    if type(final).__name__ in ("SimplexWeights", "MetaSelection"):
        raise ValueError(f"text_column with metadata columns needs a meta learner that takes "
                         f"extra columns; {type(final).__name__} combines probabilities "
                         f"only. Use the default (logistic regression).")
    numeric = [str(c) for c in table.columns if table[c].dtype.kind in "biuf"]
    other = [str(c) for c in table.columns if str(c) not in numeric]
    return {
        "numeric": numeric, "other": other,
        "scaler": StandardScaler().fit(table[numeric].to_numpy(np.float64)) if numeric
        else None,
        "onehot": OneHotEncoder(handle_unknown="ignore", sparse_output=False).fit(
            table[other].astype(object).to_numpy()) if other else None,
    }


def _encode_table(encoder: dict, table) -> np.ndarray:
    """``table``'s metadata columns as the meta learner reads them (``_table_encoder``)."""
    parts = []
    if encoder["scaler"] is not None:
        numbers = encoder["scaler"].transform(table[encoder["numeric"]].to_numpy(np.float64))
        parts.append(np.nan_to_num(numbers, nan=0.0))
    if encoder["onehot"] is not None:
        parts.append(encoder["onehot"].transform(table[encoder["other"]].astype(object)
                                                 .to_numpy()))
    return np.hstack(parts) if parts else np.zeros((len(table), 0))
