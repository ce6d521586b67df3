"""The hybrid against its best component (issue 30, item 1) -> RESULTS.md "Hybrids: the
meta learner chosen out of fold".

On each visible classification set (SST-2, TREC, ChnSentiCorp: their train/test splits; MR,
SUBJ: the seeded 80/20 split of ``calibration.py``) and on seeded samples of 300 / 1,000 /
3,000 of its training texts, ``HybridClassifier(random_state=0)`` is fit with its default
meta learner (logistic regression), with ``SimplexWeights`` (the default before) and with
``MetaSelection`` (each component alone and each combination, chosen by cross-validation on
the held-out predictions), under ``share_fits`` so the components fit once for the three.
Scored on the whole test split, beside each component's own test accuracy. No test text is
used to choose anything. About 15 minutes on 2 cores; run it alone.

``HYBRIDNLP_DATA=../shared/data .venv/bin/python benchmarks/meta_selection.py [SET ...]``
"""

from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _report import stamp, write_section  # noqa: E402
from calibration import split  # noqa: E402

from hybridnlp import HybridClassifier  # noqa: E402
from hybridnlp.hybrid import MetaSelection, SimplexWeights, share_fits  # noqa: E402

SETS = ("sst2", "trec", "mr", "subj", "chnsenticorp")
SIZES = (300, 1000, 3000, None)  # None: every training text


def run(name: str, size: int | None, texts, y, test_texts, test_y) -> dict:
    if size is not None:
        keep = np.sort(np.random.default_rng(0).choice(len(texts), size, replace=False))
        texts, y = [texts[i] for i in keep], y[keep]
    start = time.perf_counter()
    with share_fits():  # the components fit once for the three meta learners
        fitted = {meta: HybridClassifier(final_estimator=final, random_state=0).fit(texts, y)
                  for meta, final in (("default", None), ("simplex", SimplexWeights()),
                                      ("selection", MetaSelection(random_state=0)))}
    seconds = time.perf_counter() - start
    report = fitted["default"].component_report(test_texts, test_y).summary["accuracy"]
    report.pop("final")
    best = max(report, key=report.get)
    return {"texts": len(texts), "meta_rows": fitted["default"].n_meta_rows_,
            "best": best, "best_accuracy": report[best], "seconds": seconds,
            "chosen": fitted["selection"].final_estimator_.chosen_,
            **{meta: clf.score(test_texts, test_y) for meta, clf in fitted.items()}}


def main(sets=SETS) -> None:
    warnings.simplefilter("ignore")
    rows, below = [], []
    for name in sets:
        texts, y, test_texts, test_y = split(name)
        for size in SIZES:
            r = run(name, size, texts, y, test_texts, test_y)
            gap = 100 * (r["default"] - r["best_accuracy"])
            if gap < 0:
                below.append(f"{name} at {r['texts']:,} texts ({gap:+.2f})")
            rows.append(f"| {name} | {r['texts']:,} | {r['meta_rows']:,} | {r['best']} "
                        f"{r['best_accuracy']:.4f} | **{r['default']:.4f}** ({gap:+.2f}) | "
                        f"{r['simplex']:.4f} | {r['selection']:.4f} ({r['chosen']}) | "
                        f"{r['seconds']:.0f} |")
            print(rows[-1], flush=True)
    body = "\n".join([
        "Test accuracy. \"held out\": the texts the meta learner learns from (every text "
        "under 5,000, each component 5-fold; from 5,000 on the shared 20% holdout). The "
        "default meta learner is a logistic regression on the held-out probabilities; "
        "`SimplexWeights` was the default before; `MetaSelection` chooses among each "
        "component alone, simplex weights, greedy selection and the logistic regression by "
        "5-fold CV accuracy on the held-out texts (\"learner i\": the i-th of nbsvm, tfidf, "
        "mnb, fasttext, transformer). Fit time covers all three (the components fit once).",
        "",
        "| set | training texts | held out | best component (test) | HybridClassifier "
        "(vs best) | simplex weights | MetaSelection (chosen) | fit s |",
        "|---|---:|---:|---|---|---:|---:|---:|",
        *rows,
        "",
        "Below its best component: " + ("; ".join(below) if below else "nowhere") + ".",
    ])
    command = ("HYBRIDNLP_DATA=../shared/data .venv/bin/python benchmarks/meta_selection.py"
               + ("" if tuple(sets) == SETS else " " + " ".join(sets)))
    write_section("hybrid-meta-selection",
                  "## Hybrids: the meta learner chosen out of fold (issue 30, item 1)\n\n"
                  f"{stamp(command)}\n{body}\n")
    print(body)


if __name__ == "__main__":
    main(sys.argv[1:] or SETS)
