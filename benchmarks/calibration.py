"""Calibration of the hybrid and the neural classifiers (issue 30, item 3) -> RESULTS.md
"Calibration".

``HybridClassifier(calibrate=True, random_state=0)`` (beta calibration of the top label),
the same with ``calibrate="temperature"`` (its components shared: ``share_fits``),
``TransformerClassifier(calibrate=True)`` and ``FastTextClassifier(calibrate=True,
validation_fraction=0.1)`` fit on each set's training texts (SST-2, TREC, ChnSentiCorp: their
train/test splits; MR, SUBJ: a seeded 80/20 split), then their test probabilities calibrated
and not (the same fit with its calibration set to the identity): accuracy, log loss and
expected calibration error (15 equal-width bins). The hybrid's calibration is fit on the meta
learner's cross-validated predictions of the held-out training texts, a neural classifier's
temperature on its validation texts; no test text is used.

Run alone: ``HYBRIDNLP_DATA=../shared/data .venv/bin/python benchmarks/calibration.py``
"""

from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.metrics import log_loss

sys.path.insert(0, str(Path(__file__).parent))
from _report import stamp, write_section  # noqa: E402

from hybridnlp import (  # noqa: E402
    FastTextClassifier,
    HybridClassifier,
    TransformerClassifier,
    load_dataset,
)
from hybridnlp.hybrid import share_fits  # noqa: E402

SETS = ("sst2", "trec", "mr", "subj", "chnsenticorp")
MODELS = {
    "HybridClassifier, beta (default)": lambda: HybridClassifier(calibrate=True,
                                                                 random_state=0),
    "HybridClassifier, temperature": lambda: HybridClassifier(calibrate="temperature",
                                                              random_state=0),
    "TransformerClassifier": lambda: TransformerClassifier(calibrate=True, random_state=0),
    "FastTextClassifier": lambda: FastTextClassifier(calibrate=True, validation_fraction=0.1,
                                                     random_state=0),
}
from hybridnlp.utils.calibration import expected_calibration_error  # noqa: E402


def split(name: str):
    if name in ("sst2", "trec", "chnsenticorp"):
        train, test = load_dataset(name, split="train"), load_dataset(name, split="test")
        return (list(train.data), np.asarray(train.target), list(test.data),
                np.asarray(test.target))
    data = load_dataset(name)
    order = np.random.default_rng(0).permutation(len(data.data))
    cut = int(0.8 * len(order))
    texts, y = list(data.data), np.asarray(data.target)
    return ([texts[i] for i in order[:cut]], y[order[:cut]], [texts[i] for i in order[cut:]],
            y[order[cut:]])


def _row(name, model, clf, fit_s, tr, te, tey) -> str:
    fitted = clf.temperature_, getattr(clf, "top_label_beta_", (1.0, 1.0, 0.0))
    calibrated = clf.predict_proba(te)
    clf.temperature_ = 1.0
    if hasattr(clf, "top_label_beta_"):
        clf.top_label_beta_ = (1.0, 1.0, 0.0)
    raw = clf.predict_proba(te)
    clf.temperature_ = fitted[0]
    if hasattr(clf, "top_label_beta_"):
        clf.top_label_beta_ = fitted[1]
    idx = np.searchsorted(clf.classes_, tey)
    acc = [np.mean(clf.classes_[p.argmax(1)] == tey) for p in (raw, calibrated)]
    ll = [log_loss(tey, p, labels=clf.classes_) for p in (raw, calibrated)]
    ece = [expected_calibration_error(idx, p) for p in (raw, calibrated)]
    fit = (f"T = {fitted[0]:.3f}" if fitted[1] == (1.0, 1.0, 0.0)
           else "a, b, m = " + ", ".join(f"{v:.2f}" for v in fitted[1]))
    return (f"| {name} | {model} | {len(tr):,} / {len(te):,} | {fit} | "
            f"{acc[0]:.4f} / {acc[1]:.4f} | {ll[0]:.4f} / {ll[1]:.4f} | "
            f"{ece[0]:.4f} / **{ece[1]:.4f}** | {fit_s:.0f} |")


def main(sets=SETS) -> None:
    warnings.simplefilter("ignore")
    rows = []
    for name in sets:
        tr, ty, te, tey = split(name)
        with share_fits():  # the two hybrids' components fit once
            for model, make in MODELS.items():
                start = time.perf_counter()
                clf = make().fit(tr, ty)
                rows.append(_row(name, model, clf, time.perf_counter() - start, tr, te, tey))
                print(rows[-1], flush=True)
    body = "\n".join([
        "Each model with `calibrate=True` (the hybrid: default components and meta learner, "
        "`random_state=0`; its beta calibration of the top label, the default, and with "
        "`calibrate=\"temperature\"`, the components shared); each cell: uncalibrated / "
        "calibrated (the same fit), on the test texts. The hybrid's calibration is fit on the "
        "meta learner's 5-fold cross-validated predictions of the held-out training texts; a "
        "neural classifier's temperature on its validation texts (the Transformer's 10% "
        "early-stopping share; fastText holds out 10% for it). \"a, b, m\": the top label's "
        "confidence c becomes sigmoid(a log c - b log(1 - c) + m). Fit seconds of the second "
        "hybrid are those of its meta level alone (its components were shared).",
        "",
        "| set | model | train / test texts | fitted | accuracy | log loss | ECE (15 bins) "
        "| fit s |",
        "|---|---|---|---:|---:|---:|---:|---:|",
        *rows,
    ])
    command = "HYBRIDNLP_DATA=../shared/data .venv/bin/python benchmarks/calibration.py"
    write_section("calibration", f"## Calibration (issue 30, item 3)\n\n{stamp(command)}\n"
                                 f"{body}\n")
    print(body)


if __name__ == "__main__":
    main(sys.argv[1:] or SETS)
