"""The ``hybridnlp`` command: run, report, predict, explain, train-lm, generate, translate,
index, ask, export, serve, datasets.

Bad arguments and invalid configs exit with status 2 and a one-line message.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
from pathlib import Path

from hybridnlp.utils.signals import exit_on_sigterm

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, status 2
        self.exit(2, f"{self.prog}: error: {message}\n")


def _run(args) -> int:
    from hybridnlp.experiments.config import apply_overrides, load_config, read_config_file
    from hybridnlp.experiments.runner import run, summary

    if args.resume:
        if args.set or args.output or args.data_home:
            raise _UsageError("--resume continues a run with its own config and directory; "
                              "--set, --data-home and --output start a new run instead")
        from hybridnlp.experiments.run_state import resume_dir

        try:  # not a run directory, or a config other than the run's: a usage error
            resume_dir(args.config, args.resume)
        except (FileNotFoundError, ValueError) as err:
            raise _UsageError(str(err)) from None
        result = run(args.config, quiet=args.quiet, resume=args.resume,  # path: for the report
                     scheduler=args.scheduler)
        if not args.quiet:
            print(summary(result))
        return 0
    if args.config is None:
        raise _UsageError("give a config file, or --resume RUN_DIR")
    values = read_config_file(args.config)
    overrides = list(args.set) + ([f"data.data_home={args.data_home}"] if args.data_home else [])
    if overrides:
        values = apply_overrides(values, overrides)
    config = load_config(values)
    from hybridnlp.experiments.report import shown_path

    source = " ".join([shown_path(args.config), *(f"--set {o}" for o in args.set)])
    result = run(config, output=args.output, quiet=args.quiet, scheduler=args.scheduler,
                 source=source)
    if not args.quiet:
        print(summary(result))
    return 0


def _report(args) -> int:
    from hybridnlp.experiments.report import compare_runs, write_report

    for d in args.run_dirs:
        if not (Path(d) / "metrics.json").is_file():
            raise _UsageError(f"{d!r} is not a run directory (no metrics.json)")
    if args.results:
        from hybridnlp.experiments.report import write_results_section

        print(write_results_section(args.run_dirs, args.results, args.section))
        return 0
    if len(args.run_dirs) == 1 and not args.output:
        print(write_report(args.run_dirs[0]))
        return 0
    table = compare_runs(args.run_dirs)
    if args.output:
        Path(args.output).write_text(table, "utf-8")
    print(table, end="")
    return 0


def _predict(args) -> int:
    from hybridnlp.datasets import load_texts
    from hybridnlp.persistence import model_class_names

    model = _load_model(args.model_dir)
    if not hasattr(model, "predict"):
        raise _UsageError(f"the model in {args.model_dir!r} is a {type(model).__name__}, not a "
                          f"classifier; continue text with: hybridnlp generate "
                          f"{args.model_dir} --prompt TEXT")
    try:  # a missing file or column, a malformed CSV: the reader's message, no traceback
        texts = load_texts(args.input, text_column=args.text_column).data
        if args.second_column:  # sentence pairs: (first, second) per row
            second = load_texts(args.input, text_column=args.second_column).data
            texts = list(zip(texts, second, strict=True))
    except (FileNotFoundError, ValueError, TypeError) as err:
        raise _UsageError(str(err)) from None
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
        raise _UsageError("give the texts to explain as arguments, or --input FILE (not both)")
    model = _load_model(args.model_dir)
    if not hasattr(model, "explain"):
        raise _UsageError(f"the model in {args.model_dir!r} is a {type(model).__name__}; "
                          f"explain works on classifiers")
    texts = args.texts
    if args.input:
        try:
            texts = load_texts(args.input, text_column=args.text_column).data
        except (FileNotFoundError, ValueError, TypeError) as err:
            raise _UsageError(str(err)) from None
    try:
        explanations = model.explain(texts, method=args.method)
    except ValueError as err:  # a method the model has not (exact on a Transformer)
        raise _UsageError(str(err)) from None
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


def _load_model(model_dir: str):
    """``hybridnlp.load``, its refusals (no model there, a corrupt or foreign file) as usage
    errors."""
    from hybridnlp.persistence import load

    if not Path(model_dir).is_dir():
        raise _UsageError(f"model directory {model_dir!r} does not exist")
    try:
        return load(model_dir)
    except (FileNotFoundError, ValueError) as err:
        raise _UsageError(str(err)) from None


def _train_lm(args) -> int:
    from hybridnlp.exceptions import Interrupted
    from hybridnlp.lm import CausalLM
    from hybridnlp.train import distributed

    if not Path(args.corpus).is_file():
        raise _UsageError(f"corpus file {args.corpus!r} does not exist")
    if args.nproc < 1:
        raise _UsageError(f"--nproc {args.nproc}: use 1 or more processes")
    if args.nproc > 1 and "WORLD_SIZE" not in os.environ:  # this process starts torchrun
        return _under_torchrun(args.nproc, args.argv)
    if args.resume and not args.checkpoint_dir:
        raise _UsageError("--resume continues from --checkpoint-dir DIR; give the folder the "
                          "interrupted run wrote")
    main = distributed.is_main()
    lm = CausalLM(preset=args.preset, tokenizer=args.tokenizer, max_time=args.max_time,
                  max_steps="auto" if args.max_steps is None else args.max_steps,
                  random_state=args.seed, verbose=int(not args.quiet and main),
                  checkpoint_dir=args.checkpoint_dir)
    try:
        lm.fit(Path(args.corpus), resume=args.resume)
    except KeyboardInterrupt:
        raise Interrupted(_kept_checkpoint(args.checkpoint_dir)) from None
    finally:
        distributed.finish()
    if not main:  # rank 0 saves and reports
        return 0
    lm.save(args.output)
    loss = f"{lm.val_loss_:.4f}" if lm.val_loss_ is not None else "n/a"
    print(f"validation loss {loss} nats/token; model saved to {args.output}")
    return 0


def _kept_checkpoint(checkpoint_dir: str | None) -> str:
    """What an interrupted ``train-lm`` kept: the checkpoint of the last finished epoch."""
    if checkpoint_dir is None:
        return ("nothing was kept; pass --checkpoint-dir DIR to keep a checkpoint at the end "
                "of every epoch, and --resume to continue from it")
    from hybridnlp.utils.io import read_json

    try:
        step = read_json(Path(checkpoint_dir) / "trainer" / "trainer.json")["step"]
    except (FileNotFoundError, ValueError, KeyError):
        return (f"no epoch had finished, so {checkpoint_dir!r} holds no checkpoint yet; run "
                f"the same command again")
    return (f"the checkpoint of step {step} is kept in {checkpoint_dir!r}; continue with the "
            f"same command and --resume")


def _under_torchrun(nproc: int, argv: list[str]) -> int:
    """``hybridnlp ARGV`` again as ``nproc`` data-parallel processes on this machine
    (``torchrun --standalone``): the Trainer sees torchrun's environment."""
    import subprocess

    rest, skip = [], False
    for arg in argv:  # without --nproc: torchrun's own parser would take it
        if not skip and not arg.startswith("--nproc"):
            rest.append(arg)
        skip = arg == "--nproc"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               f"--nproc_per_node={nproc}", "-m", "hybridnlp.cli", *rest]
    return subprocess.run(command, check=False).returncode


def _generate(args) -> int:
    model = _load_model(args.model_dir)
    if not hasattr(model, "generate"):
        raise _UsageError(f"the model in {args.model_dir!r} is not a language model")
    kw = dict(temperature=args.temperature, top_k=args.top_k, top_p=args.top_p, seed=args.seed)
    if args.num_beams != 1:
        kw.update(num_beams=args.num_beams, do_sample=False)
    if args.repetition_penalty != 1.0:
        kw["repetition_penalty"] = args.repetition_penalty
    if args.stop:
        kw["stop"] = args.stop
    try:
        if args.stream:
            if args.num_beams > 1:
                raise _UsageError("--stream shows one sampled sequence; it cannot be combined "
                                  "with --num-beams > 1")
            print(args.prompt, end="", flush=True)
            for piece in model.generate(args.prompt, args.max_new_tokens, stream=True, **kw):
                print(piece, end="", flush=True)
            print()
        else:
            print(args.prompt + model.generate(args.prompt, args.max_new_tokens, **kw))
    except (TypeError, ValueError) as err:  # a bad setting (top_p=2), said by generate
        raise _UsageError(str(err)) from None
    return 0


def _translate(args) -> int:
    """Translate one sentence a line of ``--input`` (or standard input), in batches of similar
    length, one translation a line on standard output (or ``--output``), in input order."""
    from hybridnlp.seq2seq import Seq2SeqLM

    model = _load_model(args.model_dir)
    translator = getattr(model, "translator_", model)
    if not isinstance(translator, Seq2SeqLM):
        raise _UsageError(f"the model in {args.model_dir!r} is not a translation model "
                          f"(a Seq2SeqLM or ShallowFusion)")
    if args.num_beams is not None and args.num_beams < 1:
        raise _UsageError(f"--num-beams {args.num_beams} must be at least 1")
    if args.batch_size < 1:
        raise _UsageError(f"--batch-size {args.batch_size} must be at least 1")
    if args.output and (Path(args.output).is_dir() or not Path(args.output).parent.is_dir()):
        raise _UsageError(f"--output {args.output!r} must be a file in an existing folder "
                          f"(it is {'a folder' if Path(args.output).is_dir() else 'not'})")
    where = "standard input" if args.input in (None, "-") else repr(args.input)
    try:
        if args.input in (None, "-"):
            lines = sys.stdin.buffer.read().decode("utf-8").splitlines()
        else:
            if not Path(args.input).is_file():
                raise _UsageError(f"input file {args.input!r} does not exist")
            lines = Path(args.input).read_bytes().decode("utf-8").splitlines()
    except UnicodeDecodeError as err:
        raise _UsageError(f"{where} is not UTF-8 text (byte {err.start}); save it as "
                          f"UTF-8") from None
    if not any(line.strip() for line in lines):
        raise _UsageError(f"{where} holds no sentence (one sentence a line)")
    for i, line in enumerate(lines):  # a character the model never saw: named before decoding
        try:
            translator.tokenizer_.encode(line)
        except ValueError as err:
            raise _UsageError(f"{where} line {i + 1}: {err}") from None
    blank = [i + 1 for i, line in enumerate(lines) if not line.strip()]
    if args.num_beams is not None:
        translator.num_beams = args.num_beams
    keep = [line for line in lines if line.strip()]
    out = iter(model.predict(keep, batch_size=args.batch_size,
                             progress=not args.quiet and len(keep) > args.batch_size))
    text = "\n".join("" if not line.strip() else next(out) for line in lines) + "\n"
    if args.output:
        from hybridnlp.utils.io import atomic_write_bytes

        atomic_write_bytes(args.output, text.encode("utf-8"))
    else:
        sys.stdout.write(text)
    if blank and not args.quiet:
        print(f"{len(blank)} empty lines (first: line {blank[0]}) were left empty",
              file=sys.stderr)
    return 0


def _read_passages(path: str, what: str = "passage") -> list[str]:
    """Passages (or questions) of a text file (one a line, blank lines skipped), a SQuAD
    JSON / JSON Lines file (its distinct passages, or its questions), or a CSV/TSV with a
    ``text`` column."""
    p = Path(path)
    if not p.is_file():
        raise _UsageError(f"{what}s file {path!r} does not exist")
    name = p.name.lower()
    try:
        if name.endswith((".json", ".json.gz", ".jsonl", ".jsonl.gz")):
            from hybridnlp.datasets.squad import load_squad

            squad = load_squad(p)
            return squad.passages if what == "passage" else list(squad.data)
        if name.endswith((".csv", ".tsv")):
            from hybridnlp.datasets import load_texts

            return list(load_texts(p, text_column="text", label_column=None).data)
        lines = [line.strip() for line in p.read_text("utf-8").splitlines()]
    except (ValueError, UnicodeDecodeError) as err:
        raise _UsageError(str(err)) from None
    texts = [line for line in lines if line]
    if not texts:
        raise _UsageError(f"{path!r} holds no {what} (one {what} a line)")
    return texts


def _index(args) -> int:
    from hybridnlp.qa import (
        BM25Retriever,
        HybridRetriever,
        QAPipeline,
        SlidingWindowReader,
        TfidfRetriever,
    )

    if args.top_k < 1:
        raise _UsageError(f"--top-k {args.top_k}: read at least 1 passage")
    reader = _read_reader(args.reader) if args.reader else None
    passages = _read_passages(args.passages)
    retriever = {"bm25": BM25Retriever(), "tfidf": TfidfRetriever(),
                 "hybrid": HybridRetriever(retrievers=[("bm25", BM25Retriever()),
                                                       ("tfidf", TfidfRetriever())])
                 }[args.retriever]
    if args.train:
        from hybridnlp.datasets.squad import load_squad

        try:
            squad = load_squad(args.train)
        except (FileNotFoundError, ValueError) as err:
            raise _UsageError(str(err)) from None
        qa = QAPipeline(retriever=retriever, reader=reader, top_k=args.top_k, random_state=0,
                        verbose=int(not args.quiet)).fit(
            squad.data, squad.passages, squad.target, passage_index=squad.passage_index)
        qa.index(passages)  # trained there, answering here
    else:  # nothing to learn from: the reader given, or the sliding-window reader
        reader = reader if reader is not None else SlidingWindowReader()
        qa = QAPipeline(retriever=retriever, reader=reader, top_k=args.top_k,
                        verbose=int(not args.quiet)).index(passages)
    qa.save(args.output)  # whole, then renamed into place
    print(f"indexed {len(passages):,} passages into {args.output} ({args.retriever}, reader "
          f"{type(qa.reader_).__name__})")
    return 0


def _read_reader(directory: str):
    """A fitted reader: a directory a reader's ``save`` wrote, or a local fine-tuned Hugging
    Face question-answering model (answering as it is; its code never runs)."""
    from hybridnlp.qa import ExtractiveReader
    from hybridnlp.qa.readers import load_reader
    from hybridnlp.utils.io import read_json

    path = Path(directory)
    if not path.is_dir():
        raise _UsageError(f"reader directory {directory!r} does not exist")
    config = path / "config.json"
    try:
        saved = (path / "reader.json").is_file() or (
            config.is_file() and "kind" in read_json(config, what="reader"))
        if saved:
            return load_reader(path)
        if config.is_file():
            return ExtractiveReader.from_pretrained(path)
    except (OSError, ValueError) as err:
        raise _UsageError(str(err)) from None
    raise _UsageError(f"{directory!r} holds no reader: expected a directory a reader's save "
                      f"wrote (reader.json or config.json) or a fine-tuned Hugging Face "
                      f"question-answering model (config.json and its weights)")


def _ask(args) -> int:
    import json

    from hybridnlp.qa import QAPipeline

    if not Path(args.index_dir).is_dir():
        raise _UsageError(f"index directory {args.index_dir!r} does not exist")
    if (args.question is None) == (args.questions is None):
        raise _UsageError("give one question, or --questions FILE (one question a line)")
    questions = [args.question] if args.questions is None else _read_passages(
        args.questions, "question")
    if not all(q.strip() for q in questions):
        raise _UsageError("the question is empty")
    if args.top_k is not None and args.top_k < 1:
        raise _UsageError(f"--top-k {args.top_k}: read at least 1 passage")
    qa = _load_model(args.index_dir)  # one snapshot: never a mix of two indexes
    if not isinstance(qa, QAPipeline):
        raise _UsageError(f"{args.index_dir!r} holds a {type(qa).__name__}, not an index "
                          f"written by hybridnlp index")
    if args.top_k is not None:
        qa.top_k = args.top_k
    qa.verbose = int(not args.quiet)  # a bar on standard error over many questions
    answers = qa.predict(questions)  # one process, every question
    if args.json:
        for q, a in zip(questions, answers, strict=True):
            print(json.dumps({"question": q, **a}, ensure_ascii=False))
        return 0
    if len(questions) > 1:
        for q, a in zip(questions, answers, strict=True):
            print(f"{q}\t{a['text'] if a['text'] is not None else '(no answer)'}")
        return 0
    answer = answers[0]
    if answer["text"] is None:
        print("no answer: none of the question's words is in the index, or no passage "
              "retrieved holds a candidate span")
        return 0
    passage = qa.passages_[answer["passage"]]
    print(f"answer: {answer['text']}")
    print(f"score: {answer['score']:.3f}")
    print(f"passage {answer['passage']}: {passage[:300]}{'...' if len(passage) > 300 else ''}")
    return 0


def _export(args) -> int:
    from hybridnlp.persistence import export

    try:
        out = export(args.model_dir, to=args.to, output=args.output, quantize=args.quantize)
    except (FileNotFoundError, ValueError) as err:
        raise _UsageError(str(err)) from None
    except ImportError as err:
        raise _UsageError(f"{err}; install the export extra: pip install "
                          f"'hybridnlp[export]'") from None
    print(f"wrote {out} ({args.to}); hybridnlp.load({str(out)!r}) reads it back")
    return 0


def _serve(args) -> int:
    try:
        from hybridnlp.serve.server import load_models, serve
    except ImportError as err:  # pragma: no cover - the extra is missing
        raise _UsageError(f"{err}; install the serve extra: pip install "
                          f"'hybridnlp[serve]'") from None
    try:  # a bad directory: one line, before the port opens
        models = load_models(args.model_dirs)
    except (FileNotFoundError, ValueError) as err:
        raise _UsageError(str(err)) from None
    serve(models, host=args.host, port=args.port, max_batch=args.max_batch,
          max_wait_ms=args.max_wait_ms, log_level=args.log_level)
    return 0


def _datasets(args) -> int:
    from hybridnlp.datasets import list_datasets

    for row in list_datasets(args.data_home):
        status = "bundled" if row["bundled"] else ("found" if row["available"] else "missing")
        print(f"{row['name']:<16} {row['task']:<18} {status:<8} {', '.join(row['splits'])}")
    return 0


class _UsageError(Exception):
    pass


def build_parser() -> argparse.ArgumentParser:
    from hybridnlp import __version__

    fmt = argparse.ArgumentDefaultsHelpFormatter
    parser = _Parser(prog="hybridnlp", formatter_class=fmt,
                     description="Classical NLP and Transformers, combined: run experiment "
                                 "configs, compare runs, use saved models.")
    parser.add_argument("--version", action="version", version=f"hybridnlp {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def command(name: str, help: str):
        return sub.add_parser(name, help=help, description=help, formatter_class=fmt)

    p = command("run", "run an experiment config (YAML)")
    p.add_argument("config", nargs="?",
                   help="path to a YAML config, e.g. experiments/quickstart.yaml")
    p.add_argument("--resume", metavar="RUN_DIR",
                   help="continue an interrupted run in RUN_DIR (its folds and models that "
                        "finished are not redone)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value, e.g. --set models[0].params.clf__C=4")
    p.add_argument("--output", help="parent folder of the run directory (default: the "
                                    "config's output)")
    p.add_argument("--data-home", metavar="DIR", help=DATA_HOME_HELP)
    p.add_argument("--quiet", action="store_true", help="no progress bars and no summary")
    p.add_argument("--scheduler", metavar="ADDRESS", default=None,
                   help="a Dask scheduler to fit on (execution.backend: dask; default "
                        "$HYBRIDNLP_DASK_SCHEDULER, else a local cluster). It runs code in "
                        "this process: give only a cluster you trust")
    p.set_defaults(func=_run)
    p = command("report", "rewrite a run's report, or compare several runs (two: each "
                          "model's difference with its 95%% interval, and what differs in "
                          "the configs)")
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR")
    p.add_argument("--output", help="write the comparison table to this file")
    p.add_argument("--results", metavar="RESULTS_MD",
                   help="put the comparison table into a marked section of this file "
                        "(e.g. benchmarks/RESULTS.md)")
    p.add_argument("--section", default="runs", help="marker name of that section")
    p.set_defaults(func=_report)
    p = command("predict", "predict labels for texts with a saved model")
    p.add_argument("model_dir", metavar="MODEL_DIR",
                   help="a model directory, e.g. RUN_DIR/models/NBSVM")
    p.add_argument("--input", required=True, help="CSV, TSV, JSONL or TXT file of texts")
    p.add_argument("--text-column", default="text", help="column of the texts (CSV, TSV, JSONL)")
    p.add_argument("--second-column", help="for sentence pairs: the column of each pair's "
                                           "second text (--text-column holds the first)")
    p.add_argument("--output", help="CSV to write (default: standard output)")
    p.set_defaults(func=_predict)
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
    p = command("train-lm", "train a GPT language model on a text file")
    p.add_argument("corpus", help="a UTF-8 text file (.gz is decompressed)")
    p.add_argument("--output", required=True, help="model directory to write")
    p.add_argument("--preset", "--model", dest="preset", default="quick",
                   help="GPT preset (gpt-nano ... gpt2-xl)")
    p.add_argument("--tokenizer", default="char", choices=["char", "word", "bpe"],
                   help="token unit")
    p.add_argument("--max-time", type=float, default=None,
                   help="training budget in seconds (with neither budget: 2,000 steps)")
    p.add_argument("--max-steps", type=int, default=None, help="training budget in steps")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--checkpoint-dir", metavar="DIR", default=None,
                   help="keep a checkpoint here at the end of every epoch (a new or empty "
                        "folder, or one an earlier train-lm wrote)")
    p.add_argument("--resume", action="store_true",
                   help="continue from the checkpoint in --checkpoint-dir (same corpus and "
                        "settings)")
    p.add_argument("--nproc", type=int, default=1, metavar="N",
                   help="data-parallel processes (torchrun on this machine; the batch is "
                        "shared between them)")
    p.set_defaults(func=_train_lm)
    p = command("generate", "continue a prompt with a saved language model")
    p.add_argument("model_dir", metavar="MODEL_DIR", help="a directory written by train-lm")
    p.add_argument("--prompt", default="", help="text to continue")
    p.add_argument("--max-new-tokens", type=int, default=200, help="tokens to generate")
    p.add_argument("--temperature", type=float, default=0.8,
                   help="sampling temperature (lower: more predictable)")
    p.add_argument("--top-k", type=int, default=None, help="sample from the k likeliest tokens")
    p.add_argument("--top-p", type=float, default=None,
                   help="sample from the smallest set of tokens with this probability")
    p.add_argument("--repetition-penalty", type=float, default=1.0,
                   help="divide the scores of tokens already generated by this (1: off)")
    p.add_argument("--num-beams", type=int, default=1,
                   help="beam search with this many beams (1: sampling)")
    p.add_argument("--stop", action="append", default=[], metavar="TEXT",
                   help="end at the first occurrence of TEXT (repeatable)")
    p.add_argument("--stream", action="store_true", help="print the text as it is generated")
    p.add_argument("--seed", type=int, default=None, help="random seed")
    p.set_defaults(func=_generate)
    p = command("translate", "translate text with a saved sequence-to-sequence model")
    p.add_argument("model_dir", metavar="MODEL_DIR",
                   help="a model directory, e.g. RUN_DIR/models/transformer")
    p.add_argument("--input", default=None,
                   help="UTF-8 text file, one sentence a line (default or '-': standard "
                        "input)")
    p.add_argument("--output", help="file to write, one translation a line (default: "
                                    "standard output)")
    p.add_argument("--num-beams", type=int, default=None,
                   help="beam size (default: the model's)")
    p.add_argument("--batch-size", type=int, default=64, help="sentences decoded together")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_translate)
    p = command("index", "index passages for question answering")
    p.add_argument("passages", metavar="PASSAGES_FILE",
                   help="one passage a line (.txt), a SQuAD JSON / JSON Lines file, or a "
                        "CSV/TSV with a text column")
    p.add_argument("--output", required=True, help="index directory to write")
    p.add_argument("--retriever", default="bm25", choices=["bm25", "tfidf", "hybrid"],
                   help="bm25: Okapi BM25 (the default: the best single retriever measured); "
                        "tfidf: DrQA's hashed unigram + bigram TF-IDF; hybrid: both, fused "
                        "(by reciprocal rank, or by a logistic regression learnt on the --train "
                        "questions) where that finds more passages than either alone on the "
                        "--train questions (without them, on questions made from the "
                        "passages), else the better one alone")
    p.add_argument("--train", metavar="SQUAD_FILE",
                   help="SQuAD-format questions to train the reader and the score combination "
                        "on (without: the sliding-window reader, or --reader as it is)")
    p.add_argument("--reader", metavar="DIR",
                   help="a fitted reader: a directory a reader's save wrote (e.g. a "
                        "fine-tuned ExtractiveReader) or a local fine-tuned Hugging Face "
                        "question-answering model; with --train only the score combination "
                        "is learnt")
    p.add_argument("--top-k", type=int, default=5, help="passages read per question")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_index)
    p = command("ask", "answer a question from an index")
    p.add_argument("index_dir", metavar="DIR", help="a directory written by index")
    p.add_argument("question", nargs="?", help="the question (or --questions FILE)")
    p.add_argument("--questions", metavar="FILE",
                   help="one question a line, all answered in this one process")
    p.add_argument("--json", action="store_true",
                   help="one JSON object a line: question, text, passage, start, end, score")
    p.add_argument("--top-k", type=int, default=None, help="passages read (default: the index's)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_ask)
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
    p = command("datasets", "list the bundled and found data sets")
    p.add_argument("--data-home", default=None, metavar="DIR", help=DATA_HOME_HELP)
    p.set_defaults(func=_datasets)
    return parser


DATA_HOME_HELP = ("folder holding the larger data sets (imdb/, wikitext2/, ...); searched "
                  "first, then $HYBRIDNLP_DATA, ~/hybridnlp_data and a source checkout's "
                  "../shared/data")


def main(argv=None) -> int:
    from hybridnlp.exceptions import HybridNLPError, Interrupted

    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # to start again under torchrun
    try:
        with exit_on_sigterm():  # a killed run cleans up and stays resumable
            return args.func(args)
    except (_UsageError, HybridNLPError) as err:  # configs, data, locks: one line
        parser.exit(2, f"hybridnlp {args.command}: error: {err}\n")
    except KeyboardInterrupt as err:  # Ctrl-C: what was kept, and how to go on
        kept = str(err) if isinstance(err, Interrupted) and str(err) else INTERRUPTED.get(
            args.command, "nothing was written")
        parser.exit(130, f"hybridnlp {args.command}: interrupted; {kept}\n")


# What Ctrl-C leaves, for the commands that do not say it themselves: their output is
# written whole at the end (atomically), so an interruption leaves the old file or none.
INTERRUPTED = {
    "index": "nothing was written (the index is written whole at the end); run it again",
    "translate": "nothing was written (the translations are written together at the end); "
                 "run it again",
    "predict": "nothing was written; run it again",
}


if __name__ == "__main__":
    sys.exit(main())
