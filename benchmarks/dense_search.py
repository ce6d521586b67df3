"""Dense search over 100k+ passages: our brute force against approximate indexes (issue 29,
item 5) -> RESULTS.md "Question answering: dense search, brute force against an
approximate index".

The pool is ``bm25_peer.py``'s (the SQuAD passages and every text of the data directory's
IMDB, 20 Newsgroups, Multi30k, SST-2 phrases, MR, SUBJ, TREC and WikiText-2 paragraphs),
embedded by ``DenseRetriever`` (TF-IDF-weighted mean of skip-gram word vectors trained on the
pool, 200 dimensions, unit length; one epoch: the vectors' geometry is the retriever's, their
quality does not change the timing). The queries are SQuAD dev questions. Each search runs on
one thread (NumPy, torch and faiss), alone, and returns the top 10:

* ours: ``DenseRetriever.search`` (a float32 matrix product over every passage, blocks of
  queries, ``argpartition`` top-k);
* faiss ``IndexFlatIP``: the same exact search by faiss's BLAS kernels, a peer for the brute
  force;
* faiss ``IndexHNSWFlat`` (M=32, efConstruction=200) at several ``efSearch``, and
  ``IndexIVFFlat`` (4 sqrt(n) lists) at several ``nprobe``: approximate indexes, with their
  build time and recall@10 against the exact top 10.

Run alone: ``HYBRIDNLP_DATA=../shared/data OMP_NUM_THREADS=1 .venv/bin/python
benchmarks/dense_search.py`` (needs ``faiss-cpu``, in the bench extra).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from _report import stamp, write_section  # noqa: E402
from bm25_peer import pools  # noqa: E402

from hybridnlp import load_dataset  # noqa: E402
from hybridnlp.qa import DenseRetriever  # noqa: E402

K = 10
N_QUERIES = 2000


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def recall(found: np.ndarray, kth: np.ndarray, q: np.ndarray, vectors: np.ndarray) -> float:
    """The share of each query's top K found: a found passage counts when it scores at least
    the exact K-th score (so a duplicate passage, tied with one of the exact top K, counts as
    it would in any exact search), averaged over the queries."""
    scores = np.einsum("qd,qkd->qk", q, vectors[np.maximum(found, 0)])
    return float(np.mean((scores >= kth[:, None] - 1e-5) & (found >= 0)))


def main() -> None:
    import faiss

    torch.set_num_threads(1)
    faiss.omp_set_num_threads(1)
    passages = pools()["data directory pool"]
    queries = list(load_dataset("squad", split="dev").data[:N_QUERIES])
    retriever, fit_s = timed(lambda: DenseRetriever(epochs=1, random_state=0).fit(passages))
    vectors = np.ascontiguousarray(retriever.matrix_, dtype=np.float32)
    n, d = vectors.shape
    q = np.ascontiguousarray(retriever.encoder_.transform(queries), dtype=np.float32)
    rows = []

    def row(name, build_s, search_s, found, size):
        rows.append(f"| {name} | {build_s:.1f} | {len(queries) / search_s:,.0f} | "
                    f"{1000 * search_s / len(queries):.2f} | "
                    f"{recall(found, kth, q, vectors):.4f} | {size / 2**20:.0f} |")
        print(rows[-1], flush=True)

    retriever.search(queries[:50], k=K)  # warm-up
    (ours, _), ours_s = timed(lambda: retriever.search(queries, k=K))
    # ours embeds the queries inside search: time the embedding alone to compare the search
    _, embed_s = timed(lambda: retriever.encoder_.transform(queries))
    flat = faiss.IndexFlatIP(d)
    _, flat_build = timed(lambda: flat.add(vectors))
    flat.search(q[:50], K)
    (exact_scores, exact), flat_s = timed(lambda: flat.search(q, K))
    kth = exact_scores[:, -1]
    row("ours, brute force (`DenseRetriever.search`, query embedding excluded)", fit_s,
        ours_s - embed_s, ours, vectors.nbytes)
    row("faiss `IndexFlatIP` (exact)", flat_build, flat_s, exact, vectors.nbytes)
    hnsw = faiss.IndexHNSWFlat(d, 32, faiss.METRIC_INNER_PRODUCT)
    hnsw.hnsw.efConstruction = 200
    _, hnsw_build = timed(lambda: hnsw.add(vectors))
    hnsw_size = vectors.nbytes + n * 32 * 2 * 4  # the vectors and about 2M links a node
    for ef in (16, 32, 64, 128, 256):
        hnsw.hnsw.efSearch = ef
        (_, found), s = timed(lambda: hnsw.search(q, K))
        row(f"faiss `IndexHNSWFlat` M=32, efSearch={ef}", hnsw_build, s, found, hnsw_size)
    nlist = int(4 * np.sqrt(n))
    quantizer = faiss.IndexFlatIP(d)  # kept referenced: the index does not own it
    ivf = faiss.IndexIVFFlat(quantizer, d, nlist, faiss.METRIC_INNER_PRODUCT)
    _, ivf_build = timed(lambda: (ivf.train(vectors), ivf.add(vectors)))
    for nprobe in (4, 16, 64):
        ivf.nprobe = nprobe
        (_, found), s = timed(lambda: ivf.search(q, K))
        row(f"faiss `IndexIVFFlat` {nlist} lists, nprobe={nprobe}", ivf_build, s, found,
            vectors.nbytes)
    same = float(np.mean(ours[:, 0] == exact[:, 0]))  # ties may order differently
    body = "\n".join([
        "## Question answering: dense search, brute force against an approximate index "
        "(issue 29)", "", stamp("HYBRIDNLP_DATA=../shared/data OMP_NUM_THREADS=1 "
                                ".venv/bin/python benchmarks/dense_search.py"), "",
        f"{n:,} passages (the data directory pool of \"BM25 against bm25s\") as {d}-dimension "
        f"unit vectors from `DenseRetriever(epochs=1)`; {len(queries):,} SQuAD dev questions; "
        f"top {K}; one thread. Build: seconds to make the index from the vectors (ours: the "
        f"retriever's whole fit, word2vec included). Recall@{K}: the share of the exact top "
        f"{K} found. Our brute force's search time excludes embedding the questions "
        f"({1000 * embed_s / len(queries):.2f} ms a question), which every row needs; its "
        f"first hit equals faiss's exact one for {100 * same:.1f}% of the questions (ties "
        f"between duplicate passages may order differently). Recall counts a passage found "
        f"when it scores at least the exact {K}th score.", "",
        f"| search | build s | queries/s | ms a query | recall@{K} | index MiB |",
        "|---|---:|---:|---:|---:|---:|", *rows, ""])
    write_section("dense-search", body)
    print(body)


if __name__ == "__main__":
    main()
