"""The ``topic_modeling`` task: fit each topic model on the train split's texts; its top
words and c_v coherence there."""

from __future__ import annotations

import time
from pathlib import Path

from hybridnlp.experiments.data import load_split
from hybridnlp.experiments.model_loop import finish_model, pending_models
from hybridnlp.experiments.task import Task, register_task

__all__ = ["TOPIC_MODELING", "render", "topic_modeling"]


def topic_modeling(config, run_dir, result, *, progress=None, scheduler=None) -> dict:
    texts, _, _ = load_split(config, config.data.train_split)
    rows = {}
    for i, spec, model in pending_models(config, run_dir, result, rows):
        start = time.perf_counter()
        model.fit(texts)
        finish_model(config, run_dir, result, rows, i, spec, model, {
            "fit_time": time.perf_counter() - start,
            "top_words": model.top_words(config.evaluation.top_words),
            "coherence": float(model.coherence(texts))})
    return {"models": rows, "protocol": "topics fit on the train split; c_v coherence there"}


def render(m: dict, run_dir: Path) -> list[str]:
    lines = [f"Protocol: {m['protocol']}.", "", "| model | coherence (c_v) | fit time (s) |",
             "|---|---|---|"]
    for name, r in m["models"].items():
        lines.append(f"| {name} | {r['coherence']:.4f} | {r['fit_time']:.1f} |")
    lines.append("")
    for name, r in m["models"].items():
        lines += [f"Top words of {name}:", ""]
        lines += [f"{i}. {' '.join(words)}" for i, words in enumerate(r["top_words"])]
        lines.append("")
    return lines


TOPIC_MODELING = register_task(Task(
    name="topic_modeling", metrics=("coherence",), main_metric="coherence",
    model_types=("topics",), run=topic_modeling, render=render))
