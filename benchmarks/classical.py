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

Run: ``.venv/bin/python benchmarks/classical.py`` (about 8 minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

sys.path.insert(0, str(Path(__file__).parent))
from _report import RESULTS, stamp, timed, write_section  # noqa: E402

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", default=str(ROOT / "runs" / "benchmarks"))
    args = parser.parse_args()
    run_dirs = accuracy_runs(args.output)
    write_results_section(run_dirs, RESULTS, "classical_accuracy")
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
