"""The ``translation`` task: fit each sequence-to-sequence model on the train pairs (the dev
pairs for validation and for a fusion's weight), then decode the dev and test sources and
score them with sacreBLEU (BLEU and chrF, signatures kept), with a table of samples and the
loss curves in the report."""

from __future__ import annotations

import time
from pathlib import Path

from hybridnlp.experiments.model_loop import finish_model, pending_models
from hybridnlp.experiments.plots import curves
from hybridnlp.experiments.report import table_cell, target_cell
from hybridnlp.experiments.task import Task, reading_data, register_task

__all__ = ["TRANSLATION", "load_pairs", "render", "translation"]

SAMPLES = 8  # test sentences shown in the report
LANGUAGES = ("en", "de")  # multi30k's; its reader states them as source_lang / target_lang


def load_pairs(config, split: str) -> tuple[list[str], list[str]]:
    """(sources, targets) of one split, in the config's direction (``data.source`` ->
    ``data.target``), the first ``data.limit`` pairs when it is set."""
    from hybridnlp.datasets import load_dataset

    d = config.data
    with reading_data("data.name"):
        bunch = load_dataset(d.name, split=split, data_home=d.data_home)
    src, tgt = list(bunch.data), list(bunch.target)
    if d.source is not None and d.source == bunch.get("target_lang"):
        src, tgt = tgt, src  # the other direction of the same pairs
    if d.limit is not None:
        src, tgt = src[:d.limit], tgt[:d.limit]
    return src, tgt


def translation(config, run_dir, result, *, progress=None, scheduler=None) -> dict:
    from hybridnlp.seq2seq import corpus_bleu, corpus_chrf

    d = config.data
    train = load_pairs(config, d.train_split)
    dev = load_pairs(config, "dev")
    test_split = d.test_split or "test"
    test = load_pairs(config, test_split)
    rows, signature = {}, None
    for i, spec, model in pending_models(config, run_dir, result, rows):
        start = time.perf_counter()
        model.fit(*train, validation_data=dev)
        row = {"fit_time": time.perf_counter() - start}
        for name, (src, tgt) in (("dev", dev), ("test", test)):
            start = time.perf_counter()
            hyps = model.predict(src, progress=progress is not None)
            seconds = time.perf_counter() - start
            bleu, chrf = corpus_bleu(hyps, tgt), corpus_chrf(hyps, tgt)
            suffix = "" if name == "test" else "_dev"
            row.update({f"bleu{suffix}": bleu.score, f"chrf{suffix}": chrf.score,
                        f"decode_time{suffix}": seconds,
                        f"sentences_per_s{suffix}": len(src) / max(seconds, 1e-9)})
            signature = {"bleu": bleu.signature, "chrf": chrf.signature}
            if name == "test":
                row["samples"] = [{"source": s, "reference": r, "hypothesis": h}
                                  for s, r, h in list(zip(src, tgt, hyps))[:SAMPLES]]
        translator = getattr(model, "translator_", model)
        row["history"] = [dict(r) for r in getattr(translator, "history_", [])]
        if hasattr(model, "weight_"):
            row["lm_weight"] = model.weight_
            row["weight_scores"] = getattr(model, "weight_scores_", None)
        row["num_beams"] = translator.num_beams
        row["length_penalty"] = translator.length_penalty
        finish_model(config, run_dir, result, rows, i, spec, model, row)
    direction = f"{d.source or 'source'} -> {d.target or 'target'}"
    return {"models": rows, "signature": signature, "protocol": (
        f"{d.name} {direction}: fit on {d.train_split} ({len(train[0])} pairs), dev "
        f"({len(dev[0])}) for validation, detokenised sacreBLEU on {test_split} "
        f"({len(test[0])} sentences), beam search")}


def render(m: dict, run_dir: Path) -> list[str]:
    rows = m["models"]
    lines = [f"Protocol: {m['protocol']}.", "",
             "| model | BLEU test | chrF test | BLEU dev | beams | fit time (s) | "
             "test decoding (sentences/s) | target |", "|---|---|---|---|---|---|---|---|"]
    for name, r in rows.items():
        fused = f", LM weight {r['lm_weight']:g}" if "lm_weight" in r else ""
        lines.append(f"| {name} | {r['bleu']:.2f} | {r['chrf']:.2f} | {r['bleu_dev']:.2f} | "
                     f"{r['num_beams']} (alpha {r['length_penalty']:g}{fused}) | "
                     f"{r['fit_time']:.1f} | {r['sentences_per_s']:.1f} | "
                     f"{target_cell(m, name, r['bleu'])} |")
    sig = m.get("signature") or {}
    lines += ["", f"sacreBLEU signatures: BLEU `{sig.get('bleu')}`, chrF `{sig.get('chrf')}`.",
              ""]
    histories = {n: r["history"] for n, r in rows.items() if r.get("history")}
    if histories and curves(histories, ("train_loss", "val_loss"), "epoch",
                             run_dir / "loss_curves.png", "loss (nats/token)",
                             title=f"{m.get('name', 'run')}: loss per epoch"):
        lines += ["![loss curves](loss_curves.png)", ""]
    for name, r in rows.items():
        lines += [f"Test samples from {name}:", "", "| source | reference | hypothesis |",
                  "|---|---|---|"]
        lines += [f"| {table_cell(s['source'])} | {table_cell(s['reference'])} | "
                  f"{table_cell(s['hypothesis'])} |" for s in r.get("samples", [])]
        lines.append("")
    return lines


TRANSLATION = register_task(Task(
    name="translation", metrics=("bleu", "chrf"), main_metric="bleu",
    model_types=("seq2seq_lm", "shallow_fusion"), run=translation, render=render,
    data_task=True, reads="the sentence pairs of a translation data set",
    languages=LANGUAGES))
