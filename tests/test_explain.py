"""explain(): token scores that add up (exact), that are the words' Shapley values
(shapley), that equal the deletions they stand for (occlusion), that combine through the
hybrid's weights, and the command and report that show them."""

import json

import numpy as np
import pytest
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import MultinomialNB
from sklearn.pipeline import make_pipeline

import hybridnlp
from hybridnlp import FastTextClassifier, NBSVMClassifier, TransformerClassifier
from hybridnlp.estimators.explain import label_scores, without_tokens
from hybridnlp.features import NBFeatures, TfidfFeatures
from hybridnlp.hybrid import SimplexWeights, StackingClassifier
from tests.conftest import cli_error

TEXTS = ["a good film, truly great!", "bad film and awful acting", "great fun, good cast",
         "awful, boring mess", "good acting and a great plot", "boring plot, bad cast",
         "not good at all", "a great great film"] * 4
SENTIMENT = np.array(["pos", "neg", "pos", "neg", "pos", "neg", "neg", "pos"] * 4)
THREE = np.array(["a", "b", "c", "a", "b", "c", "a", "b"] * 4)
NEW = ["a good film, not boring at all", "这部电影很好!", "great"]


def _linear_models():
    return {
        "nbsvm": NBSVMClassifier(features=NBFeatures(analyzer="both")),
        "nbsvm_joint": NBSVMClassifier(features=NBFeatures(analyzer="both"),
                                       multiclass="joint"),
        "tfidf": make_pipeline(TfidfFeatures(analyzer="both"), LogisticRegression(C=10)),
        "mnb": make_pipeline(CountVectorizer(ngram_range=(1, 2), binary=True),
                             MultinomialNB()),
        "fasttext": FastTextClassifier(max_epochs=3, random_state=0),
    }


@pytest.mark.parametrize("y", [SENTIMENT, THREE], ids=["two classes", "three classes"])
def test_exact_scores_add_up_to_the_models_own_score(y):
    for name, model in _linear_models().items():
        model.fit(TEXTS, y)
        explanations = hybridnlp.explain(model, NEW, method="exact")
        proba = model.predict_proba(NEW)
        expected = label_scores(proba, proba.argmax(axis=1))
        if name == "nbsvm" and len(model.classes_) > 2:  # one-vs-rest: each class's log-odds
            expected = model.decision_function(NEW)[np.arange(len(NEW)), proba.argmax(axis=1)]
        for e, z, p in zip(explanations, expected, proba):
            assert e.method == "exact" and e.label == model.classes_[p.argmax()]
            assert e.base + e.scores.sum() == pytest.approx(e.score, abs=1e-9), name
            assert e.score == pytest.approx(z, abs=1e-6), name
            assert e.tokens == [e.text[a:b] for a, b in e.spans]
        assert explanations[1].tokens == ["这", "部", "电", "影", "很", "好", "!"]
        # by default: exact for a linear model of two classes, Shapley values otherwise
        auto = "exact" if len(model.classes_) == 2 and name != "fasttext" else "shapley"
        assert hybridnlp.explain(model, NEW[:1])[0].method == auto, name


def test_nbsvm_explains_as_the_pipeline_it_equals_and_words_carry_their_ngrams():
    nbsvm = NBSVMClassifier(features=NBFeatures()).fit(TEXTS, SENTIMENT)
    pipe = make_pipeline(NBFeatures(), LogisticRegression(max_iter=1000)).fit(TEXTS, SENTIMENT)
    a, b = nbsvm.explain(NEW[:1])[0], hybridnlp.explain(pipe, NEW[:1])[0]
    np.testing.assert_allclose(a.scores, b.scores, atol=1e-9)
    assert a.tokens == ["a", "good", "film", ",", "not", "boring", "at", "all"]
    grams = dict(a.ngrams)
    # word 1-2 grams: "good" owns its unigram and half of each bigram it is in
    good = grams["good"] + grams["a good"] / 2 + grams["good film"] / 2
    assert a.scores[1] == pytest.approx(good, abs=1e-9)
    # explaining the other class gives the negated log-odds
    other = nbsvm.explain(NEW[:1], labels=["pos" if a.label == "neg" else "neg"])[0]
    np.testing.assert_allclose(other.scores, -a.scores, atol=1e-9)
    assert a.keep([True, True, True, True, False, False, True, True]) == \
        "a good film, at all"
    from sklearn.svm import LinearSVC

    svm = make_pipeline(NBFeatures(), LinearSVC()).fit(TEXTS, SENTIMENT)
    with pytest.raises(ValueError, match=r"^explain needs class probabilities and Pipeline has "
                                         r"no predict_proba; use a probabilistic classifier"):
        hybridnlp.explain(svm, NEW)
    with pytest.raises(ValueError, match=r"^labels \['meh'\] are not classes of the model "
                                         r"\['neg', 'pos'\]\.$"):
        nbsvm.explain(NEW[:1], labels=["meh"])


def test_shapley_values_are_exact_on_three_words_and_add_up_to_the_probability(monkeypatch):
    from itertools import permutations

    from hybridnlp.estimators import explain as explain_module

    model = FastTextClassifier(max_epochs=3, random_state=0).fit(TEXTS, SENTIMENT)
    e, long = model.explain(["good film , bad", "a good film, truly great fun!"])
    assert e.method == "shapley" and e.unit == "probability"
    k = list(model.classes_).index(e.label)

    def value(kept):  # p(label) on the text with only these words
        deleted = [s for j, s in enumerate(e.spans) if j not in kept]
        return model.predict_proba([without_tokens(e.text, deleted)])[0, k]

    n, exact = len(e.tokens), np.zeros(len(e.tokens))
    orders = list(permutations(range(n)))
    for order in orders:  # the Shapley value by its definition, every order of 4 words
        for j, word in enumerate(order):
            exact[word] += value(set(order[:j + 1])) - value(set(order[:j]))
    # four words: the 2n coalitions of sizes 1 and 3 leave out those of size 2, so only
    # the sum is exact; it is on three (checked below) and adds up on every text
    assert e.scores.sum() == pytest.approx(exact.sum() / len(orders))
    three = model.explain(["good film bad"])[0]
    k3 = list(model.classes_).index(three.label)
    exact3 = np.zeros(3)
    for order in permutations(range(3)):
        for j, word in enumerate(order):
            keep = [three.spans[i] for i in range(3) if i not in order[:j + 1]]
            before = [three.spans[i] for i in range(3) if i not in order[:j]]
            exact3[word] += (model.predict_proba([without_tokens(three.text, keep)])[0, k3]
                             - model.predict_proba([without_tokens(three.text, before)])[0, k3])
    np.testing.assert_allclose(three.scores, exact3 / 6, atol=1e-9)
    assert long.base + long.scores.sum() == pytest.approx(long.score)
    assert long.score == pytest.approx(model.predict_proba([long.text]).max())
    monkeypatch.setattr(explain_module, "MAX_VARIANTS", 5)  # a predict_proba per text
    chunked = model.explain([e.text, long.text, three.text])
    for a, b in zip(chunked, [e, long, three]):
        np.testing.assert_allclose(a.scores, b.scores, atol=1e-12)


def test_occlusion_is_the_drop_when_the_word_alone_is_deleted_and_ig_adds_up():
    model = TransformerClassifier(preset="tiny", max_epochs=2, random_state=0).fit(
        TEXTS, SENTIMENT)
    e = model.explain(NEW[:1], method="occlusion")[0]
    assert e.method == "occlusion"
    k = list(model.classes_).index(e.label)
    variants = [without_tokens(e.text, [span]) for span in e.spans]
    drop = e.score - label_scores(model.predict_proba(variants), np.full(len(variants), k))
    np.testing.assert_allclose(e.scores, drop, atol=1e-6)
    # float32 sums in another batch: equal to rounding (a 5e-8 difference seen on AMD EPYC)
    assert e.base == pytest.approx(label_scores(model.predict_proba([""]), [k])[0], abs=1e-6)
    ig = model.explain(NEW[:1], method="integrated_gradients")[0]
    assert ig.score == pytest.approx(e.score, abs=1e-5)
    assert ig.base + ig.scores.sum() == pytest.approx(ig.score, abs=0.02 * abs(
        ig.score - ig.base) + 1e-3)  # integrated gradients' completeness
    with pytest.raises(ValueError, match=r"^method='exact' needs a linear model on n-grams or "
                                         r"fastText, got TransformerClassifier; use "
                                         r"method='shapley'\.$"):
        model.explain(NEW[:1], method="exact")
    with pytest.raises(ValueError, match=r"^method='integrated_gradients' is for a "
                                         r"TransformerClassifier trained from scratch"):
        NBSVMClassifier().fit(TEXTS, SENTIMENT).explain(NEW, method="integrated_gradients")


def test_a_hybrid_combines_its_components_through_its_weights():
    hybrid = StackingClassifier(estimators=[
        ("nbsvm", NBSVMClassifier()),
        ("mnb", make_pipeline(CountVectorizer(binary=True), MultinomialNB())),
    ], final_estimator=SimplexWeights(), cv=2, random_state=0).fit(TEXTS, SENTIMENT)
    explanations = hybrid.explain(NEW)
    final = hybrid.predict_proba(NEW)
    for e, p in zip(explanations, final):
        assert e.method == "hybrid" and e.label == hybrid.classes_[p.argmax()]
        assert set(e.components) == set(e.weights) == {"nbsvm", "mnb"}
        np.testing.assert_allclose(
            e.scores, sum(e.weights[n] * e.components[n] for n in e.components), atol=1e-12)
    # a component's weight: the hybrid's score change when it answers as on the empty text,
    # over its own change
    e, k = explanations[0], int(final[0].argmax())
    probas = hybrid.component_proba(NEW[:1])
    empty = hybrid.component_proba([""])
    without = hybrid._combine({**probas, "nbsvm": empty["nbsvm"]}, NEW[:1])
    moved = (label_scores(probas["nbsvm"], [k]) - label_scores(empty["nbsvm"], [k]))[0]
    assert e.weights["nbsvm"] == pytest.approx(
        (e.score - label_scores(without, [k])[0]) / moved)
    # the component's own explanation toward the hybrid's label
    own = hybrid.named_estimators_["nbsvm"].explain(NEW[:1], labels=[e.label])[0]
    np.testing.assert_allclose(e.components["nbsvm"], own.scores)
    assert dict(e.ngrams)["good"] == pytest.approx(sum(
        e.weights[n] * dict(hybridnlp.explain(hybrid.named_estimators_[n], NEW[:1],
                                              labels=[e.label])[0].ngrams).get("good", 0)
        for n in e.components))


def test_the_explain_command_prints_words_or_json(tmp_path, capsys):
    from hybridnlp.cli import main

    model = NBSVMClassifier().fit(TEXTS, SENTIMENT)
    hybridnlp.save(model, tmp_path / "m")
    assert main(["explain", str(tmp_path / "m"), "great plot", "awful mess"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "great plot" and out[1].startswith("  label 'pos', score +")
    assert out[2].startswith("  for: great +")
    (tmp_path / "in.txt").write_text("a good film\nawful mess\n", "utf-8")
    assert main(["explain", str(tmp_path / "m"), "--input", str(tmp_path / "in.txt"),
                 "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["label"] for r in rows] == ["pos", "neg"]
    assert rows[1]["tokens"] == ["awful", "mess"] and rows[1]["method"] == "exact"
    assert cli_error(["explain", str(tmp_path / "m")], capsys) == (
        "hybridnlp explain: error: give the texts to explain as arguments, or --input FILE "
        "(not both)\n")
    assert cli_error(["explain", str(tmp_path / "m"), "x", "--method", "integrated_gradients"],
                     capsys).startswith("hybridnlp explain: error: method='integrated_gradients'"
                                        " is for a TransformerClassifier")


def _chromium() -> str | None:
    import shutil

    return shutil.which("chromium") or shutil.which("chromium-browser")


def test_a_run_explains_its_extremes_and_its_html_report_renders_in_chromium(tmp_path):
    import re
    import subprocess

    from conftest import _with

    from hybridnlp.experiments import run

    d = run(_with(output=str(tmp_path)), quiet=True).run_dir
    metrics = json.loads((d / "metrics.json").read_text())
    cases = metrics["explanations"]["nbsvm"]
    assert [c["kind"] for c in cases] == ["most confident right", "least confident right",
                                          "most confident wrong", "least confident wrong"]
    confidence = [c["confidence"] for c in cases]
    assert confidence[0] >= confidence[1] and confidence[2] >= confidence[3]
    assert cases[0]["label"] == cases[0]["true"] and cases[2]["label"] != cases[2]["true"]
    report = (d / "report.md").read_text()
    assert "## Why: explanations of nbsvm" in report
    page = (d / "report.html").read_text()
    # self-contained: every plot inline, no file or script loaded
    assert page.count('<img src="data:image/png;base64,') == report.count("](") > 0
    assert "<script" not in page and 'src="accuracy.png"' not in page
    browser = _chromium()
    if browser is None:
        pytest.skip("no chromium (.ci/run installs Debian's chromium package)")
    run_browser = [browser, "--headless", "--no-sandbox", "--disable-gpu",
                   "--enable-logging=stderr", "--v=0", f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([*run_browser, "--dump-dom", (d / "report.html").as_uri()],
                         capture_output=True, text=True, timeout=60)
    assert dom.returncode == 0, dom.stderr[-2000:]
    accuracy = f"{metrics['models']['nbsvm']['accuracy']:.4f}"
    assert f"<td>{accuracy}" in dom.stdout  # the run's figures, as rendered
    assert dom.stdout.count("<img") == page.count("<img") and "explained" in dom.stdout
    assert not re.search(r"CONSOLE.*(?:Uncaught|Error)|Failed to load", dom.stderr), \
        dom.stderr[-2000:]
    shot = tmp_path / "shot.png"
    subprocess.run([*run_browser, f"--screenshot={shot}", "--window-size=1000,1400",
                    (d / "report.html").as_uri()], capture_output=True, timeout=60)
    assert shot.stat().st_size > 20_000  # a page with plots, not a blank one
