"""Model names a config can use, and how their parameters are checked and set.

Each name maps to a factory of a default estimator; a config's ``params`` are checked against
that estimator's ``get_params(deep=True)`` keys (so ``features__ngram_range`` reaches a
pipeline step) and set with ``set_params``. A parameter value may itself be a model spec,
``{type: nbsvm, params: {...}}`` (or a list of them), for the members of a stacking or
ensemble and the parts of an interpolated LM. ``{pretrained: word2vec}`` stands for what the
config's ``pretrain`` section trains (the path of the word vectors), e.g.
``HybridClassifier(word_vectors=...)``.
"""

from __future__ import annotations

import difflib

from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from hybridnlp.exceptions import ConfigError

__all__ = ["MODELS", "PARTS", "build_model", "check_params"]


def _tfidf_lr():
    from hybridnlp.features import TfidfFeatures

    return Pipeline([("features", TfidfFeatures()),
                     ("clf", LogisticRegression(C=10, max_iter=1000))])


def _nbsvm():
    from hybridnlp.estimators import NBSVMClassifier
    from hybridnlp.features import NBFeatures

    # features__... and clf__... as in the tfidf_lr pipeline; one binary model per class
    return NBSVMClassifier(features=NBFeatures(), clf=LogisticRegression(max_iter=1000))


def _transformer():
    from hybridnlp.estimators import TransformerClassifier

    return TransformerClassifier()


def _fasttext():
    from hybridnlp.estimators import FastTextClassifier

    return FastTextClassifier()


def _fusion():
    from hybridnlp.hybrid import FusionClassifier

    return FusionClassifier()


def _stacking():
    from hybridnlp.hybrid import StackingClassifier

    return StackingClassifier(estimators=[("nbsvm", _nbsvm()), ("tfidf_lr", _tfidf_lr())])


def _ensemble():
    from hybridnlp.hybrid import WeightedEnsemble

    return WeightedEnsemble(estimators=[("nbsvm", _nbsvm()), ("tfidf_lr", _tfidf_lr())])


def _hybrid_ensemble():
    """Soft voting (or gating) over the HybridClassifier's own components, the Transformer's
    held-out predictions from a 20% holdout as in the hybrid: its alternative to stacking."""
    from hybridnlp.hybrid import HybridEnsemble

    return HybridEnsemble()


def _hybrid():
    from hybridnlp.hybrid import HybridClassifier

    return HybridClassifier()


def _ridge():
    """Ridge regression on TF-IDF word + char n-grams: ``HybridRegressor``'s first component."""
    from sklearn.linear_model import Ridge

    from hybridnlp.features import TfidfFeatures
    from hybridnlp.hybrid.regression import RIDGE_ALPHA

    return Pipeline([("features", TfidfFeatures(analyzer="both")),
                     ("reg", Ridge(alpha=RIDGE_ALPHA))])


def _fasttext_regressor():
    from hybridnlp.estimators import FastTextRegressor

    return FastTextRegressor()


def _transformer_regressor():
    from hybridnlp.estimators import TransformerRegressor

    return TransformerRegressor()


def _hybrid_regressor():
    from hybridnlp.hybrid import HybridRegressor

    return HybridRegressor()


def _logistic_regression():
    """A meta learner, for ``final_estimator`` of ``stacking`` and ``hybrid``."""
    return LogisticRegression(max_iter=1000)


def _meta_selection():
    from hybridnlp.hybrid import MetaSelection

    return MetaSelection()


def _simplex_weights():
    """A meta learner, for ``final_estimator`` of ``stacking`` and ``hybrid``."""
    from hybridnlp.hybrid import SimplexWeights

    return SimplexWeights()


def _causal_lm():
    from hybridnlp.lm import CausalLM

    return CausalLM()


def _ngram_lm():
    from hybridnlp.lm import NGramLM

    return NGramLM()


def _interpolated_lm():
    from hybridnlp.lm import CausalLM, InterpolatedLM, NGramLM

    return InterpolatedLM(neural=CausalLM(), ngram=NGramLM())


def _seq2seq_lm():
    from hybridnlp.seq2seq import Seq2SeqLM

    return Seq2SeqLM()


def _shallow_fusion():
    """A Seq2SeqLM with a target-side 4-gram LM in its beam search, weight chosen on dev BLEU."""
    from hybridnlp.lm import NGramLM
    from hybridnlp.seq2seq import Seq2SeqLM, ShallowFusion

    return ShallowFusion(translator=Seq2SeqLM(), lm=NGramLM(order=4))


def _qa(name):
    """A question-answering part by class name (retrievers, readers, the pipeline)."""
    def make():
        import hybridnlp.qa

        return getattr(hybridnlp.qa, name)()
    make.__doc__ = f"hybridnlp.qa.{name}()"
    return make


def _topics():
    from hybridnlp.features import TopicFeatures

    return TopicFeatures()


MODELS = {
    "tfidf_lr": _tfidf_lr, "nbsvm": _nbsvm, "fasttext": _fasttext, "transformer": _transformer,
    "fusion": _fusion,
    "stacking": _stacking, "ensemble": _ensemble, "hybrid_ensemble": _hybrid_ensemble,
    "hybrid": _hybrid,
    "ridge": _ridge, "fasttext_regressor": _fasttext_regressor,
    "transformer_regressor": _transformer_regressor, "hybrid_regressor": _hybrid_regressor,
    "causal_lm": _causal_lm, "ngram_lm": _ngram_lm, "interpolated_lm": _interpolated_lm,
    "seq2seq_lm": _seq2seq_lm, "shallow_fusion": _shallow_fusion,
    "qa_pipeline": _qa("QAPipeline"), "bm25": _qa("BM25Retriever"),
    "tfidf_retriever": _qa("TfidfRetriever"), "dense_retriever": _qa("DenseRetriever"),
    "hybrid_retriever": _qa("HybridRetriever"),
    "sliding_window_reader": _qa("SlidingWindowReader"),
    "logistic_reader": _qa("LogisticReader"), "extractive_reader": _qa("ExtractiveReader"),
    "hybrid_reader": _qa("HybridReader"),
    "topics": _topics,
    "logistic_regression": _logistic_regression, "simplex_weights": _simplex_weights,
    "meta_selection": _meta_selection,
}
# The types that are parts of another model, never a config's model of their own (the tasks
# name the types they run: hybridnlp.experiments.task.Task.model_types).
PARTS = {**{k: "qa_part" for k in ("bm25", "tfidf_retriever", "dense_retriever",
                                   "hybrid_retriever", "sliding_window_reader",
                                   "logistic_reader", "extractive_reader", "hybrid_reader")},
         "logistic_regression": "meta_learner", "simplex_weights": "meta_learner",
         "meta_selection": "meta_learner"}


def _is_spec(value) -> bool:
    return isinstance(value, dict) and "type" in value and set(value) <= {"type", "params",
                                                                         "name"}


def _value(value, default, path: str, pretrained: dict | None, seed: int | None):
    if _is_spec(value):
        return build_model(value["type"], value.get("params", {}), path, pretrained, seed=seed)
    if isinstance(value, list) and value and all(_is_spec(v) for v in value):
        return [(v.get("name") or v["type"], build_model(v["type"], v.get("params", {}),
                                                          f"{path}[{i}]", pretrained,
                                                          seed=seed))
                for i, v in enumerate(value)]
    if isinstance(value, dict) and set(value) == {"pretrained"}:
        name = value["pretrained"]
        if name not in (pretrained or {}):
            have = ", ".join(pretrained or {}) or "none"
            raise ConfigError(f"{path}: {{pretrained: {name}}} names nothing the config "
                              f"pretrains (pretrain sections: {have}); add pretrain.{name}.")
        return pretrained[name]
    if isinstance(default, tuple) and isinstance(value, list):
        return tuple(value)  # YAML has no tuples: ngram_range: [1, 2]
    return value


def build_model(type_: str, params: dict, path: str = "model", pretrained: dict | None = None,
                *, seed: int | None = None):
    """A fresh estimator of registered type ``type_`` with ``params`` set; ``pretrained``
    maps the names of the config's pretraining sections to their outputs. ``seed`` (the
    config's) becomes the ``random_state`` of the model and of the models given inside it,
    where their params do not set one."""
    if type_ not in MODELS:
        close = difflib.get_close_matches(type_, MODELS, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"{path}.type: unknown model {type_!r}.{hint} Registered: "
                          f"{', '.join(MODELS)}.")
    model = MODELS[type_]()
    if not isinstance(params, dict):
        raise ConfigError(f"{path}.params: expected a mapping, got {type(params).__name__}.")
    valid = model.get_params(deep=True)
    resolved = {}
    for key, value in params.items():
        where = f"{path}.params.{key}"
        module_field = key.startswith("module__") and (
            key[len("module__"):] in getattr(model, "_module_fields", ()))
        renamed = key in getattr(model, "_renamed", {})  # warns, for one release
        if key not in valid and not module_field and not renamed:
            nested = sorted(k for k in valid if k.endswith(f"__{key}"))
            close = nested or difflib.get_close_matches(key, valid, n=1, cutoff=0.6)
            hint = f" Did you mean {' or '.join(map(repr, close))}?" if close else ""
            raise ConfigError(f"{where}: {type(model).__name__} has no parameter "
                              f"{key!r}.{hint}")
        resolved[key] = _value(value, valid.get(key), where, pretrained, seed)
    if seed is not None and "random_state" in valid and "random_state" not in params:
        resolved["random_state"] = seed
    try:
        model.set_params(**resolved)
        check_params(model)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{path}.params: {err}") from None
    return model


def check_params(model) -> None:
    """Check the settings of ``model`` and every estimator inside it (pipeline steps, a
    stacking's members, an interpolation's parts) as their ``fit`` would, without data: our
    estimators' ``_check_params``, scikit-learn's parameter constraints."""
    from sklearn.base import BaseEstimator

    if hasattr(model, "_check_params"):
        model._check_params()
    elif hasattr(model, "_parameter_constraints"):  # scikit-learn's own constraints
        model._validate_params()
    for value in model.get_params(deep=False).values():
        members = value if isinstance(value, list) else [value]
        for member in members:
            if isinstance(member, tuple) and len(member) == 2:
                member = member[1]  # (name, estimator) pairs
            if isinstance(member, BaseEstimator):
                check_params(member)
