"""The ``language_modeling`` task: fit each language model on the training text (a held-out
part, or the test split, for validation), then its perplexity on the held-out text per token,
word or character, the loss curves and samples; an interpolation's weights cross-fitted on
the two halves of the held-out text."""

from __future__ import annotations

import inspect
import math
import time
from pathlib import Path

from hybridnlp.experiments.model_loop import finish_model, pending_models
from hybridnlp.experiments.plots import curves
from hybridnlp.experiments.task import Task, reading_data, register_task

__all__ = ["LANGUAGE_MODELING", "language_modeling", "render"]


def _corpus(config):
    from hybridnlp.datasets import load_dataset
    from hybridnlp.lm import read_corpus, split_corpus

    d = config.data
    if d.path is not None:
        with reading_data("data.path"):
            corpus = read_corpus(Path(d.path))
        train, val = split_corpus(corpus, config.evaluation.validation)
        return train, val
    with reading_data("data.name"):
        train = load_dataset(d.name, split=d.train_split, data_home=d.data_home).data
    test_split = d.test_split
    if test_split is None:
        whole = train if len(train) > 1 else train[0]
        return split_corpus(whole, config.evaluation.validation)
    with reading_data("data.name"):
        val = load_dataset(d.name, split=test_split, data_home=d.data_home).data
    join = (lambda xs: xs[0]) if len(train) == 1 else (lambda xs: "\n".join(xs) + "\n")
    return join(train), join(val)


def language_modeling(config, run_dir, result, *, progress=None, scheduler=None) -> dict:
    from hybridnlp.lm import count_units
    from hybridnlp.text import CharTokenizer

    ev = config.evaluation
    train, val = _corpus(config)
    if config.data.limit is not None:
        train, val = train[:config.data.limit], val[:max(config.data.limit // 10, 1000)]
    rows = {}
    for i, spec, model in pending_models(config, run_dir, result, rows):
        # a model that reads the held-out text (validation_data) builds its character
        # inventory from both texts, as nanoGPT does; one that does not gets the same one
        takes_val = "validation_data" in inspect.signature(model.fit).parameters
        if not takes_val and model.get_params(deep=False).get("tokenizer") == "char":
            model.set_params(tokenizer=CharTokenizer().train([train, val]))
        start = time.perf_counter()
        model.fit(train, validation_data=val) if takes_val else model.fit(train)
        eval_text = val
        cross_fit = getattr(model, "cross_fit_log_likelihood", None)  # an interpolation's
        # weights are cross-fitted on the held-out halves
        total, n = cross_fit(eval_text) if cross_fit else model.log_likelihood(eval_text)
        fit_time = time.perf_counter() - start
        per_n = count_units(eval_text, ev.per, n, model.tokenizer_)
        row = {"loss": -total / max(n, 1), "perplexity": math.exp(-total / max(per_n, 1)),
               "per": ev.per, "eval_tokens": n, "fit_time": fit_time}
        if getattr(model, "val_loss_", None) is not None:
            row["val_loss_windows"] = model.val_loss_
        if hasattr(model, "history_"):
            row["history"] = [dict(r) for r in model.history_]
        row["samples"] = [model.generate(ev.prompt, ev.max_new_tokens, seed=config.seed + s)
                          for s in range(ev.samples)]
        finish_model(config, run_dir, result, rows, i, spec, model, row)
    held_out = config.data.test_split or f"the last {ev.validation:.0%} of the training text"
    return {"models": rows, "protocol": (
        f"perplexity per {ev.per} on the held-out text ({held_out}); an interpolation's "
        f"weights are cross-fitted on its two halves")}


def render(m: dict, run_dir: Path) -> list[str]:
    rows = m["models"]
    lines = [f"Protocol: {m['protocol']}.", "",
             "| model | loss (nats/token) | perplexity | per | fit time (s) |",
             "|---|---|---|---|---|"]
    for name, r in rows.items():
        lines.append(f"| {name} | {r['loss']:.4f} | {r['perplexity']:.3f} | {r['per']} | "
                     f"{r['fit_time']:.1f} |")
    lines.append("")
    histories = {n: r["history"] for n, r in rows.items() if r.get("history")}
    if histories and curves(histories, ("train_loss", "val_loss"), "step",
                             run_dir / "loss_curves.png", "loss (nats/token)",
                             title=f"{m.get('name', 'run')}: loss per step"):
        lines += ["![loss curves](loss_curves.png)", ""]
    for name, r in rows.items():
        for i, sample in enumerate(r.get("samples", [])):
            lines += [f"Sample {i + 1} from {name}:", "", "```text", sample, "```", ""]
    return lines


LANGUAGE_MODELING = register_task(Task(
    name="language_modeling", metrics=("perplexity", "loss"), main_metric="perplexity",
    model_types=("causal_lm", "ngram_lm", "interpolated_lm"), run=language_modeling,
    render=render, lower_is_better=True))
