"""Serving and export -> benchmarks/RESULTS.md ("Serving", "Export").

* ``serving``: ``hybridnlp serve`` (micro-batching) against the server a user would write, a
  FastAPI route calling ``predict_proba`` per request (uvicorn, one process each, started in
  turn on 127.0.0.1), driven by concurrent kept-alive connections (asyncio, raw sockets, one
  SST-2 test sentence per request). Throughput and p50/p99 latency, for a
  TransformerClassifier and an NBSVM trained on SST-2; our server with batching off too.
* ``export``: on the SST-2 test set, the TransformerClassifier and FastTextClassifier in torch
  fp32 against their ONNX export (onnxruntime, fp32 and dynamic int8): largest probability
  difference, accuracy, and predict time over the whole test set (median of 3).

* ``translation``: a ``Seq2SeqLM()`` trained ``--mt-minutes`` on Multi30k En-De (bf16), then
  test2016 decoded by it and by its CTranslate2 export (float32 and int8), greedy and beam 5:
  BLEU, sentences/s, and how many greedy outputs are identical to ours.

Run: ``HYBRIDNLP_DATA=../shared/data .venv/bin/python benchmarks/serve.py [serving] [export]
[translation]``
(needs the serve and export extras, in dev). Run it alone: the server, its clients and the
models share the machine's cores.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _report import stamp, timed, write_section  # noqa: E402

import hybridnlp  # noqa: E402
from hybridnlp import (  # noqa: E402
    FastTextClassifier,
    NBSVMClassifier,
    TransformerClassifier,
    load_dataset,
)

PEER = textwrap.dedent('''
    import sys
    import uvicorn
    from fastapi import FastAPI
    from pydantic import BaseModel
    import hybridnlp

    model = hybridnlp.load(sys.argv[1])
    app = FastAPI()

    class Texts(BaseModel):
        texts: list[str]

    @app.post("/predict")
    def predict(body: Texts):
        proba = model.predict_proba(body.texts)
        return {"labels": [str(c) for c in model.classes_[proba.argmax(1)]],
                "probabilities": proba.tolist()}

    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="error")
''')


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(argv: list[str], port: int) -> subprocess.Popen:
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(600):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"the server {argv} did not start")


async def _post(reader, writer, request: bytes) -> bytes:
    """One request on a kept-alive connection; the response body (raw sockets: the client's
    own cost stays small beside the server's)."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = head.split(b" ", 2)[1]
    length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
    body = await reader.readexactly(length)
    if status != b"200":
        raise RuntimeError(f"HTTP {status.decode()}: {body[:200]!r}")
    return body


async def _drive(port: int, texts: list[str], concurrency: int) -> tuple[float, list[float]]:
    """``concurrency`` connections sending one text per request until ``texts`` are done:
    (requests per second, latencies in seconds)."""
    import json

    latencies: list[float] = []
    queue = list(texts)

    async def worker():
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while queue:
                body = json.dumps({"texts": [queue.pop()]}).encode()
                request = (b"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                           b"Content-Type: application/json\r\nContent-Length: "
                           + str(len(body)).encode() + b"\r\n\r\n" + body)
                start = time.perf_counter()
                await _post(reader, writer, request)
                latencies.append(time.perf_counter() - start)
        finally:
            writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return len(texts) / (time.perf_counter() - start), latencies


def serving(args, sst2) -> str:
    train_x, train_y, test_x = sst2
    requests = (test_x * 4)[:args.requests]
    rows = []
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        models = {
            "TransformerClassifier": TransformerClassifier(max_epochs=1, random_state=0),
            "NBSVMClassifier": NBSVMClassifier(),
        }
        for name, model in models.items():
            model.fit(train_x, train_y)
            hybridnlp.save(model, Path(tmp) / name)
        (Path(tmp) / "peer.py").write_text(PEER)
        for name in models:
            servers = {
                "hybridnlp serve (batching)": [sys.executable, "-m", "hybridnlp.cli", "serve",
                                               str(Path(tmp) / name)],
                "hybridnlp serve --max-wait-ms 2 (batches wait 2 ms for more)": [
                    sys.executable, "-m", "hybridnlp.cli", "serve", str(Path(tmp) / name),
                    "--max-wait-ms", "2"],
                "hybridnlp serve --max-batch 1 (no batching)": [
                    sys.executable, "-m", "hybridnlp.cli", "serve", str(Path(tmp) / name),
                    "--max-batch", "1", "--max-wait-ms", "0"],
                "peer: FastAPI route calling predict_proba": [
                    sys.executable, str(Path(tmp) / "peer.py"), str(Path(tmp) / name)],
            }
            results = {}
            for label, argv in servers.items():
                port = _port()
                argv = argv + (["--port", str(port), "--log-level", "warning"]
                               if "hybridnlp.cli" in argv else [str(port)])
                proc = _start(argv, port)
                try:
                    asyncio.run(_drive(port, requests[:300], args.concurrency))  # warm up
                    rounds = [asyncio.run(_drive(port, requests, args.concurrency))
                              for _ in range(args.rounds)]
                    rps = float(np.median([r for r, _ in rounds]))
                    lat = [x for _, round_lat in rounds for x in round_lat]
                finally:
                    proc.terminate()
                    proc.wait(30)
                lat_ms = np.array(lat) * 1000
                results[label] = (rps, np.percentile(lat_ms, 50), np.percentile(lat_ms, 99))
                print(name, label, f"{rps:.0f} req/s", file=sys.stderr)
            peer = results["peer: FastAPI route calling predict_proba"]
            for label, (rps, p50, p99) in results.items():
                rows.append(f"| {name} | {label} | {rps:,.0f} | {rps / peer[0]:.2f}x | "
                            f"{p50:.1f} | {p99:.1f} |")
    return ("\n".join([
        f"{args.requests} requests of one SST-2 test sentence each, {args.concurrency} "
        f"concurrent kept-alive connections (asyncio, raw sockets) on 127.0.0.1; each server "
        f"in its own process, one at a time, after 300 warm-up requests; requests/s is the "
        f"median of {args.rounds} rounds, the latencies pooled over them. Models trained on "
        f"the SST-2 training sentences (TransformerClassifier defaults, 1 epoch). uvicorn "
        f"with uvloop and httptools (uvicorn[standard], the serve extra) under both servers.",
        "",
        "| model | server | requests/s | vs peer | p50 ms | p99 ms |",
        "|---|---|---:|---:|---:|---:|",
        *rows,
    ]))


def export(args, sst2) -> str:
    train_x, train_y, test_x = sst2
    test_y = sst2_test_labels()
    rows = []
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for est in (TransformerClassifier(max_epochs=1, random_state=0),
                    FastTextClassifier(random_state=0)):
            name = type(est).__name__
            est.fit(train_x, train_y)
            ref, t_ref = timed(lambda est=est: est.predict_proba(test_x), repeats=3)
            acc_ref = np.mean(est.classes_[ref.argmax(1)] == test_y)
            rows.append(f"| {name} | torch fp32 | - | {acc_ref:.4f} | {t_ref:.2f} | 1.00x |")
            for quantize in (None, "int8"):
                out = Path(tmp) / f"{name}-{quantize}"
                (_, t_export) = timed(lambda est=est, out=out, q=quantize: hybridnlp.export(
                    est, to="onnx", output=out, quantize=q))
                onnx = hybridnlp.load(out)
                proba, t = timed(lambda onnx=onnx: onnx.predict_proba(test_x), repeats=3)
                acc = np.mean(onnx.classes_[proba.argmax(1)] == test_y)
                rows.append(f"| {name} | onnxruntime {quantize or 'fp32'} | "
                            f"{np.abs(proba - ref).max():.1e} | {acc:.4f} | {t:.2f} | "
                            f"{t_ref / t:.2f}x |")
                print(rows[-1], f"(export {t_export:.1f} s)", file=sys.stderr)
    return "\n".join([
        f"SST-2 test set ({len(test_x)} sentences), predict_proba on all of it, median of 3; "
        "models trained on the SST-2 training sentences (TransformerClassifier: defaults, "
        "1 epoch; FastTextClassifier: defaults). Same text preparation in every row (the "
        "estimator's own); only the network's runtime changes.",
        "",
        "| model | runtime | max abs. prob. diff. vs torch | accuracy | predict s | speed-up |",
        "|---|---|---:|---:|---:|---:|",
        *rows,
    ])


def translation(args) -> str:
    import torch

    from hybridnlp.seq2seq import Seq2SeqLM, corpus_bleu

    train, dev = load_dataset("multi30k", split="train"), load_dataset("multi30k", split="dev")
    test = load_dataset("multi30k", split="test")
    src, ref = list(test.data), list(test.target)
    mt = Seq2SeqLM(max_time=args.mt_minutes * 60, max_epochs=1000, precision="bf16",
                   random_state=0)
    mt.fit(list(train.data), list(train.target),
           validation_data=(list(dev.data), list(dev.target)))
    threads = torch.get_num_threads()
    rows, greedy = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        runtimes = {"Seq2SeqLM (torch, fp32)": mt}
        for q in (None, "int8"):
            hybridnlp.export(mt, to="ctranslate2", output=Path(tmp) / str(q), quantize=q)
            from hybridnlp.seq2seq.ctranslate2 import CTranslate2Translator

            runtimes[f"CTranslate2 {q or 'float32'}"] = CTranslate2Translator(
                Path(tmp) / str(q), intra_threads=threads)
        base = {}
        for beams in (1, 5):
            for name, model in runtimes.items():
                hyps, t = timed(lambda m=model, b=beams: m.generate(src, num_beams=b))
                bleu = corpus_bleu(hyps, ref).score
                if beams == 1:
                    greedy[name] = hyps
                base.setdefault(beams, t)
                same = "-"
                if beams == 1:
                    ours = greedy["Seq2SeqLM (torch, fp32)"]
                    same = f"{np.mean([a == b for a, b in zip(hyps, ours, strict=True)]):.3f}"
                rows.append(f"| {name} | {beams} | {bleu:.2f} | {len(src) / t:.1f} | "
                            f"{base[beams] / t:.2f}x | {same} |")
                print(rows[-1], file=sys.stderr)
    return "\n".join([
        f"`Seq2SeqLM()` (the \"small\" preset) trained {args.mt_minutes} minutes on Multi30k "
        f"En-De train (bf16, best dev epoch kept), {mt.history_[-1]['step']} steps; test2016 "
        f"({len(src)} sentences) decoded whole, batches of 64, {threads} threads each. BLEU is "
        f"sacreBLEU's on detokenised text. CTranslate2 beam search normalises by length ** "
        f"0.6, ours by GNMT's ((5 + length) / 6) ** 0.6.",
        "",
        "| decoder | beams | BLEU | sentences/s | speed vs ours | greedy output identical "
        "to ours |",
        "|---|---:|---:|---:|---:|---:|",
        *rows,
    ])


def sst2_test_labels():
    return load_dataset("sst2", split="test").target


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("sections", nargs="*", default=["serving", "export"])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--mt-minutes", type=float, default=8.0)
    args = parser.parse_args()
    train, test = load_dataset("sst2", split="train"), load_dataset("sst2", split="test")
    sst2 = (list(train.data), np.asarray(train.target), list(test.data))
    sections = {"serving": lambda: serving(args, sst2), "export": lambda: export(args, sst2),
                "translation": lambda: translation(args)}
    command = "HYBRIDNLP_DATA=../shared/data .venv/bin/python benchmarks/serve.py " + \
        " ".join(args.sections)
    for section in args.sections:
        body = sections[section]()
        name, title = {"serving": ("serving", "Serving"), "export": ("export", "Export"),
                       "translation": ("export-ctranslate2", "Export: CTranslate2 against our "
                                                             "decoder")}[section]
        write_section(name, f"## {title}\n\n{stamp(command)}\n{body}\n")
        print(body)


if __name__ == "__main__":
    main()
