"""``hybridnlp predict``, ``explain``, ``export`` and ``serve``: what a saved model does."""

from __future__ import annotations

import csv
import sys

from hybridnlp.cli._common import UsageError, load_model


def _predict(args) -> int:
    from hybridnlp.datasets import load_texts
    from hybridnlp.persistence import model_class_names

    model = load_model(args.model_dir)
    if not hasattr(model, "predict"):
        raise UsageError(f"the model in {args.model_dir!r} is a {type(model).__name__}, not a "
                          f"classifier; continue text with: hybridnlp generate "
                          f"{args.model_dir} --prompt TEXT")
    try:  # a missing file or column, a malformed CSV: the reader's message, no traceback
        texts = load_texts(args.input, text_column=args.text_column).data
        if args.second_column:  # sentence pairs: (first, second) per row
            second = load_texts(args.input, text_column=args.second_column).data
            texts = list(zip(texts, second, strict=True))
    except (FileNotFoundError, ValueError, TypeError) as err:
        raise UsageError(str(err)) from None
    raw = model.predict(texts)
    names = model_class_names(args.model_dir)
    header = ["prediction"]
    if getattr(model, "multilabel_", False):  # the text's labels, joined by "|"
        labels = model.classes_.tolist()
        if names and all(isinstance(c, int) and 0 <= c < len(names) for c in labels):
            labels = [names[c] for c in labels]
        rows = [["|".join(str(label) for label, on in zip(labels, row) if on)] for row in raw]
    elif getattr(raw, "ndim", 1) == 2:  # a regressor of several targets: a column each
        k = raw.shape[1]
        header = [f"prediction_{n}" for n in (names if names and len(names) == k else range(k))]
        rows = [[float(v) for v in row] for row in raw]
    else:
        preds = [p.item() if hasattr(p, "item") else p for p in raw]
        if names and all(isinstance(p, int) and 0 <= p < len(names) for p in preds):
            preds = [names[p] for p in preds]  # the data set's class names, not ids
        rows = [[p] for p in preds]
    out = open(args.output, "w", newline="", encoding="utf-8") if args.output else sys.stdout
    try:
        w = csv.writer(out)
        w.writerow(["text", *(["second"] if args.second_column else []), *header])
        for t, p in zip(texts, rows, strict=True):
            w.writerow([*t, *p] if args.second_column else [t, *p])
    finally:
        if args.output:
            out.close()
    return 0


def _explain(args) -> int:
    import json

    from hybridnlp.datasets import load_texts
    from hybridnlp.persistence import model_class_names

    if bool(args.texts) == bool(args.input):
        raise UsageError("give the texts to explain as arguments, or --input FILE (not both)")
    model = load_model(args.model_dir)
    if not hasattr(model, "explain"):
        raise UsageError(f"the model in {args.model_dir!r} is a {type(model).__name__}; "
                          f"explain works on classifiers")
    texts = args.texts
    if args.input:
        try:
            texts = load_texts(args.input, text_column=args.text_column).data
        except (FileNotFoundError, ValueError, TypeError) as err:
            raise UsageError(str(err)) from None
    try:
        explanations = model.explain(texts, method=args.method)
    except ValueError as err:  # a method the model has not (exact on a Transformer)
        raise UsageError(str(err)) from None
    names = model_class_names(args.model_dir)
    for e in explanations:
        record = e.to_dict()
        label = record["label"]
        if names and isinstance(label, int) and 0 <= label < len(names):
            label = names[label]
        if args.json:
            print(json.dumps({**record, "label": label}, ensure_ascii=False))
            continue
        words = "  ".join(f"{t} {s:+.3f}" for t, s in e.top(args.top))
        against = sorted(zip(e.scores, e.tokens))[:max(0, min(args.top, len(e.tokens)))]
        print(f"{e.text}\n  label {label!r}, score {e.score:+.3f} ({e.method})\n"
              f"  for: {words}\n  against: "
              + "  ".join(f"{t} {s:+.3f}" for s, t in against if s < 0))
    return 0


def _export(args) -> int:
    from hybridnlp.persistence import export

    try:
        out = export(args.model_dir, to=args.to, output=args.output, quantize=args.quantize)
    except (FileNotFoundError, ValueError) as err:
        raise UsageError(str(err)) from None
    except ImportError as err:
        raise UsageError(f"{err}; install the export extra: pip install "
                          f"'hybridnlp[export]'") from None
    print(f"wrote {out} ({args.to}); hybridnlp.load({str(out)!r}) reads it back")
    return 0


def _serve(args) -> int:
    try:
        from hybridnlp.serve.server import load_models, serve
    except ImportError as err:  # pragma: no cover - the extra is missing
        raise UsageError(f"{err}; install the serve extra: pip install "
                          f"'hybridnlp[serve]'") from None
    try:  # a bad directory: one line, before the port opens
        models = load_models(args.model_dirs)
    except (FileNotFoundError, ValueError) as err:
        raise UsageError(str(err)) from None
    serve(models, host=args.host, port=args.port, max_batch=args.max_batch,
          max_wait_ms=args.max_wait_ms, log_level=args.log_level)
    return 0


def _add_predict(command) -> None:
    p = command("predict", "predict labels for texts with a saved model")
    p.add_argument("model_dir", metavar="MODEL_DIR",
                   help="a model directory, e.g. RUN_DIR/models/NBSVM")
    p.add_argument("--input", required=True, help="CSV, TSV, JSONL or TXT file of texts")
    p.add_argument("--text-column", default="text", help="column of the texts (CSV, TSV, JSONL)")
    p.add_argument("--second-column", help="for sentence pairs: the column of each pair's "
                                           "second text (--text-column holds the first)")
    p.add_argument("--output", help="CSV to write (default: standard output)")
    p.set_defaults(func=_predict)


def _add_explain(command) -> None:
    p = command("explain", "which words drove a saved classifier's predictions")
    p.add_argument("model_dir", metavar="MODEL_DIR",
                   help="a model directory, e.g. RUN_DIR/models/HybridClassifier")
    p.add_argument("texts", nargs="*", metavar="TEXT", help="texts to explain")
    p.add_argument("--input", help="or a CSV, TSV, JSONL or TXT file of texts")
    p.add_argument("--text-column", default="text", help="column of the texts (CSV, TSV, JSONL)")
    p.add_argument("--method", default="auto",
                   choices=["auto", "exact", "occlusion", "integrated_gradients"],
                   help="auto: exact for n-gram models and fastText, occlusion otherwise")
    p.add_argument("--top", type=int, default=5, help="words shown for and against the label")
    p.add_argument("--json", action="store_true",
                   help="one JSON object per text: tokens, scores, components, n-grams")
    p.set_defaults(func=_explain)


def _add_serve(command) -> None:
    p = command("serve", "serve saved models over HTTP (JSON; the serve extra)")
    p.add_argument("model_dirs", nargs="+", metavar="MODEL_DIR",
                   help="model directories; each is served under its folder's name")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on")
    p.add_argument("--port", type=int, default=8000, help="port to listen on")
    p.add_argument("--max-batch", type=int, default=64,
                   help="most texts of concurrent /predict requests run in one batch")
    p.add_argument("--max-wait-ms", type=float, default=0.0,
                   help="how long a batch waits for more requests beyond those that queued "
                        "while the last one ran (default 0)")
    p.add_argument("--log-level", default="info",
                   choices=["critical", "error", "warning", "info", "debug"],
                   help="uvicorn's log level (info: one line a request)")
    p.set_defaults(func=_serve)


def _add_export(command) -> None:
    p = command("export", "write a saved model in a format another runtime reads")
    p.add_argument("model_dir", metavar="MODEL_DIR", help="a model directory")
    p.add_argument("--to", required=True, choices=["hf", "onnx", "ctranslate2", "arpa"],
                   help="hf: a GPT LM, or a classifier or extractive reader fine-tuned "
                        "from a pretrained encoder, as a Hugging Face directory; onnx: a "
                        "neural classifier for onnxruntime; ctranslate2: a translator; arpa: "
                        "an n-gram LM")
    p.add_argument("--output", required=True,
                   help="directory (hf, onnx, ctranslate2) or file (arpa, .arpa.gz "
                        "compresses) to write")
    p.add_argument("--quantize", choices=["int8"], default=None,
                   help="weights quantised to int8 (onnx: onnxruntime's dynamic "
                        "quantisation; ctranslate2: its int8)")
    p.set_defaults(func=_export)


def add_commands(command) -> None:
    """Register these subcommands; ``command(name, help)`` makes each one's parser."""
    _add_predict(command)
    _add_explain(command)
    _add_serve(command)
    _add_export(command)
