"""Classical baselines (../shared/BENCHMARKS.md sections 1 and 4) -> benchmarks/RESULTS.md.

Accuracy of TF-IDF + logistic regression and NBSVM (NBFeatures + logistic regression), word and
word+char, on MR and Subj (10-fold stratified CV) and on TREC and SST-2 (train -> test): the
configs ``experiments/classical_*.yaml`` are run (run directories under ``runs/benchmarks``)
and the ``classical_accuracy`` section is written from those run directories, as
``hybridnlp report RUN_DIR ... --results benchmarks/RESULTS.md --section classical_accuracy``
would. Reference figures (BENCHMARKS.md): measured on this kind of machine TF-IDF+LR / NBSVM
MR 77.6 / 78.7, Subj 91.6 / 91.8, TREC 89.0 / 88.0, SST-2 81.0 / 81.2; published NBSVM-bi /
CNN-rand MR 79.4 / 76.1, Subj 93.2 / 89.6, TREC - / 91.2, SST-2 - / 82.7.

Then the time overhead of ``TfidfFeatures`` against the same scikit-learn pipeline written by
hand, and of ``Word2VecFeatures`` against gensim's ``Word2Vec`` called directly (section
``classical``: timings against a peer are not a config's job).

Section ``nbsvm_multiclass``: NBSVM with more than two classes, ``NBSVMClassifier`` one-vs-rest
(one binary logistic regression per class on its own ratios) against the joint form (one
multinomial model on the K blocks side by side, what ``make_pipeline(NBFeatures(), LR)`` does)
and against scikit-learn's ``OneVsRestClassifier`` over that pipeline (the same models, with
the n-grams counted K times): accuracy and fit time on TREC, SST-5, THUCNews headlines and
20 Newsgroups, the hybrid's NBSVM settings (word + char_wb n-grams, C=0.3).

Section ``counting``: the n-gram counting of ``NBFeatures`` and ``TfidfFeatures`` (NumPy over
integer keys, ``hybridnlp.features._counting``) against scikit-learn's ``transform`` of the
same fitted vectorizers (the peer; the matrices are checked equal): time per text over a test
set, by batch size, the one-off cost of a vocabulary's key table, and NBSVM's predict.

Run: ``.venv/bin/python benchmarks/classical.py`` (about 8 minutes on 2 cores, plus about
NN minutes for ``nbsvm_multiclass``, 4 for ``counting``); sections by name: ``accuracy overhead
nbsvm_multiclass counting``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

sys.path.insert(0, str(Path(__file__).parent))
from _report import RESULTS, sklearn_counting, stamp, timed, write_section  # noqa: E402

from hybridnlp import TfidfFeatures, Word2VecFeatures, load_dataset  # noqa: E402
from hybridnlp.experiments import run  # noqa: E402
from hybridnlp.experiments.report import write_results_section  # noqa: E402
from hybridnlp.text import WORD_PATTERN, WordTokenizer  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def accuracy_runs(output: str) -> list[Path]:
    """Run the configs ``experiments/classical_<data>.yaml``: one run directory each."""
    return [run(ROOT / "experiments" / f"classical_{data}.yaml", output=output).run_dir
            for data in ("mr", "subj", "trec", "sst2")]


def tfidf_overhead(repeats: int = 5) -> tuple[float, float, float]:
    train, test = load_dataset("sst2", split="train"), load_dataset("sst2", split="test")

    def ours():
        model = make_pipeline(TfidfFeatures(), LogisticRegression(C=10, max_iter=2000))
        return model.fit(train.data, train.target).predict(test.data)

    def by_hand():
        vectorizer = TfidfVectorizer(
            ngram_range=(1, 2), sublinear_tf=True, token_pattern=WORD_PATTERN
        )
        model = make_pipeline(vectorizer, LogisticRegression(C=10, max_iter=2000))
        return model.fit(train.data, train.target).predict(test.data)

    ours_times, hand_times = [], []
    for _ in range(repeats):  # interleaved, so drift in machine load hits both alike
        pred_ours, t_ours = timed(ours)
        pred_hand, t_hand = timed(by_hand)
        ours_times.append(t_ours)
        hand_times.append(t_hand)
    assert np.array_equal(pred_ours, pred_hand), "the two pipelines must predict the same"
    ours_t, hand_t = float(np.median(ours_times)), float(np.median(hand_times))
    return ours_t / hand_t, ours_t, hand_t


def word2vec_overhead(repeats: int = 3) -> tuple[float, float, float]:
    from gensim.models import Word2Vec

    texts = load_dataset("mr").data
    params = dict(vector_size=100, window=5, min_count=1, sg=0, negative=5, sample=1e-3)

    def ours():
        return Word2VecFeatures(epochs=5, workers=1, random_state=0, **params).fit(texts)

    def gensim_direct():
        tokens = WordTokenizer().tokenize_batch(texts)
        return Word2Vec(tokens, epochs=5, workers=1, seed=1, **params).wv

    ours_times, direct_times = [], []
    for _ in range(repeats):
        ours_times.append(timed(ours)[1])
        direct_times.append(timed(gensim_direct)[1])
    ours_t, direct_t = float(np.median(ours_times)), float(np.median(direct_times))
    return ours_t / direct_t, ours_t, direct_t


MULTICLASS_SETS = (("trec", "train", "test"), ("sst5", "train", "test"),
                   ("thucnews_titles", "dev", "test"), ("20newsgroups", "train", "test"))


def nbsvm_multiclass(args) -> None:
    from sklearn.multiclass import OneVsRestClassifier

    from hybridnlp import NBFeatures, NBSVMClassifier

    def features():
        return NBFeatures(analyzer="both")

    def clf():
        return LogisticRegression(C=0.3, max_iter=1000)

    models = {
        "`NBSVMClassifier()` (one-vs-rest)": lambda: NBSVMClassifier(features=features(),
                                                                     clf=clf()),
        "`NBSVMClassifier(multiclass='joint')`": lambda: NBSVMClassifier(
            features=features(), clf=clf(), multiclass="joint"),
        "`OneVsRestClassifier(make_pipeline(NBFeatures(), LR))`": lambda: OneVsRestClassifier(
            make_pipeline(features(), clf())),
    }
    lines = ["| data (classes, train -> test) | " + " | ".join(models) + " |",
             "|---" * (len(models) + 1) + "|"]
    for name, fit_split, test_split in MULTICLASS_SETS:
        if args.sets and name not in args.sets:
            continue
        train, test = (load_dataset(name, split=s) for s in (fit_split, test_split))
        cells, preds = [], []
        for label, make in models.items():
            if "joint" in label and name in args.skip_joint:
                cells.append("not run")
                preds.append(None)
                print(name, label, "not run", flush=True)
                continue
            start = time.perf_counter()
            model = make().fit(train.data, train.target)
            seconds = time.perf_counter() - start
            pred = model.predict(test.data)
            preds.append(pred)
            acc = 100 * float(np.mean(pred == np.asarray(test.target)))
            cells.append(f"{acc:.2f} ({seconds:.1f} s)")
            print(name, label, cells[-1], flush=True)
        same = float(np.mean(preds[0] == preds[2]))
        assert same == 1.0, f"{name}: one-vs-rest differs from scikit-learn's on {1 - same:.2%}"
        k = len(np.unique(train.target))
        lines.append(f"| {name} ({k}, {fit_split} {len(train.data):,} -> {test_split} "
                     f"{len(test.data):,}) | " + " | ".join(cells) + " |")
        print(name, f"one-vs-rest predictions equal to scikit-learn's: {same:.4f}", flush=True)
    body = f"""## NBSVM with many classes (accuracy %, fit time)

{stamp("python benchmarks/classical.py nbsvm_multiclass")}
Word 1-2 + char_wb 2-5 n-grams, binary, alpha 1, `LogisticRegression(C=0.3, max_iter=1000)`
(the hybrid's NBSVM), seed-free. Fit time in brackets, each model alone. One-vs-rest fits one
binary model per class on the n-grams scaled by that class's ratios against the rest (Wang &
Manning's multiclass form); the joint form fits one multinomial model on all K blocks ("not
run": `--skip-joint`, where its fit takes many minutes: its weights are K x K x V). The last
column is scikit-learn's `OneVsRestClassifier` over the pipeline, the peer: the same
predictions as ours (checked on every set), with the n-grams counted once per class.

""" + "\n".join(lines) + "\n"
    write_section("nbsvm-multiclass", body)
    print(body)


COUNTING_SETS = (("sst2", "train", "test", None, None), ("imdb", "train", "test", 5000, None),
                 ("chnsenticorp", "train", "test", None, "jieba"))


def counting(args) -> None:
    from hybridnlp import NBFeatures, NBSVMClassifier
    from hybridnlp.features._counting import _CACHE
    from hybridnlp.features._ngrams import _counter, vectorize

    def median_time(fn, repeats=5):
        return float(np.median([timed(fn)[1] for _ in range(repeats)]))

    lines = ["| data (texts fit -> counted, characters a text) | block (vocabulary) | "
             "key table, once | scikit-learn, ms a text | ours, ms a text | speed-up |",
             "|---|---|---:|---:|---:|---:|"]
    for name, fit_split, test_split, cap, segmenter in COUNTING_SETS:
        if args.sets and name not in args.sets:
            continue
        train, test = (load_dataset(name, split=s) for s in (fit_split, test_split))
        rng = np.random.default_rng(0)  # IMDB's files are sorted by label
        fit_rows = rng.permutation(len(train.data))[:cap]
        test_rows = rng.permutation(len(test.data))[:cap and cap // 2]
        fit_texts, texts = [train.data[i] for i in fit_rows], [test.data[i] for i in test_rows]
        y = np.asarray(train.target)[fit_rows]
        chars = np.mean([len(t) for t in texts])
        feats = NBFeatures(analyzer="both", segmenter=segmenter).fit(fit_texts, y)
        for block, vec in feats.vectorizers_:
            _CACHE.pop(vec, None)
            build = timed(_counter(vec)[1]._build)[1]
            ours = median_time(lambda vec=vec, texts=texts: vectorize(vec, texts))
            peer = median_time(lambda vec=vec, texts=texts: vec.transform(texts))
            assert (vectorize(vec, texts) != vec.transform(texts)).nnz == 0
            analysis = f"{vec.analyzer} {vec.ngram_range[0]}-{vec.ngram_range[1]}"
            words = f", {segmenter} words" if segmenter and block == "word" else ""
            lines.append(f"| {name} ({len(fit_texts):,} -> {len(texts):,}, {chars:.0f}) | "
                         f"{block}: {analysis}{words} ({len(vec.vocabulary_):,}) | {build:.2f} s | "
                         f"{1e3 * peer / len(texts):.4f} | {1e3 * ours / len(texts):.4f} | "
                         f"{peer / ours:.1f}x |")
            print(lines[-1], flush=True)

    train, test = load_dataset("sst2", split="train"), load_dataset("sst2", split="test")
    texts = list(test.data)
    feats = NBFeatures(analyzer="both").fit(list(train.data), train.target)
    batches = ["| texts a call | scikit-learn, ms a call | ours, ms a call | speed-up |",
               "|---:|---:|---:|---:|"]
    for size in (1, 2, 4, 16, 64, 256):
        calls = [texts[i:i + size] for i in range(0, 512, size)]

        def run_all(calls=calls):
            for call in calls:
                feats.transform(call)

        ours = median_time(run_all, 3) / len(calls)
        with sklearn_counting():
            peer = median_time(run_all, 3) / len(calls)
        batches.append(f"| {size} | {1e3 * peer:.3f} | {1e3 * ours:.3f} | {peer / ours:.2f}x |")
        print(batches[-1], flush=True)

    model = NBSVMClassifier(features=NBFeatures(analyzer="both"),
                            clf=LogisticRegression(C=0.3, max_iter=1000))
    model.fit(list(train.data), train.target)
    pred = model.predict(texts)
    ours = median_time(lambda: model.predict(texts))
    with sklearn_counting():
        assert np.array_equal(model.predict(texts), pred)
        peer = median_time(lambda: model.predict(texts))
    from hybridnlp import FastTextClassifier

    fasttext = FastTextClassifier(random_state=0).fit(list(train.data), train.target)
    ft_proba = fasttext.predict_proba(texts)
    ft_ours = median_time(lambda: fasttext.predict_proba(texts))
    with sklearn_counting():  # every batch on the Python path
        assert np.array_equal(fasttext.predict_proba(texts), ft_proba)
        ft_peer = median_time(lambda: fasttext.predict_proba(texts))
    body = f"""## N-gram counting against scikit-learn's transform

{stamp("python benchmarks/classical.py counting")}
`NBFeatures(analyzer="both")` (the hybrid's NBSVM features: word 1-2 and char_wb 2-5 n-grams)
fit on the training texts; each block's counts of the test texts by scikit-learn's
`transform` (the peer) and by ours (`hybridnlp.features.NgramCounter`, which
`NBFeatures`, `TfidfFeatures` and the hybrids' predict use), the same matrices (checked);
median of 5 calls on all the texts. IMDB: 5,000 training and 2,500 test reviews drawn at
random (seed 0); ChnSentiCorp's words split by jieba (`segmenter="jieba"`, as the Chinese
benchmarks do). "Key table": building the integer keys and the hash table of a fitted
vocabulary, once per vectorizer, when the n-grams it has counted pass its vocabulary's size
(until then scikit-learn counts, so a vectorizer that counts a few texts once never pays for
a table it would not use). The word blocks gain less than the character blocks: their
tokenizer (a regular expression, or jieba for Chinese, most of that block's cost) still runs
once a text in Python, as scikit-learn's does.

""" + "\n".join(lines) + f"""

By batch size (SST-2, `NBFeatures.transform`, both blocks, 512 test sentences; median of 3).
A batch under {_counting_limit()} windows (characters, or about five characters a word, times
the n-gram sizes: a sentence or two) goes to scikit-learn, whose loop has no fixed cost per
call:

""" + "\n".join(batches) + f"""

`NBSVMClassifier(NBFeatures(analyzer="both"), LogisticRegression(C=0.3))` fit on SST-2 train,
predict on its {len(texts):,} test sentences (the same predictions): scikit-learn's counting
{peer:.3f} s, ours {ours:.3f} s ({peer / ours:.1f}x).

`FastTextClassifier(random_state=0)` fit on SST-2 train, `predict_proba` on the same test
sentences (the same probabilities): its word 1-2 n-grams looked up one string at a time in
Python (its path before 2026-12-08, still used for a batch of a text or two) {ft_peer:.3f} s,
with `NgramCounter.ids` {ft_ours:.3f} s ({ft_peer / ft_ours:.1f}x).
"""
    write_section("ngram-counting", body)
    print(body)


def _counting_limit() -> int:
    from hybridnlp.features._counting import SMALL_BATCH

    return SMALL_BATCH


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sections", nargs="*", default=["accuracy", "overhead"],
                        choices=["accuracy", "overhead", "nbsvm_multiclass", "counting"])
    parser.add_argument("--output", default=str(ROOT / "runs" / "benchmarks"))
    parser.add_argument("--sets", nargs="*",
                        help="nbsvm_multiclass, counting: only these data sets")
    parser.add_argument("--skip-joint", nargs="*", default=["20newsgroups"],
                        help="nbsvm_multiclass: data sets where the joint form is not fitted")
    args = parser.parse_args()
    if "nbsvm_multiclass" in args.sections:
        nbsvm_multiclass(args)
    if "counting" in args.sections:
        counting(args)
    if "accuracy" in args.sections:
        write_results_section(accuracy_runs(args.output), RESULTS, "classical_accuracy")
    if "overhead" in args.sections:
        overhead()


def overhead() -> None:
    tfidf_ratio, tfidf_ours, tfidf_hand = tfidf_overhead()
    print(f"TfidfFeatures overhead {tfidf_ratio:.3f}x", flush=True)
    w2v_ratio, w2v_ours, w2v_direct = word2vec_overhead()
    print(f"Word2VecFeatures overhead {w2v_ratio:.3f}x", flush=True)
    body = f"""## Classical layer overhead (target <= 1.1x)

{stamp("python benchmarks/classical.py")}

| what | ours | peer | ratio |
| --- | ---: | ---: | ---: |
| `TfidfFeatures` + LR vs `TfidfVectorizer` + LR by hand (SST-2 fit + predict, median of 5) | {tfidf_ours:.2f} s | {tfidf_hand:.2f} s | {tfidf_ratio:.2f}x |
| `Word2VecFeatures.fit` vs tokenise + gensim `Word2Vec` (MR, 100-d, 5 epochs, 1 worker, median of 3) | {w2v_ours:.2f} s | {w2v_direct:.2f} s | {w2v_ratio:.2f}x |
"""  # noqa: E501
    write_section("classical", body)


if __name__ == "__main__":
    main()
