import pickle
import re
import warnings

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV

from hybridnlp import TransformerClassifier, Word2VecFeatures
from hybridnlp.neural.batches import truncate
from hybridnlp.text import CharTokenizer, WordVocabTokenizer


def raises(exc, message):
    return pytest.raises(exc, match="^" + re.escape(message) + "$")


def keyword_task(n=160, seed=0):
    """Label is set by one keyword among random filler words: learnable, not trivial."""
    rng = np.random.RandomState(seed)
    filler = "the a film plot cast scene story music actor camera".split()
    texts, labels = [], []
    for i in range(n):
        label = ["neg", "pos"][i % 2]
        words = list(rng.choice(filler, 6)) + ["awful" if label == "neg" else "superb"]
        rng.shuffle(words)
        texts.append(" ".join(words))
        labels.append(label)
    return texts, np.array(labels)


def tiny(**kw):
    params = dict(preset="tiny", max_epochs=8, batch_size=16, random_state=0,
                  validation_fraction=0, optimizer__lr=3e-3)
    return TransformerClassifier(**{**params, **kw})


def test_learns_a_keyword_task():
    texts, y = keyword_task()
    clf = tiny().fit(texts, y)
    test_texts, test_y = keyword_task(seed=1)
    assert clf.score(test_texts, test_y) > 0.95
    proba = clf.predict_proba(test_texts[:4])
    assert proba.shape == (4, 2) and np.allclose(proba.sum(1), 1)
    assert list(clf.classes_) == ["neg", "pos"]
    assert clf.decision_function(test_texts[:4]).shape == (4,)
    assert clf.history_[-1]["train_loss"] < clf.history_[0]["train_loss"]


def test_multiclass_decision_function(trec_small):
    texts, y = trec_small
    clf = tiny(max_epochs=1).fit(texts, y)
    assert clf.decision_function(texts[:3]).shape == (3, 6)
    assert clf.predict_proba(texts[:3]).shape == (3, 6)


def test_dunder_parameters_reach_module_and_optimizer():
    texts, y = keyword_task(40)
    clf = tiny(max_epochs=1, module__n_layer=2, module__n_embd=16, module__dropout=0.0)
    assert clf.get_params()["module__n_layer"] == 2
    clf.fit(texts, y)
    assert len(clf.model_.encoder.blocks) == 2 and clf.model_.config.n_embd == 16
    clf.set_params(module__n_layer=1)
    assert clf.fit(texts, y).model_.config.n_layer == 1


def test_dunder_errors_suggest_the_right_name():
    message = ("module__n_layers is not a parameter of TransformerClassifier. Did you mean "
               "module__n_layer? Allowed module parameters: ")
    with pytest.raises(ValueError, match="^" + re.escape(message)):
        TransformerClassifier(module__n_layers=2)
    with raises(TypeError, "TransformerClassifier got an unexpected keyword argument 'lr'. "
                           "Did you mean optimizer__lr?"):
        TransformerClassifier(lr=1e-3)
    with pytest.raises(ValueError, match=r"^optimizer__momentum is not a parameter"):
        TransformerClassifier().set_params(optimizer__momentum=0.9)


def test_grid_search_reaches_module_params():
    texts, y = keyword_task(60)
    search = GridSearchCV(tiny(max_epochs=1), {"module__n_layer": [1, 2]}, cv=2).fit(texts, y)
    assert [p["module__n_layer"] for p in search.cv_results_["params"]] == [1, 2]
    assert search.best_estimator_.model_.config.n_layer == search.best_params_["module__n_layer"]


def test_refit_on_cpu_gives_identical_predictions():
    texts, y = keyword_task(80)
    a = tiny(max_epochs=2, validation_fraction=0.2).fit(texts, y).predict_proba(texts)
    b = tiny(max_epochs=2, validation_fraction=0.2).fit(texts, y).predict_proba(texts)
    assert np.array_equal(a, b)


def test_truncation_warns_once_with_the_count():
    texts, y = keyword_task(40)
    long_texts = [t + " word" * 30 for t in texts[:5]] + texts[5:]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        clf = tiny(max_epochs=1, max_len=16).fit(long_texts, y)
    messages = [str(w.message) for w in caught if "truncated" in str(w.message)]
    assert messages == ["5 of 40 texts are longer than max_len=16 tokens and were truncated; "
                        "raise max_len to keep them whole."]
    assert clf.n_truncated_ == 5


def test_truncate_keeps_the_head_or_head_and_tail():
    ids = list(range(20))
    assert truncate(ids, 8, "head") == [0, 1, 2, 3, 4, 5, 6, 7]
    assert truncate(ids, 8, "head_tail") == [0, 1, 14, 15, 16, 17, 18, 19]  # 8 // 4 = 2 + 6
    assert truncate(ids[:5], 8, "head_tail") == [0, 1, 2, 3, 4]


def test_head_tail_truncation_reads_the_verdict_at_the_end():
    """The keyword is the last of 40 words: cut to the head a text is filler only."""
    texts, y = keyword_task(120)
    filler = " ".join(["the film"] * 20)
    late = [f"{filler} {t.split()[0]} {'superb' if label == 'pos' else 'awful'}"
            for t, label in zip(texts, y)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        head = tiny(max_len=16).fit(late, y)
        both = tiny(max_len=16, truncation="head_tail").fit(late, y)
        assert head.score(late, y) == 0.5
        assert both.score(late, y) == 1.0
    with raises(ValueError, "truncation='tail' is not allowed; choose one of 'head', "
                            "'head_tail'. Did you mean 'head_tail'?"):
        tiny(truncation="tail").fit(texts, y)


def test_unseen_labels_at_score():
    texts, y = keyword_task(40)
    clf = tiny(max_epochs=1).fit(texts, y)
    with raises(ValueError, "y contains labels unseen at fit time: ['meh'] (first at index 1); "
                            "the classifier knows ['neg', 'pos']."):
        clf.score(texts[:3], ["pos", "meh", "neg"])


def test_class_weight_balanced():
    texts, y = keyword_task(40)
    y = np.array(["pos"] * 30 + ["neg"] * 10)
    clf = tiny(max_epochs=1, class_weight="balanced").fit(texts, y)
    assert torch.allclose(clf.model_.class_weight, torch.tensor([2.0, 2 / 3]))
    clf = tiny(max_epochs=1, class_weight={"neg": 5.0}).fit(texts, y)
    assert torch.allclose(clf.model_.class_weight, torch.tensor([5.0, 1.0]))


def test_warm_start_continues_training():
    texts, y = keyword_task(60)
    clf = tiny(max_epochs=1, warm_start=True).fit(texts, y)
    tokenizer, first = clf.tokenizer_, clf.model_.state_dict()["head.out.weight"].clone()
    clf.fit(texts, y)
    assert clf.tokenizer_ is tokenizer
    assert not torch.equal(first, clf.model_.state_dict()["head.out.weight"])
    with pytest.raises(ValueError, match=r"^warm_start=True but y has classes unseen"):
        clf.fit(texts[:2], ["x", "y"])


def still(**params):
    """One epoch at lr 1e-9: the initial embeddings stay as they were (max_epochs=0 is
    refused)."""
    return tiny(max_epochs=1, optimizer__lr=1e-9, **params)


def test_word_vectors_from_word2vec():
    texts, y = keyword_task(60)
    w2v = Word2VecFeatures(vector_size=32, epochs=2, random_state=0).fit(texts)
    clf = still(word_vectors=w2v, module__n_embd=32).fit(texts, y)
    tok = clf.tokenizer_
    assert clf.n_embeddings_initialised_ == len(tok.words)  # every word has a vector
    emb = clf.model_.encoder.tok_emb.weight.detach()
    for word in ("superb", "film"):
        row = emb[tok.encode(word)[0]].numpy()
        vec = w2v.vectors_[word]
        assert np.corrcoef(row, vec)[0, 1] > 0.999  # the same vector, rescaled
    message = ("word_vectors have 32 dimensions but the module has n_embd=16; pass "
               "module__n_embd=32 (and an n_head that divides it).")
    with raises(ValueError, message):
        still(word_vectors=w2v, module__n_embd=16).fit(texts, y)


def test_word_vectors_from_a_word2vec_file(tmp_path):
    from hybridnlp.features import save_word_vectors

    texts, y = keyword_task(60)
    w2v = Word2VecFeatures(vector_size=32, epochs=2, random_state=0).fit(texts)
    path = save_word_vectors(w2v, tmp_path / "vectors.bin")
    from_file = still(word_vectors=str(path), module__n_embd=32).fit(texts, y)
    in_memory = still(word_vectors=w2v, module__n_embd=32).fit(texts, y)
    assert torch.allclose(from_file.model_.encoder.tok_emb.weight,
                          in_memory.model_.encoder.tok_emb.weight)
    assert clone(from_file).get_params()["word_vectors"] == str(path)  # a plain parameter
    missing = tmp_path / "none.bin"
    with raises(FileNotFoundError, f"word_vectors={str(missing)!r} does not exist; pass the "
                                   f"path of a local word2vec-format file (nothing is "
                                   f"downloaded)."):
        still(word_vectors=missing, module__n_embd=32).fit(texts, y)


def test_pickle_moves_tensors_to_cpu_and_round_trips():
    texts, y = keyword_task(40)
    clf = tiny(max_epochs=1).fit(texts, y)
    state = clf.__getstate__()
    assert "model_" not in state
    assert all(isinstance(t, np.ndarray) for t in state["_model_weights"]["arrays"].values())
    restored = pickle.loads(pickle.dumps(clf))
    assert np.array_equal(restored.predict_proba(texts), clf.predict_proba(texts))


def test_tokenizer_instances():
    texts, y = keyword_task(40)
    trained = WordVocabTokenizer().train(texts)
    clf = tiny(max_epochs=1, tokenizer=trained).fit(texts, y)
    assert clf.tokenizer_ == trained and clf.tokenizer_ is not trained
    char = tiny(max_epochs=1, tokenizer=CharTokenizer(unknown="unk")).fit(texts, y)
    assert char.predict(["völlig neu ✓"]).shape == (1,)  # unseen characters map to <unk>
    with pytest.raises(ValueError, match=r"^tokenizer='wordpiece' is not allowed"):
        tiny(tokenizer="wordpiece").fit(texts, y)


def test_validation_data_and_early_stopping():
    texts, y = keyword_task(80)
    val_texts, val_y = keyword_task(40, seed=2)
    clf = tiny(max_epochs=30, patience=2, trainer__monitor="val_accuracy")
    clf.fit(texts, y, validation_data=(val_texts, val_y))
    accs = clf.history_.get("val_accuracy")
    assert len(accs) < 30 and "val_loss" in clf.history_[0]
    assert clf.score(val_texts, val_y) == pytest.approx(max(accs))


def test_interrupted_fit_resumes_to_the_same_model(tmp_path):
    from hybridnlp.train import LambdaCallback

    texts, y = keyword_task(80)
    params = dict(max_epochs=4, validation_fraction=0.25, patience=10, module__dropout=0.2)
    full = tiny(**params).fit(texts, y)
    stop = LambdaCallback(
        on_epoch_end=lambda t, m, row: setattr(t, "should_stop", row["epoch"] == 2))
    first = tiny(**params, checkpoint_dir=tmp_path, callbacks=[stop]).fit(texts, y)
    assert len(first.history_) == 2
    resumed = tiny(**params, checkpoint_dir=tmp_path).fit(texts, y, resume=True)
    assert len(resumed.history_) == 4
    assert np.array_equal(resumed.predict_proba(texts), full.predict_proba(texts))
    other = keyword_task(80, seed=5)[0]
    with pytest.raises(ValueError, match=r"was trained with another vocabulary"):
        tiny(**params, checkpoint_dir=tmp_path).fit(other + ["zebra"] * 3, list(y) + ["pos"] * 3,
                                                    resume=True)
    with raises(ValueError, "resume=True needs checkpoint_dir, the folder of the checkpoint."):
        tiny(**params).fit(texts, y, resume=True)


def test_a_fitted_classifier_predicts_and_pickles_by_its_module_not_its_later_params(tmp_path):
    """Which encoder a fitted classifier holds is read from its module: parameters set after
    fit (here, another encoder source) change the next fit, not this model's batches or
    pickle."""
    texts, y = keyword_task(40)
    clf = tiny(max_epochs=1).fit(texts, y)
    expected = clf.predict_proba(texts)
    clf.set_params(init_from=str(tmp_path))  # a GPT directory, for a next fit
    np.testing.assert_array_equal(clf.predict_proba(texts), expected)
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(restored.predict_proba(texts), expected)
