"""BM25 against ``bm25s`` (issue 29, item 5) -> benchmarks/RESULTS.md, section "bm25-peer".

Both on one thread (``OMP_NUM_THREADS=1``, ``bm25s`` with ``n_threads=1``), the same tokens
(our shared word splitter's, lower-cased, given to ``bm25s`` as lists of words), the same
BM25 (Lucene IDF, k1 = 1.5, b = 0.75, ``bm25s``'s default method). Pools: the 1,496 SQuAD
passages (train + dev), and at least 100,000 passages from the data directory (those, IMDB
reviews, 20 Newsgroups posts, WikiText-2 paragraphs, Multi30k captions, SST and MR
sentences). Queries: the 4,961 SQuAD dev questions. Figures: index docs/s (tokenising
included for both), queries/s for the top 10, and how often the two top-10 lists agree.

Run: ``HYBRIDNLP_DATA=../shared/data OMP_NUM_THREADS=1 .venv/bin/python
benchmarks/bm25_peer.py`` (a few minutes; ``pip install bm25s``).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from _report import stamp, write_section  # noqa: E402

from hybridnlp import load_dataset  # noqa: E402
from hybridnlp.qa import BM25Retriever  # noqa: E402
from hybridnlp.qa.retrievers import _Terms  # noqa: E402

K = 10


def pools() -> dict[str, list[str]]:
    squad = [*load_dataset("squad", split="train").passages,
             *load_dataset("squad", split="dev").passages]
    big = list(squad)
    for name in ("imdb", "20newsgroups", "multi30k", "sst2_phrases", "mr", "subj", "trec"):
        big += [t for t in load_dataset(name, split=None if name in ("mr", "subj") else
                                        "train").data if t.strip()]
    wiki = "\n".join(load_dataset("wikitext2", split="train").data).split("\n")
    big += [p for p in wiki if len(p.split()) > 20]
    return {"SQuAD passages": squad, "data directory pool": big}


def measure(passages: list[str], queries: list[str]) -> dict:
    import bm25s

    terms = _Terms(False, False)
    start = time.perf_counter()
    ours = BM25Retriever().fit(passages)
    ours_index = time.perf_counter() - start
    start = time.perf_counter()
    ids, _ = ours.search(queries, k=K)
    ours_search = time.perf_counter() - start

    start = time.perf_counter()
    peer = bm25s.BM25(k1=1.5, b=0.75, method="lucene")
    peer.index([terms(p) for p in passages], show_progress=False)
    peer_index = time.perf_counter() - start
    start = time.perf_counter()
    query_terms = [terms(q) or ["<none>"] for q in queries]
    peer_ids, _ = peer.retrieve(query_terms, k=K, show_progress=False, n_threads=1)
    peer_search = time.perf_counter() - start
    same_first = float(np.mean(ids[:, 0] == peer_ids[:, 0]))
    overlap = float(np.mean([len(set(a) & set(b)) / K for a, b in zip(ids, peer_ids,
                                                                        strict=True)]))
    return {"n": len(passages), "ours_docs_s": len(passages) / ours_index,
            "peer_docs_s": len(passages) / peer_index,
            "ours_q_s": len(queries) / ours_search, "peer_q_s": len(queries) / peer_search,
            "same_first": same_first, "overlap": overlap}


def main(command: str) -> None:
    queries = list(load_dataset("squad", split="dev").data)
    rows = ["| pool | passages | index docs/s: ours | bm25s | ratio | queries/s: ours | bm25s "
            "| ratio | same first | top-10 overlap |", "|---|---|---|---|---|---|---|---|---|---|"]
    for name, passages in pools().items():
        m = measure(passages, queries)
        rows.append(f"| {name} | {m['n']:,} | {m['ours_docs_s']:,.0f} | {m['peer_docs_s']:,.0f} "
                    f"| {m['ours_docs_s'] / m['peer_docs_s']:.2f}x | {m['ours_q_s']:,.0f} | "
                    f"{m['peer_q_s']:,.0f} | {m['ours_q_s'] / m['peer_q_s']:.2f}x | "
                    f"{100 * m['same_first']:.2f}% | {100 * m['overlap']:.2f}% |")
        print(rows[-1], flush=True)
    body = "\n".join(["## Question answering: BM25 against bm25s (issue 29)", "",
                      stamp(command), "", __doc__.split("\n\n")[1].replace("\n", " "), "",
                      *rows, ""])
    write_section("bm25-peer", body)


if __name__ == "__main__":
    main("OMP_NUM_THREADS=1 python benchmarks/bm25_peer.py")
