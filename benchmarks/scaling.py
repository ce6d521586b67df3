"""How cost grows (issue: scale out) -> RESULTS.md "Scaling" and benchmarks/scaling.png.

- ``hybrid``: ``HybridClassifier`` fit time vs training texts (SST-2 phrases, 1k to all 67k;
  the Transformer held to 3 epochs so that every size does the same work per text).
- ``ngram``: ``NGramLM`` (order 3, word tokens) fit time and peak memory vs tokens: fractions
  of WikiText-2 train, then all 50k IMDB reviews (train + test); each fit in a fresh process,
  its memory how far ``fit`` lifts the peak resident set; ``fit(path)`` (streamed) and
  ``fit(text)``.
- ``features``: ``TfidfFeatures`` (word 1-2 grams) fit time and peak memory vs reviews (IMDB,
  a quarter, a half, all 50k), each fit in a fresh process: ``fit(path)`` streamed against
  ``fit(list)`` (the list read within the measured span, since a caller holds it).
- ``causal_lm``: ``CausalLM`` training tokens/s vs model size (presets, char tokens).
- ``seq2seq``: ``Seq2SeqLM`` beam-5 decoding, sentences/s vs batch size (Multi30k test2016).
- ``ddp``: ``CausalLM`` under ``torchrun`` with 1 and 2 processes on this machine's 2 cores:
  tokens/s, efficiency, final losses.
- ``dask``: MR 10-fold ``HybridClassifier`` run by the experiment runner serially and on a
  2-worker Dask ``LocalCluster`` (``execution: {backend: dask, n_jobs: 2}``): wall time and
  accuracy.

Run alone (timings): ``HYBRIDNLP_DATA=../shared/data .venv/bin/python benchmarks/scaling.py
hybrid features ngram causal_lm seq2seq ddp dask``; ``render`` rewrites the section and the
plot from ``benchmarks/scaling.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _report import stamp, write_section  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RAW = ROOT / "benchmarks" / "scaling.json"
PLOT = ROOT / "benchmarks" / "scaling.png"
COMMAND = ("HYBRIDNLP_DATA=../shared/data .venv/bin/python benchmarks/scaling.py hybrid "
           "features ngram causal_lm seq2seq ddp dask")


def _exponent(x, y) -> float:
    """The slope of log y against log x (cost ~ size ** slope)."""
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


# ---------------------------------------------------------------------- sections

def hybrid(record) -> None:
    from hybridnlp import HybridClassifier, load_dataset

    data = load_dataset("sst2_phrases", split="train")
    rng = np.random.default_rng(0)
    order = rng.permutation(len(data.data))
    rows = []
    for n in (1000, 2000, 4000, 8000, 16000, 32000, len(order)):
        keep = order[:n]
        texts, y = [data.data[i] for i in keep], data.target[keep]
        model = HybridClassifier(random_state=0).set_params(transformer__max_epochs=3,
                                                            transformer__patience=None)
        start = time.perf_counter()
        model.fit(texts, y)
        rows.append({"n": n, "seconds": time.perf_counter() - start})
        print("hybrid", rows[-1], flush=True)
    record["hybrid"] = rows


def _peak_rss_mib() -> float:
    """The peak resident set since the last ``_reset_peak_rss`` (VmHWM), in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status (Linux only)")


def _reset_peak_rss() -> None:
    Path("/proc/self/clear_refs").write_text("5")  # "5": reset the peak RSS to the current one


def _ngram_child(mode: str, corpus_file: str) -> None:
    """One fit in this fresh process: its time and how far ``fit`` lifts the peak resident set
    above the resident set it started from (mode ``file``: fit on the path, streamed; ``text``:
    the whole text read first, then fit on the string)."""
    from hybridnlp.lm import NGramLM

    corpus = Path(corpus_file) if mode == "file" else Path(corpus_file).read_text("utf-8")
    NGramLM(order=3).fit("a warm-up fit: the modules fit imports are not the corpus's cost.\n")
    _reset_peak_rss()
    before = _peak_rss_mib()
    start = time.perf_counter()
    lm = NGramLM(order=3).fit(corpus)
    seconds = time.perf_counter() - start
    print(json.dumps({"tokens": int(lm.n_tokens_), "seconds": seconds,
                      "ngrams": int(lm._scores.n_entries()),
                      "peak_mib": _peak_rss_mib() - before}))


def _features_child(mode: str, corpus_file: str) -> None:
    """One ``TfidfFeatures`` fit in this fresh process, on the path (streamed) or on the list
    of its lines read first; memory: how far reading and fitting lift the peak resident set."""
    from hybridnlp import TfidfFeatures

    TfidfFeatures().fit(["a warm-up fit", "imports are not the corpus's cost"])
    _reset_peak_rss()
    before = _peak_rss_mib()
    start = time.perf_counter()
    texts = Path(corpus_file) if mode == "file" else \
        Path(corpus_file).read_text("utf-8").split("\n")
    model = TfidfFeatures().fit(texts)
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "features": int(model.n_features_out_),
                      "peak_mib": _peak_rss_mib() - before}))


def features(record) -> None:
    from hybridnlp import load_dataset

    imdb = [t.replace("\n", " ") for s in ("train", "test")
            for t in load_dataset("imdb", split=s).data]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for fraction in (4, 2, 1):
            lines = imdb[: len(imdb) // fraction]
            path = Path(tmp) / "reviews.txt"
            path.write_text("\n".join(lines), "utf-8")
            row = {"texts": len(lines), "mib": path.stat().st_size / 2 ** 20}
            for mode in ("file", "list"):
                out = subprocess.run([sys.executable, __file__, "_features_child", mode,
                                      str(path)], capture_output=True, text=True, check=True)
                fit = json.loads(out.stdout.strip().splitlines()[-1])
                row.update({"features": fit["features"], f"{mode}_seconds": fit["seconds"],
                            f"{mode}_peak_mib": fit["peak_mib"]})
            rows.append(row)
            print("features", rows[-1], flush=True)
    record["features"] = rows


def ngram(record) -> None:
    from hybridnlp import load_dataset

    wiki = load_dataset("wikitext2", split="train").data
    imdb = [t for s in ("train", "test") for t in load_dataset("imdb", split=s).data]
    corpora = [("wikitext2 1/8", wiki[: len(wiki) // 8]), ("wikitext2 1/4", wiki[: len(wiki) // 4]),
               ("wikitext2 1/2", wiki[: len(wiki) // 2]), ("wikitext2", wiki),
               ("imdb 50k", imdb)]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, lines in corpora:
            path = Path(tmp) / "corpus.txt"
            path.write_text("\n".join(lines), "utf-8")
            row = {"corpus": name, "mib": path.stat().st_size / 2 ** 20}
            for mode in ("file", "text"):
                out = subprocess.run([sys.executable, __file__, "_ngram_child", mode, str(path)],
                                     capture_output=True, text=True, check=True)
                fit = json.loads(out.stdout.strip().splitlines()[-1])
                prefix = "" if mode == "file" else "text_"
                row.update({"tokens": fit["tokens"], "ngrams": fit["ngrams"],
                            prefix + "seconds": fit["seconds"],
                            prefix + "peak_mib": fit["peak_mib"]})
            rows.append(row)
            print("ngram", rows[-1], flush=True)
    record["ngram"] = rows


def causal_lm(record) -> None:
    from hybridnlp import load_dataset
    from hybridnlp.lm import CausalLM

    text = "\n".join(load_dataset("wikitext2", split="train").data)[:3_000_000]
    rows = []
    for preset in ("gpt-nano", "quick", "baby", "gpt-micro", "gpt-mini"):
        lm = CausalLM(preset=preset, max_steps=60, eval_interval=10_000, eval_windows=8,
                      batch_size=12, random_state=0)
        lm.fit(text)
        tokens = 12 * lm.config_.block_size
        hist = lm.history_
        seconds = hist[-1]["time"]
        params = sum(p.numel() for p in lm.model_.parameters())
        rows.append({"preset": preset, "params": int(params), "block_size": lm.config_.block_size,
                     "tokens_per_s": hist[-1]["step"] * tokens / seconds})
        print("causal_lm", rows[-1], flush=True)
    record["causal_lm"] = rows


def seq2seq(record) -> None:
    from hybridnlp import load_dataset
    from hybridnlp.seq2seq import Seq2SeqLM

    train, test = load_dataset("multi30k", split="train"), load_dataset("multi30k", split="test")
    mt = Seq2SeqLM(preset="small", max_time=300, random_state=0).fit(train.data,
                                                                    list(train.target))
    rows = []
    for batch in (1, 8, 32, 128):
        sources = test.data[:100] if batch == 1 else test.data
        start = time.perf_counter()
        mt.predict(sources, batch_size=batch)
        rows.append({"batch_size": batch, "sentences_per_s":
                     len(sources) / (time.perf_counter() - start)})
        print("seq2seq", rows[-1], flush=True)
    record["seq2seq"] = rows


def _ddp_child(out: str) -> None:
    """Started by torchrun: one CausalLM fit; rank 0 writes its tokens/s and losses."""
    from hybridnlp import load_dataset
    from hybridnlp.lm import CausalLM
    from hybridnlp.train import distributed

    text = "\n".join(load_dataset("wikitext2", split="train").data)[:3_000_000]
    lm = CausalLM(preset="quick", max_steps=400, eval_interval=400, eval_windows=64,
                  batch_size=32, random_state=0)
    lm.fit(text)
    distributed.finish()
    if distributed.is_main():
        last = lm.history_[-1]
        Path(out).write_text(json.dumps({
            "tokens_per_s": last["step"] * 32 * lm.config_.block_size / last["time"],
            "train_loss": last["train_loss"], "val_loss": lm.val_loss_,
            "threads": __import__("torch").get_num_threads()}))


def ddp(record) -> None:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in (1, 2):
            out = Path(tmp) / f"ddp{n}.json"
            if n == 1:  # one process with both cores' threads, as a user would run it
                command = [sys.executable, __file__, "_ddp_child", str(out)]
            else:
                command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
                           f"--nproc_per_node={n}", __file__, "_ddp_child", str(out)]
            subprocess.run(command, check=True, env={**os.environ, "OMP_NUM_THREADS":
                                                     str(2 // n)})
            rows.append({"processes": n, **json.loads(out.read_text())})
            print("ddp", rows[-1], flush=True)
    record["ddp"] = rows


def dask(record) -> None:
    from hybridnlp.experiments import run

    base = {"name": "mr-scaling", "task": "classification", "data": {"name": "mr"},
            "models": [{"type": "hybrid", "params": {"transformer__max_epochs": 2}}],
            "evaluation": {"cv": 10, "metrics": ["accuracy"], "save_models": False}}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, execution in (("serial", {}), ("dask, 2 workers",
                                                  {"backend": "dask", "n_jobs": 2})):
            config = {**base, "output": tmp, "execution": execution}
            start = time.perf_counter()
            result = run(config, quiet=True)
            seconds = time.perf_counter() - start
            metrics = json.loads((result.run_dir / "metrics.json").read_text())
            folds = [f["accuracy"] for f in metrics["models"]["hybrid"]["folds"]]
            rows.append({"execution": label, "seconds": seconds, "accuracy": float(np.mean(folds)),
                         "folds": folds})
            print("dask", {k: v for k, v in rows[-1].items() if k != "folds"}, flush=True)
    record["dask"] = rows


# ---------------------------------------------------------------------- report

def plot(record) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [("hybrid", "n", "seconds", "HybridClassifier fit", "training texts", "seconds"),
              ("ngram", "tokens", "seconds", "NGramLM fit", "tokens", "seconds"),
              ("ngram", "tokens", "peak_mib", "NGramLM peak memory", "tokens", "MiB"),
              ("causal_lm", "params", "tokens_per_s", "CausalLM training", "parameters",
               "tokens/s"),
              ("seq2seq", "batch_size", "sentences_per_s", "Seq2SeqLM beam-5 decoding",
               "batch size", "sentences/s")]
    panels = [p for p in panels if record.get(p[0])]
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 3.4))
    for ax, (key, x, y, title, xl, yl) in zip(np.atleast_1d(axes), panels):
        xs = [r[x] for r in record[key]]
        ys = [max(r[y], 1e-3) for r in record[key]]
        ax.loglog(xs, ys, "o-")
        ax.set(title=f"{title}\nslope {_exponent(xs, ys):.2f}", xlabel=xl, ylabel=yl)
        ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(PLOT, dpi=80)
    plt.close(fig)


def render(record) -> str:
    lines = ["## Scaling: how cost grows, DDP and Dask", "", stamp(COMMAND), "",
             "Log-log slopes (cost ~ size^slope) fitted over all points; the plot is "
             "`benchmarks/scaling.png`. Each section ran alone on the machine.", ""]
    if record.get("hybrid"):
        rows = record["hybrid"]
        lines += [f"**`HybridClassifier` fit time vs training texts** (SST-2 phrases, default "
                  f"components, the Transformer held to 3 epochs): slope "
                  f"**{_exponent([r['n'] for r in rows], [r['seconds'] for r in rows]):.2f}**",
                  "", "| texts | " + " | ".join(str(r["n"]) for r in rows) + " |",
                  "|---" * (len(rows) + 1) + "|",
                  "| seconds | " + " | ".join(f"{r['seconds']:.0f}" for r in rows) + " |", ""]
    if record.get("ngram"):
        rows = record["ngram"]
        t = [r["tokens"] for r in rows]
        lines += [f"**`NGramLM(order=3)` fit vs tokens** (word tokens; a fresh process per "
                  f"fit; memory: how far `fit` lifts the peak resident set above where it "
                  f"started, `VmHWM`): `fit(path)` streams the file, `fit(text)` is given the "
                  f"whole string. Streamed: time slope "
                  f"**{_exponent(t, [r['seconds'] for r in rows]):.2f}**, memory slope "
                  f"**{_exponent(t, [max(r['peak_mib'], 1e-3) for r in rows]):.2f}**",
                  "", "| corpus | file MiB | tokens | distinct n-grams (orders 1-3) | "
                  "fit(path) s | fit(path) peak MiB | bytes per n-gram | fit(text) s | "
                  "fit(text) peak MiB |", "|---|---|---|---|---|---|---|---|---|"]
        lines += [f"| {r['corpus']} | {r['mib']:.1f} | {r['tokens']:,} | {r['ngrams']:,} | "
                  f"{r['seconds']:.1f} | {r['peak_mib']:.0f} | "
                  f"{r['peak_mib'] * 2 ** 20 / r['ngrams']:.0f} | {r['text_seconds']:.1f} | "
                  f"{r['text_peak_mib']:.0f} |" for r in rows]
        lines += ["", "The peak is the fitted model's lookup tables (a Python dict entry per "
                  "distinct n-gram and per context), not the text: streaming the file saves "
                  "the text's own size and no more."]
        lines.append("")
    if record.get("features"):
        rows = record["features"]
        n = [r["texts"] for r in rows]
        lines += [f"**`TfidfFeatures()` fit vs texts** (IMDB reviews, word 1-2 grams; a fresh "
                  f"process per fit; memory: how far reading the texts and fitting lift the "
                  f"peak resident set, `VmHWM`): `fit(path)` streams the file, `fit(list)` "
                  f"reads it into a list first. Streamed: time slope "
                  f"**{_exponent(n, [r['file_seconds'] for r in rows]):.2f}**, memory slope "
                  f"**{_exponent(n, [r['file_peak_mib'] for r in rows]):.2f}**", "",
                  "| reviews | file MiB | n-grams | fit(path) s | fit(path) peak MiB | "
                  "fit(list) s | fit(list) peak MiB |", "|---|---|---|---|---|---|---|"]
        lines += [f"| {r['texts']:,} | {r['mib']:.0f} | {r['features']:,} | "
                  f"{r['file_seconds']:.1f} | {r['file_peak_mib']:.0f} | "
                  f"{r['list_seconds']:.1f} | {r['list_peak_mib']:.0f} |" for r in rows]
        lines.append("")
    if record.get("causal_lm"):
        rows = record["causal_lm"]
        slope = _exponent([r["params"] for r in rows], [r["tokens_per_s"] for r in rows])
        lines += [f"**`CausalLM` training tokens/s vs parameters** (char tokens, batch 12, "
                  f"60 steps): slope **{slope:.2f}**",
                  "", "| preset | parameters | context | tokens/s |", "|---|---|---|---|"]
        lines += [f"| {r['preset']} | {r['params']:,} | {r['block_size']} | "
                  f"{r['tokens_per_s']:,.0f} |" for r in rows]
        lines.append("")
    if record.get("seq2seq"):
        rows = record["seq2seq"]
        lines += ["**`Seq2SeqLM` beam-5 decoding vs batch size** (small preset, 5 minutes of "
                  "training, Multi30k test2016; batch 1 on its first 100 sentences):", "",
                  "| batch size | " + " | ".join(str(r["batch_size"]) for r in rows) + " |",
                  "|---" * (len(rows) + 1) + "|",
                  "| sentences/s | " + " | ".join(f"{r['sentences_per_s']:.1f}" for r in rows)
                  + " |", ""]
    if record.get("ddp"):
        rows = record["ddp"]
        one = rows[0]["tokens_per_s"]
        lines += ["**DDP on this machine** (`CausalLM(preset=\"quick\")`, 400 steps of global "
                  "batch 32 on WikiText-2 characters; 1 process with 2 torch threads against "
                  "`torchrun --nproc_per_node 2` with 1 thread each; the same data and steps):",
                  "", "| processes | tokens/s | speed-up | efficiency | final train loss | "
                  "val loss |", "|---|---|---|---|---|---|"]
        lines += [f"| {r['processes']} | {r['tokens_per_s']:,.0f} | "
                  f"{r['tokens_per_s'] / one:.2f}x | "
                  f"{r['tokens_per_s'] / one / r['processes']:.0%} "
                  f"| {r['train_loss']:.4f} | {r['val_loss']:.4f} |" for r in rows]
        lines += ["", "The same script runs on a multi-GPU machine (`torchrun --nproc_per_node "
                  "N`, nccl, one GPU per rank); not measured here (no GPU lent).", ""]
    if record.get("dask"):
        rows = record["dask"]
        serial = rows[0]["seconds"]
        same = rows[0]["folds"] == rows[-1]["folds"]
        lines += ["**Dask**: the experiment runner, MR 10-fold `HybridClassifier` (the "
                  "Transformer held to 2 epochs), serially and with `execution: {backend: dask, "
                  "n_jobs: 2}` (a 2-worker `LocalCluster`, one thread each):", "",
                  "| execution | wall time | speed-up | accuracy |", "|---|---|---|---|"]
        lines += [f"| {r['execution']} | {r['seconds'] / 60:.1f} min | "
                  f"{serial / r['seconds']:.2f}x | {100 * r['accuracy']:.2f} |" for r in rows]
        lines += ["", "Per-fold accuracies " + ("identical." if same else
                  "differ: " + ", ".join(f"{a:.4f}/{b:.4f}" for a, b in
                                         zip(rows[0]["folds"], rows[-1]["folds"])
                                         if a != b) + "."), ""]
    return "\n".join(lines)


SECTIONS = {"hybrid": hybrid, "features": features, "ngram": ngram, "causal_lm": causal_lm,
            "seq2seq": seq2seq, "ddp": ddp, "dask": dask}


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "_ngram_child":
        return _ngram_child(*sys.argv[2:4])
    if len(sys.argv) > 2 and sys.argv[1] == "_features_child":
        return _features_child(*sys.argv[2:4])
    if len(sys.argv) > 2 and sys.argv[1] == "_ddp_child":
        return _ddp_child(sys.argv[2])
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sections", nargs="+", choices=[*SECTIONS, "render"])
    args = parser.parse_args()
    record = json.loads(RAW.read_text()) if RAW.exists() else {}
    for section in args.sections:
        if section != "render":
            SECTIONS[section](record)
            RAW.write_text(json.dumps(record, indent=1))
        plot(record)
        write_section("scaling", render(record))


if __name__ == "__main__":
    main()
