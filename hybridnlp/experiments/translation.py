"""The ``translation`` task: fit each sequence-to-sequence model on the train pairs (the dev
pairs for validation and for a fusion's weight), then decode the dev and test sources and
score them with sacreBLEU (BLEU and chrF, signatures kept), with a table of samples and the
loss curves in the report."""

from __future__ import annotations

import time

from hybridnlp.experiments.model_loop import finish_model, pending_models
from hybridnlp.experiments.task_data import reading_data

__all__ = ["load_pairs", "translation"]

SAMPLES = 8  # test sentences shown in the report


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


def translation(config, run_dir, result, progress) -> dict:
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
