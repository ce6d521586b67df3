"""N-gram tables: memory, scoring speed and ARPA agreement with KenLM -> RESULTS.md "N-gram
tables".

A word 5-gram (``NGramLM(order=5)``, modified Kneser-Ney) on WikiText-2 train (2.1M tokens);
each measurement in a fresh process:

- ``fit``: seconds, and how far ``fit`` lifts the peak resident set, per distinct n-gram;
- ``score``: ``token_log_probs`` over the whole test stream, tokens/s (median of 3);
- the same two for the code at ``--baseline`` (a checkout of an earlier commit, e.g. the dict
  tables before this change: ``git worktree add /tmp/old 8970e1e``), in the same run;
- ``kenlm``: ``to_arpa``, then the ``kenlm`` package loads the file and scores every test line
  (``full_scores``, <s> ... </s>): tokens/s, and the largest difference of its log10
  probabilities from ours on the same lines.

``--scaling``: the same 5-gram on the largest text in the data directory (IMDB's 50,000
reviews, all but the last 1,000) and on concatenations of it up to about 100M tokens, each
``fit(path)`` in a fresh process: fit seconds, the process's peak resident set, resident bytes
per n-gram after fit, and scoring throughput and perplexity on the 1,000 held-out reviews ->
RESULTS.md "N-gram tables: up to 100M tokens".

Run alone: ``HYBRIDNLP_DATA=../shared/data .venv/bin/python benchmarks/ngram_tables.py
[--baseline /tmp/old] [--scaling]``
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _report import stamp, write_section  # noqa: E402

MEASURE = r'''
import json, math, os, resource, statistics, sys, time
if os.environ.get("BASELINE"):  # the earlier checkout, not the editable install's finder
    sys.meta_path = [f for f in sys.meta_path if "editable" not in type(f).__module__]
    sys.path.insert(0, os.environ["BASELINE"])
import numpy as np
import hybridnlp
print("code:", hybridnlp.__file__, file=sys.stderr)
from hybridnlp import NGramLM, load_dataset
from hybridnlp.lm._corpus import token_stream

train = load_dataset("wikitext2", split="train").data
test = load_dataset("wikitext2", split="test").data
train = train if isinstance(train, str) else "\n".join(train)
test = test if isinstance(test, str) else "\n".join(test)
import gc
def rss():
    gc.collect()
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
before, resident0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, rss()
t = time.perf_counter()
lm = NGramLM(order=5).fit(train)
fit_s = time.perf_counter() - t
lifted = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024
resident = rss() - resident0
n = int(sum(len(t) for t, _ in lm._tables.values())) if hasattr(lm, "_tables") else \
    int(sum(len(k) for k in lm._scores.keys.values()) + np.sum(lm._scores.logp[1] > -1e300))
ids = token_stream(lm.tokenizer_, test)
times = []
for _ in range(3):
    t = time.perf_counter()
    lp = lm.token_log_probs(ids)
    times.append(time.perf_counter() - t)
out = {"fit_s": fit_s, "ngrams": n, "bytes_per_ngram": lifted / n,
       "resident_per_ngram": resident / n,
       "tokens": len(ids) - 1, "score_tok_s": (len(ids) - 1) / statistics.median(times),
       "test_ppl": math.exp(-float(np.mean(lp)))}
if len(sys.argv) > 1:  # ARPA: KenLM against our scores, line by line
    import kenlm
    t = time.perf_counter()
    lm.to_arpa(sys.argv[1])
    out["arpa_write_s"] = time.perf_counter() - t
    t = time.perf_counter()
    ref = kenlm.Model(sys.argv[1])
    out["kenlm_load_s"] = time.perf_counter() - t
    lines = [l for l in test.split("\n") if l.strip()]
    tok = lm.tokenizer_
    t = time.perf_counter()
    theirs = [np.array([s[0] for s in ref.full_scores(l)]) for l in lines]
    kenlm_s = time.perf_counter() - t
    t = time.perf_counter()
    ours = [lm.token_log_probs([tok.eos_id, *tok.encode(l), tok.eos_id]) / math.log(10)
            for l in lines]
    ours_lines_s = time.perf_counter() - t
    n_tok = sum(len(x) for x in theirs)
    out.update(kenlm_tok_s=n_tok / kenlm_s, ours_lines_tok_s=n_tok / ours_lines_s,
               max_abs_log10_diff=float(max(np.abs(a - b).max() for a, b in
                                            zip(ours, theirs))))
print("RESULT " + json.dumps(out))
'''


SCALE = r'''
import gc, json, math, os, resource, statistics, sys, time
from pathlib import Path
import numpy as np
from hybridnlp import NGramLM
from hybridnlp.lm._corpus import token_stream

def rss():
    gc.collect()
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
resident0 = rss()
t = time.perf_counter()
lm = NGramLM(order=5).fit(Path(sys.argv[1]))
fit_s = time.perf_counter() - t
n = lm._scores.n_entries()
resident = rss() - resident0
ids = token_stream(lm.tokenizer_, Path(sys.argv[2]).read_text(encoding="utf-8"))
times = []
for _ in range(3):
    t = time.perf_counter()
    lp = lm.token_log_probs(ids)
    times.append(time.perf_counter() - t)
print("RESULT " + json.dumps({
    "tokens": lm.n_tokens_, "ngrams": n, "fit_s": fit_s,
    "peak_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
    "resident_per_ngram": resident / n,
    "score_tok_s": (len(ids) - 1) / statistics.median(times),
    "test_ppl": math.exp(-float(np.mean(lp)))}))
'''


def scaling() -> str:
    """The 5-gram on IMDB and on concatenations of it up to ~100M tokens (module docstring)."""
    from hybridnlp import load_dataset

    reviews = [" ".join(t.split()) for t in load_dataset("imdb").data]
    train, test = reviews[:-1000], reviews[-1000:]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        test_file = Path(tmp) / "test.txt"
        test_file.write_text("\n".join(test) + "\n", encoding="utf-8")
        for label, part in (("1/4", 4), ("1/2", 2), ("whole", 1)):
            corpus = Path(tmp) / f"train_{part}.txt"
            corpus.write_text("\n".join(train[:len(train) // part]) + "\n", encoding="utf-8")
            rows.append((f"IMDB {label}", _measure(corpus, test_file)))
            corpus.unlink()
        for copies in (3, 9):
            corpus = Path(tmp) / f"train_x{copies}.txt"
            with corpus.open("w", encoding="utf-8") as f:
                for _ in range(copies):
                    f.write("\n".join(train) + "\n")
            rows.append((f"IMDB x {copies}", _measure(corpus, test_file)))
            corpus.unlink()
    lines = ["| corpus | tokens | n-grams held | fit s | peak resident GiB | bytes per n-gram "
             "resident after fit | score tokens/s | held-out perplexity |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name, r in rows:
        lines.append(f"| {name} | {r['tokens']:,} | {r['ngrams']:,} | {r['fit_s']:.0f} | "
                     f"{r['peak_gib']:.1f} | {r['resident_per_ngram']:.0f} | "
                     f"{r['score_tok_s']:,.0f} | {r['test_ppl']:.2f} |")
    return "\n".join(lines)


def _measure(corpus: Path, test_file: Path) -> dict:
    run = subprocess.run([sys.executable, "-c", SCALE, str(corpus), str(test_file)],
                         capture_output=True, text=True)
    if run.returncode:
        raise RuntimeError(f"the measurement failed:\n{run.stderr[-3000:]}")
    print(corpus.name, run.stdout.strip(), file=sys.stderr)
    return json.loads(run.stdout.split("RESULT ", 1)[1])


def _run(pythonpath: str | None, *extra: str) -> dict:
    env = dict(os.environ)
    if pythonpath:
        env["BASELINE"] = pythonpath
    run = subprocess.run([sys.executable, "-c", MEASURE, *extra], capture_output=True,
                         text=True, env=env)
    if run.returncode:
        raise RuntimeError(f"the measurement failed:\n{run.stderr[-3000:]}")
    out = run.stdout
    return json.loads(out.split("RESULT ", 1)[1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--baseline", help="a checkout of the earlier code to compare with")
    parser.add_argument("--scaling", action="store_true",
                        help="only the IMDB scaling rows, up to ~100M tokens")
    args = parser.parse_args()
    if args.scaling:
        body = scaling()
        command = ("HYBRIDNLP_DATA=../shared/data .venv/bin/python benchmarks/ngram_tables.py "
                   "--scaling")
        write_section("ngram_scaling", f"## N-gram tables: up to 100M tokens (issue 35)\n\n"
                                       f"{stamp(command)}\n"
                                       f"`NGramLM(order=5)` (word tokens, every word kept, "
                                       f"modified Kneser-Ney) `.fit(path)` on IMDB's reviews "
                                       f"but the last 1,000, and on that text repeated 3 and 9 "
                                       f"times; each row in a fresh process. Perplexity and "
                                       f"scoring on the last 1,000 reviews (whole stream, median "
                                       f"of 3).\n\n{body}\n")
        print(body)
        return
    with tempfile.TemporaryDirectory() as tmp:
        ours = _run(None, str(Path(tmp) / "wt2.arpa"))
    rows = [("this code", ours)]
    if args.baseline:
        rows.append((f"baseline ({args.baseline})", _run(args.baseline)))
    lines = ["| code | fit s | n-grams held | bytes per n-gram resident after fit | peak "
             "during fit | score tokens/s | test perplexity |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for name, r in rows:
        lines.append(f"| {name} | {r['fit_s']:.1f} | {r['ngrams']:,} | "
                     f"{r['resident_per_ngram']:.0f} | {r['bytes_per_ngram']:.0f} | "
                     f"{r['score_tok_s']:,.0f} | {r['test_ppl']:.2f} |")
    if args.baseline:
        base = rows[1][1]
        lines.append("")
        lines.append(f"Scoring throughput {ours['score_tok_s'] / base['score_tok_s']:.1f}x "
                     f"the baseline's; resident memory per n-gram "
                     f"{base['resident_per_ngram'] / ours['resident_per_ngram']:.1f}x "
                     f"smaller.")
    lines += ["", f"ARPA: written in {ours['arpa_write_s']:.1f} s, loaded by `kenlm` in "
                  f"{ours['kenlm_load_s']:.1f} s; on the {ours['tokens']:,}-token test set "
                  f"line by line (<s> ... </s>), the largest difference of KenLM's log10 "
                  f"probabilities from ours is {ours['max_abs_log10_diff']:.1e}; KenLM "
                  f"scores {ours['kenlm_tok_s']:,.0f} tokens/s (`full_scores`, a Python call "
                  f"per line), ours {ours['ours_lines_tok_s']:,.0f} tokens/s called the same "
                  f"way and {ours['score_tok_s']:,.0f} tokens/s on the whole stream."]
    command = "HYBRIDNLP_DATA=../shared/data .venv/bin/python benchmarks/ngram_tables.py" + (
        f" --baseline {args.baseline}" if args.baseline else "")
    body = "\n".join(lines)
    write_section("ngram_tables", f"## N-gram tables\n\n{stamp(command)}\n"
                                  f"Word 5-gram, modified Kneser-Ney, WikiText-2 train; each "
                                  f"row in a fresh process.\n\n{body}\n")
    print(body)


if __name__ == "__main__":
    main()
