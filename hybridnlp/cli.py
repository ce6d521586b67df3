"""The ``hybridnlp`` command: run, report, predict, train-lm, generate, datasets.

Bad arguments and invalid configs exit with status 2 and a one-line message.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

from hybridnlp.utils.signals import exit_on_sigterm

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, status 2
        self.exit(2, f"{self.prog}: error: {message}\n")


def _run(args) -> int:
    from hybridnlp.experiments.config import apply_overrides, load_config, read_config_file
    from hybridnlp.experiments.runner import run

    if args.resume:
        if args.set or args.output:
            raise _UsageError("--resume continues a run with its own config and directory; "
                              "--set and --output start a new run instead")
        from hybridnlp.experiments.progress import resume_dir

        try:  # not a run directory, or a config other than the run's: a usage error
            resume_dir(args.config, args.resume)
        except (FileNotFoundError, ValueError) as err:
            raise _UsageError(str(err)) from None
        run(args.config, quiet=args.quiet, resume=args.resume)  # the path, for the report
        return 0
    if args.config is None:
        raise _UsageError("give a config file, or --resume RUN_DIR")
    values = read_config_file(args.config)
    if args.set:
        values = apply_overrides(values, args.set)
    config = load_config(values)
    run(config, output=args.output, quiet=args.quiet)
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

    model = _load_model(args.model_dir)
    try:  # a missing file or column, a malformed CSV: the reader's message, no traceback
        texts = load_texts(args.input, text_column=args.text_column).data
    except (FileNotFoundError, ValueError, TypeError) as err:
        raise _UsageError(str(err)) from None
    preds = model.predict(texts)
    out = open(args.output, "w", newline="", encoding="utf-8") if args.output else sys.stdout
    try:
        w = csv.writer(out)
        w.writerow(["text", "prediction"])
        for t, p in zip(texts, preds, strict=True):
            w.writerow([t, p.item() if hasattr(p, "item") else p])
    finally:
        if args.output:
            out.close()
    return 0


def _load_model(model_dir: str):
    """``load_model``, its refusals (no model there, a corrupt or foreign file) as usage errors."""
    from hybridnlp.persistence import load_model

    if not Path(model_dir).is_dir():
        raise _UsageError(f"model directory {model_dir!r} does not exist")
    try:
        return load_model(model_dir)
    except (FileNotFoundError, ValueError) as err:
        raise _UsageError(str(err)) from None


def _train_lm(args) -> int:
    from hybridnlp.lm import CausalLM

    if not Path(args.corpus).is_file():
        raise _UsageError(f"corpus file {args.corpus!r} does not exist")

    lm = CausalLM(model=args.model, tokenizer=args.tokenizer, max_time=args.max_time,
                  max_steps=args.max_steps, random_state=args.seed,
                  trainer__progress=not args.quiet)
    lm.fit(Path(args.corpus))
    lm.save(args.output)
    loss = f"{lm.val_loss_:.4f}" if lm.val_loss_ is not None else "n/a"
    print(f"validation loss {loss} nats/token; model saved to {args.output}")
    return 0


def _generate(args) -> int:
    model = _load_model(args.model_dir)
    if not hasattr(model, "generate"):
        raise _UsageError(f"the model in {args.model_dir!r} is not a language model")
    kw = dict(temperature=args.temperature, top_k=args.top_k, top_p=args.top_p, seed=args.seed)
    print(args.prompt + model.generate(args.prompt, args.max_new_tokens, **kw))
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
    parser = _Parser(prog="hybridnlp", description="Classical NLP and Transformers, combined: "
                     "run experiment configs, compare runs, use saved models.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    p = sub.add_parser("run", help="run an experiment config (YAML)")
    p.add_argument("config", nargs="?",
                   help="path to a YAML config, e.g. experiments/quickstart.yaml")
    p.add_argument("--resume", metavar="RUN_DIR",
                   help="continue an interrupted run in RUN_DIR (its folds and models that "
                        "finished are not redone)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value, e.g. --set models[0].params.clf__C=4")
    p.add_argument("--output", help="parent folder of the run directory (default: config's)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_run)
    p = sub.add_parser("report", help="rewrite a run's report, or compare several runs")
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR")
    p.add_argument("--output", help="write the comparison table to this file")
    p.add_argument("--results", metavar="RESULTS_MD",
                   help="put the comparison table into a marked section of this file "
                        "(e.g. benchmarks/RESULTS.md)")
    p.add_argument("--section", default="runs", help="marker name of that section")
    p.set_defaults(func=_report)
    p = sub.add_parser("predict", help="predict labels for texts with a saved model")
    p.add_argument("model_dir", metavar="MODEL_DIR")
    p.add_argument("--input", required=True, help="CSV, TSV, JSONL or TXT file of texts")
    p.add_argument("--text-column", default="text")
    p.add_argument("--output", help="CSV to write (default: standard output)")
    p.set_defaults(func=_predict)
    p = sub.add_parser("train-lm", help="train a GPT language model on a text file")
    p.add_argument("corpus", help="a text file")
    p.add_argument("--output", required=True, help="model directory to write")
    p.add_argument("--model", default="quick", help="GPT preset (default: quick)")
    p.add_argument("--tokenizer", default="char", choices=["char", "word", "bpe"])
    p.add_argument("--max-time", type=float, default=None, help="training budget in seconds")
    p.add_argument("--max-steps", type=int, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_train_lm)
    p = sub.add_parser("generate", help="continue a prompt with a saved language model")
    p.add_argument("model_dir", metavar="MODEL_DIR")
    p.add_argument("--prompt", default="")
    p.add_argument("--max-new-tokens", type=int, default=200)
    p.add_argument("--temperature", type=float, default=0.8)
    p.add_argument("--top-k", type=int, default=None)
    p.add_argument("--top-p", type=float, default=None)
    p.add_argument("--seed", type=int, default=None)
    p.set_defaults(func=_generate)
    p = sub.add_parser("datasets", help="list the bundled and found data sets")
    p.add_argument("--data-home", default=None)
    p.set_defaults(func=_datasets)
    return parser


def main(argv=None) -> int:
    from hybridnlp.exceptions import HybridNLPError

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with exit_on_sigterm():  # a killed run cleans up and stays resumable
            return args.func(args)
    except (_UsageError, HybridNLPError) as err:  # configs, data, locks: one line
        parser.exit(2, f"hybridnlp {args.command}: error: {err}\n")


if __name__ == "__main__":
    sys.exit(main())
