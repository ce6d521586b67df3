"""The hybrid's meta learner against its best component on small training sets (issue 30,
item 1): ``HybridClassifier`` with its default ``SimplexWeights`` and with ``MetaSelection``,
on a seeded sample of 300 / 1,000 / 3,000 training texts of SST-2 and TREC, scored on the whole
test split, with each component's own test accuracy. About 1.5 minutes on 2 cores.

Writes ``/tmp/curve.json`` (or the path given) for the RESULTS.md section
"Hybrids: the meta learner chosen out of fold".
"""

from __future__ import annotations

import json
import sys
import warnings

import numpy as np

from hybridnlp import HybridClassifier, load_dataset
from hybridnlp.hybrid import MetaSelection, share_fits


def main(path: str = "/tmp/curve.json") -> None:
    warnings.simplefilter("ignore")
    out = {}
    for name in ("sst2", "trec"):
        train, test = load_dataset(name, split="train"), load_dataset(name, split="test")
        texts, y = list(train.data), np.asarray(train.target)
        test_texts, test_y = list(test.data), np.asarray(test.target)
        for n in (300, 1000, 3000):
            keep = np.sort(np.random.default_rng(0).choice(len(texts), n, replace=False))
            tr, ty = [texts[i] for i in keep], y[keep]
            with share_fits():  # the components fit once for both
                default = HybridClassifier(random_state=0).fit(tr, ty)
                chosen = HybridClassifier(final_estimator=MetaSelection(random_state=0),
                                          random_state=0).fit(tr, ty)
            report = default.component_report(test_texts, test_y).summary["accuracy"]
            out[f"{name}-{n}"] = {
                "components": {k: round(v, 4) for k, v in report.items()},
                "default": round(default.score(test_texts, test_y), 4),
                "meta_selection": round(chosen.score(test_texts, test_y), 4),
                "chosen": chosen.final_estimator_.chosen_}
            print(name, n, out[f"{name}-{n}"], flush=True)
    with open(path, "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main(*sys.argv[1:])
