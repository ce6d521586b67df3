"""The one neural-estimator base (hybridnlp.neural): one parameter vocabulary,
every default visible, old names working for one release, the Trainer behind all of them."""

import re
import warnings

import numpy as np
import pytest
from sklearn.base import clone

from hybridnlp import (
    CausalLM,
    FastTextClassifier,
    FusionClassifier,
    Seq2SeqLM,
    TransformerClassifier,
)
from hybridnlp.neural import NeuralEstimator
from hybridnlp.train import Callback

SHARED = {"max_epochs", "max_steps", "max_time", "batch_size", "validation_fraction",
          "patience", "device", "precision", "checkpoint_dir", "callbacks", "random_state",
          "verbose", "optimizer__lr", "optimizer__weight_decay", "optimizer__betas",
          "optimizer__eps", "trainer__warmup", "trainer__min_lr_ratio", "trainer__schedule",
          "trainer__grad_clip", "trainer__grad_accum", "trainer__monitor", "trainer__compile",
          "trainer__optimizer"}
NEURAL = [TransformerClassifier, FastTextClassifier, CausalLM, FusionClassifier, Seq2SeqLM]
TEXTS = ["a good film", "a bad film", "good acting", "bad acting", "truly good", "truly bad",
         "good good", "bad bad"] * 4
LABELS = ["pos", "neg"] * 16


@pytest.mark.parametrize("cls", NEURAL)
def test_every_shared_parameter_and_its_default_is_in_get_params(cls):
    params = cls().get_params()
    assert SHARED <= set(params), SHARED - set(params)
    assert issubclass(cls, NeuralEstimator)
    assert repr(cls()) == f"{cls.__name__}()"  # defaults are not shown as changes


def test_each_estimator_states_its_own_defaults():
    tc, ft, lm = TransformerClassifier(), FastTextClassifier(), CausalLM()
    assert (tc.optimizer__lr, tc.trainer__monitor, tc.patience) == (None, "val_accuracy", 3)
    assert tc._lr() == 1e-3 and tc.set_params(pretrained="DIR")._lr() == 5e-5  # "auto"
    assert (ft.optimizer__lr, ft.trainer__schedule, ft.trainer__warmup) == (0.01, "linear", 0)
    assert (lm.optimizer__betas, lm.trainer__warmup, lm.max_steps) == ((0.9, 0.99), 100, "auto")
    assert (lm.optimizer__lr, lm.trainer__min_lr_ratio, lm.trainer__optimizer) == (
        7e-3, 0.0, "muon")
    assert tc.trainer__optimizer == ft.trainer__optimizer == "adamw"
    assert FusionClassifier().max_epochs == 20  # a subclass of a subclass keeps them


@pytest.mark.parametrize("old, new, value", [
    ("lr", "optimizer__lr", 0.05), ("epochs", "max_epochs", 3),
])
def test_fasttext_old_names_warn_and_fit_the_same_model(old, new, value):
    with pytest.warns(FutureWarning, match=re.escape(
            f"FastTextClassifier({old}=...) is deprecated and will be removed in the next "
            f"release; use {new}=... instead.")):
        old_style = FastTextClassifier(dim=8, random_state=0, **{old: value})
    assert getattr(old_style, new) == value and old not in old_style.get_params()
    new_style = FastTextClassifier(dim=8, random_state=0, **{new: value})
    np.testing.assert_array_equal(old_style.fit(TEXTS, LABELS).predict_proba(TEXTS),
                                  new_style.fit(TEXTS, LABELS).predict_proba(TEXTS))
    with pytest.warns(FutureWarning, match=f"use {new}="):
        clone(new_style).set_params(**{old: value})


@pytest.mark.parametrize("old, new, value", [
    ("model", "preset", "gpt-nano"), ("lr", "optimizer__lr", 0.02),
    ("validation", "validation_fraction", 0.2), ("dropout", "module__dropout", 0.1),
    ("bpe_vocab_size", "vocab_size", 300), ("warmup", "trainer__warmup", 5),
    ("trainer__betas", "optimizer__betas", (0.9, 0.95)),
    ("trainer__checkpoint_dir", "checkpoint_dir", "ckpt"), ("trainer__progress", "verbose", 1),
])
def test_causal_lm_old_names_warn_naming_the_new_one(old, new, value):
    with pytest.warns(FutureWarning, match=re.escape(f"use {new}=... instead.")):
        lm = CausalLM(**{old: value})
    assert lm.get_params()[new] == value
    assert clone(lm).get_params()[new] == value


def test_causal_lm_positional_arguments_warn_and_still_work():
    with pytest.warns(FutureWarning, match=re.escape(
            "CausalLM(preset, tokenizer) as positional arguments is deprecated")):
        lm = CausalLM("gpt-nano", "word")
    assert (lm.preset, lm.tokenizer) == ("gpt-nano", "word")
    with pytest.raises(TypeError, match="CausalLM got 'preset' both positionally and as a "
                                        "keyword"):
        CausalLM("gpt-nano", preset="quick")


def test_new_names_raise_no_warning_and_unknown_ones_are_named():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clone(CausalLM(preset="gpt-nano", optimizer__lr=1e-3, module__dropout=0.0))
        clone(TransformerClassifier(optimizer__lr=1e-3, module__n_layer=2))
    with pytest.raises(TypeError, match="TransformerClassifier got an unexpected keyword "
                                        "argument 'lr'. Did you mean optimizer__lr\\?"):
        TransformerClassifier(lr=1e-3)
    with pytest.raises(ValueError, match="trainer__warmpu is not a parameter of CausalLM. Did "
                                         "you mean trainer__warmup\\?"):
        CausalLM(trainer__warmpu=10)


def test_a_causal_lm_without_any_budget_is_refused_before_training():
    with pytest.raises(ValueError, match="CausalLM has no training budget: max_steps, "
                                         "max_time and max_epochs are all None"):
        CausalLM(preset="gpt-nano", max_steps=None).fit("to be or not to be " * 20)


def test_causal_lm_max_epochs_counts_passes_over_the_training_tokens():
    text = "to be or not to be " * 40  # 760 characters + <eos>
    lm = CausalLM(preset="gpt-nano", max_epochs=1, validation_fraction=0, batch_size=4,
                  block_size=16, eval_interval=5, random_state=0).fit(text)
    assert lm.history_[-1]["step"] == int(np.ceil(761 / (4 * 16)))


class _StopAfter(Callback):
    def __init__(self, epochs):
        self.epochs = epochs

    def on_epoch_end(self, trainer, model, row):
        if row["epoch"] == self.epochs:
            raise KeyboardInterrupt


def test_fasttext_trains_through_the_trainer_early_stopping_and_resume(tmp_path):
    clf = FastTextClassifier(dim=8, max_epochs=30, validation_fraction=0.25, patience=2,
                             trainer__monitor="val_accuracy", random_state=0).fit(TEXTS, LABELS)
    assert "val_accuracy" in clf.history_[0] and len(clf.history_) < 30
    params = dict(dim=8, max_epochs=4, random_state=0, checkpoint_dir=tmp_path)
    full = FastTextClassifier(**params).fit(TEXTS, LABELS).predict_proba(TEXTS)
    with pytest.raises(KeyboardInterrupt):
        FastTextClassifier(**params, callbacks=[_StopAfter(2)]).fit(TEXTS, LABELS)
    resumed = FastTextClassifier(**params).fit(TEXTS, LABELS, resume=True)
    assert [row["epoch"] for row in resumed.history_] == [1, 2, 3, 4]
    np.testing.assert_array_equal(resumed.predict_proba(TEXTS), full)  # optimizer state too


def test_renamed_parameters_warn_once_at_the_callers_line():
    from hybridnlp.lm import NGramLM

    for make, message in [
        (lambda: NGramLM(bpe_vocab_size=300), "NGramLM(bpe_vocab_size=...) is deprecated and "
                                              "will be removed in the next release; use "
                                              "vocab_size=... instead."),
        (lambda: CausalLM(lr=0.02), "CausalLM(lr=...) is deprecated and will be removed in "
                                    "the next release; use optimizer__lr=... instead."),
    ]:
        with pytest.warns(FutureWarning) as caught:
            make()
        assert [str(w.message) for w in caught] == [message]
        assert caught[0].filename == __file__  # it points at the call, not into hybridnlp


def test_the_fitted_module_is_model_everywhere_and_module_warns_for_one_release():
    from hybridnlp import FastTextClassifier

    texts, labels = ["a good film", "bad plot", "great acting", "awful"] * 3, [1, 0, 1, 0] * 3
    clf = FastTextClassifier(dim=4, max_epochs=1, random_state=0)
    assert not hasattr(clf, "module_") and not hasattr(clf, "model_")
    clf.fit(texts, labels)
    with pytest.warns(FutureWarning, match=r"^FastTextClassifier.module_ is deprecated and will "
                                           r"be removed in the next release; use "
                                           r"FastTextClassifier.model_ instead"):
        assert clf.module_ is clf.model_


def test_one_seeded_validation_split_for_the_translator_and_the_reader():
    from hybridnlp.neural import held_out_rows

    train, val = held_out_rows(10, 0.2, seed=3)
    assert len(val) == 2 and sorted([*train, *val]) == list(range(10))
    again_train, again_val = held_out_rows(10, 0.2, seed=3)
    assert again_val.tolist() == val.tolist()  # a function of the seed
    assert len(held_out_rows(10, 0.01, seed=0)[1]) == 1  # at least one held out
    with pytest.raises(ValueError, match=r"^validation_fraction=0.95 of 2 pairs leaves none to "
                                         r"train on; pass validation_data= or "
                                         r"validation_fraction=None.$"):
        held_out_rows(2, 0.95, seed=0, what="pairs")


def test_the_bases_old_module_forwards_with_a_warning():
    import hybridnlp.estimators.neural as old
    import hybridnlp.neural

    with pytest.warns(FutureWarning, match=r"^hybridnlp.estimators.neural.NeuralEstimator is "
                                           r"deprecated .* use hybridnlp.neural.NeuralEstimator"):
        assert old.NeuralEstimator is hybridnlp.neural.NeuralEstimator
    with pytest.raises(AttributeError):
        old.Nothing  # noqa: B018
