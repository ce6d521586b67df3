"""The cheap-first cascade (issue 30, item 4) -> benchmarks/RESULTS.md "Cascade".

``HybridClassifier(cascade=...)`` fit once on SST-2 train (6,920 sentences); on the 1,821
test sentences, for each accuracy budget (the threshold chosen from the held-out texts of the
fit, never from test): the share of test texts escalated to the expensive components, test
accuracy against the full stack's, and predict time against the full stack's (median of 3,
one process, alone).

- ``sst2``: the default components (NBSVM, TF-IDF + LR, naive Bayes, fastText cheap; the
  Transformer trained from scratch expensive).
- ``sst2-pretrained``: with all-MiniLM-L6-v2 (the bench extra), ``fine_tune=False``: the
  expensive component is logistic regression on its frozen sentence embeddings.
- ``imdb`` (its own section, "Cascade on IMDB"): long reviews, 6,000 training and 3,000 test
  reviews drawn at random (seed 0), the IMDB benchmark's settings for long documents (word
  1-3 grams for NBSVM and fastText, the Transformer on 256 tokens of head and tail).

Run alone: ``HYBRIDNLP_DATA=../shared/data .venv/bin/python benchmarks/cascade.py sst2
sst2-pretrained`` (about 8 minutes), ``... cascade.py imdb`` (about 20).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
import types
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _report import sklearn_counting, stamp, timed, write_section  # noqa: E402

from hybridnlp import HybridClassifier, load_dataset  # noqa: E402
from hybridnlp.hybrid.cascade import choose_threshold  # noqa: E402
from hybridnlp.pretrained import clear_embedding_cache  # noqa: E402

BUDGETS = (0.0, 0.002, 0.005, 0.01, 0.02)


def _predict(clf, texts):
    clear_embedding_cache()  # every call embeds its texts: no call reads another's cache
    return clf.predict(texts)


@contextlib.contextmanager
def _counting_apart():
    """Each component counts its own n-grams, as before ``shared_counts`` (2026-12-07)."""
    from hybridnlp.hybrid import _text_ensemble, stacking

    kept = _text_ensemble.shared_counts, stacking.shared_counts
    _text_ensemble.shared_counts = stacking.shared_counts = contextlib.nullcontext
    try:
        yield
    finally:
        _text_ensemble.shared_counts, stacking.shared_counts = kept


def rows_for(label: str, clf, test) -> list[str]:
    threshold = clf.cascade_threshold_
    clf.cascade_threshold_ = None
    with sklearn_counting(), _counting_apart():
        apart_pred, apart_time = timed(lambda: _predict(clf, test.data), repeats=3)
    with sklearn_counting():
        once_pred, once_time = timed(lambda: _predict(clf, test.data), repeats=3)
    full_pred, full_time = timed(lambda: _predict(clf, test.data), repeats=3)
    assert np.array_equal(apart_pred, full_pred) and np.array_equal(once_pred, full_pred)
    full_acc = float(np.mean(full_pred == test.target))
    rows = [f"| {label} | full stack, each component counting its n-grams with scikit-learn "
            f"(before 2026-12-07) | - | 100.0 | {100 * full_acc:.2f} | - | {apart_time:.2f} | "
            f"{full_time / apart_time:.1f}x |",
            f"| {label} | full stack, n-grams counted once, by scikit-learn (before "
            f"2026-12-08) | - | 100.0 | {100 * full_acc:.2f} | - | {once_time:.2f} | "
            f"{full_time / once_time:.1f}x |",
            f"| {label} | full stack | - | 100.0 | {100 * full_acc:.2f} | - | "
            f"{full_time:.2f} | 1.0x |"]
    for budget in BUDGETS:
        clf.cascade_threshold_, held_share, _ = choose_threshold(clf.cascade_curve_, budget)
        pred, seconds = timed(lambda: _predict(clf, test.data), repeats=3)
        acc = float(np.mean(pred == test.target))
        share = float(clf.escalated(test.data).mean())
        rows.append(f"| {label} | cascade={budget:g} | {100 * held_share:.1f} | "
                    f"{100 * share:.1f} | {100 * acc:.2f} | {100 * (acc - full_acc):+.2f} | "
                    f"{seconds:.2f} | {full_time / seconds:.1f}x |")
        print(rows[-1], flush=True)
    clf.cascade_threshold_ = threshold
    return rows


def _describe_fit(label: str, clf, seconds: float) -> str:
    stages = "; ".join(
        f"{'+'.join(st['components'])}: {100 * st['escalated']:.1f}% escalated, "
        f"{1000 * st['seconds_per_text']:.3f} ms a text" for st in clf.cascade_stages_)
    costs = ", ".join(f"{n} {1000 * c:.3f}" for n, c in clf.cascade_costs_.items())
    return (f"{label}: fit {seconds:.0f} s; cheap stage {clf.cascade_components_} (measured "
            f"ms a text: {costs}; stages at cascade=0.002, held out: {stages}).")


def imdb() -> None:
    rng = np.random.default_rng(0)  # IMDB's files are sorted by label
    sets = []
    for split, size in (("train", 6000), ("test", 3000)):
        data = load_dataset("imdb", split=split)
        rows = rng.permutation(len(data.data))[:size]
        sets.append(types.SimpleNamespace(data=[data.data[i] for i in rows],
                                          target=np.asarray(data.target)[rows]))
    train, test = sets
    label = ("HybridClassifier(nbsvm__features__word_ngram_range=(1, 3), fasttext__ngram_range="
             "(1, 3), transformer__max_len=256, transformer__truncation='head_tail')")
    clf = HybridClassifier(random_state=0, cascade=0.002).set_params(
        nbsvm__features__word_ngram_range=(1, 3), fasttext__ngram_range=(1, 3),
        transformer__max_len=256, transformer__truncation="head_tail")
    start = time.perf_counter()
    clf.fit(train.data, train.target)
    fit = _describe_fit(label, clf, time.perf_counter() - start)
    table = ["| model | predict | escalated, held out (%) | escalated, test (%) | "
             "test accuracy | vs full | predict (s) | speed-up |", "|---" * 8 + "|"]
    table += rows_for(label, clf, test)
    write_section("cascade-imdb", "\n".join([
        "## Cascade on IMDB (issue 30)", "", stamp("python benchmarks/cascade.py imdb"), "",
        f"Fit once on {len(train.data):,} IMDB training reviews drawn at random (seed 0), the "
        f"IMDB benchmark's settings for long documents; each budget's threshold chosen on the "
        f"held-out texts of that fit; test: {len(test.data):,} test reviews drawn at random. "
        f"Predict time: median of 3 calls on all of them.", "", *table, "", fit, ""]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("sections", nargs="*", default=["sst2"],
                        choices=["sst2", "sst2-pretrained", "imdb"])
    args = parser.parse_args()
    if "imdb" in args.sections:
        imdb()
        args.sections.remove("imdb")
        if not args.sections:
            return
    command = "python benchmarks/cascade.py " + " ".join(sys.argv[1:])
    train, test = load_dataset("sst2", split="train"), load_dataset("sst2", split="test")
    table = ["| model | predict | escalated, held out (%) | escalated, test (%) | "
             "test accuracy | vs full | predict (s) | speed-up |", "|---" * 8 + "|"]
    fits = []
    for section in args.sections:
        if section == "sst2":
            label, clf = "HybridClassifier()", HybridClassifier(random_state=0, cascade=0.002)
        else:
            from pretrained import minilm_dir

            label = "HybridClassifier(pretrained=all-MiniLM-L6-v2, fine_tune=False)"
            clf = HybridClassifier(pretrained=minilm_dir(), fine_tune=False, random_state=0,
                                   cascade=0.002)
        start = time.perf_counter()
        clf.fit(train.data, train.target)
        fits.append(_describe_fit(label, clf, time.perf_counter() - start))
        table += rows_for(label, clf, test)
    write_section("cascade", "\n".join([
        "## Cascade: cheap components first (issue 30)", "", stamp(command), "",
        f"Fit on SST-2 train ({len(train.data):,} sentences) once; each budget's threshold is "
        f"chosen on the held-out texts of that fit (the share of them escalated is in the "
        f"third column), for the cheap stage the fit chose at cascade=0.002; test: "
        f"{len(test.data):,} sentences. Predict time: median of 3 "
        f"calls on all test sentences, the embedding cache cleared before each.", "",
        *table, "", *fits, ""]))


if __name__ == "__main__":
    main()
