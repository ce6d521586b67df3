"""The ``question_answering`` task: fit each pipeline on the train split's questions, then on
the test split (SQuAD dev): retrieval recall@k over its passages, EM/F1 with the gold passage
(the reader alone) and in open mode (retrieve, then read), F1 by question type, and examples
right and wrong for the report."""

from __future__ import annotations

import time
from pathlib import Path

from hybridnlp.experiments.model_loop import finish_model, pending_models
from hybridnlp.experiments.report import table_cell, target_cell
from hybridnlp.experiments.task import Task, reading_data, register_task

__all__ = ["QUESTION_ANSWERING", "question_answering", "render"]

EXAMPLES = 5  # right and wrong open-mode answers shown in the report


def _split(config, split: str):
    from hybridnlp.datasets import load_dataset

    d = config.data
    with reading_data("data.name"):
        b = load_dataset(d.name, split=split, data_home=d.data_home)
    n = len(b.data) if d.limit is None else min(d.limit, len(b.data))
    return (list(b.data[:n]), list(b.target[:n]), list(b.passages),
            list(b.passage_index[:n]))


def question_answering(config, run_dir, result, *, progress=None, scheduler=None) -> dict:
    from hybridnlp.qa import question_type, recall_at_k, squad_em_f1

    d = config.data
    train = _split(config, d.train_split)
    test_split = d.test_split or "dev"
    qs, refs, passages, gold = _split(config, test_split)
    rows = {}
    for i, spec, qa in pending_models(config, run_dir, result, rows):
        start = time.perf_counter()
        tq, tref, tpassages, tindex = train
        qa.fit(tq, tpassages, tref, passage_index=tindex)
        row = {"fit_time": time.perf_counter() - start}
        spans = qa.reader_.predict(qs, [passages[g] for g in gold])
        gold_texts = [passages[g][s.start:s.end] for g, s in zip(gold, spans, strict=True)]
        scores = squad_em_f1(gold_texts, refs)
        row.update(f1_gold=scores["f1"], exact_match_gold=scores["exact_match"])
        start = time.perf_counter()
        qa.index(passages)
        answers = qa.predict(qs)
        row["answer_time"] = time.perf_counter() - start
        scores = squad_em_f1([a["text"] for a in answers], refs)
        row.update(f1=scores["f1"], exact_match=scores["exact_match"])
        ids, _ = qa.retriever_.search(qs, k=20)
        row["recall"] = recall_at_k(ids, gold)
        by_type: dict[str, list[int]] = {}
        for j, q in enumerate(qs):
            by_type.setdefault(question_type(q), []).append(j)
        row["by_type"] = {t: {"n": len(js), **squad_em_f1([gold_texts[j] for j in js],
                                                          [refs[j] for j in js])}
                          for t, js in sorted(by_type.items())}
        right = [j for j, a in enumerate(answers) if squad_em_f1([a["text"]], [refs[j]])[
            "exact_match"] == 100.0]
        wrong = [j for j in range(len(qs)) if j not in set(right)]
        row["examples"] = [{"question": qs[j], "answer": answers[j]["text"],
                            "references": refs[j], "right": j in set(right)}
                           for j in right[:EXAMPLES] + wrong[:EXAMPLES]]
        finish_model(config, run_dir, result, rows, i, spec, qa, row)
    return {"models": rows, "protocol": (
        f"{d.name}: fit on {d.train_split} ({len(train[0])} questions), scored on "
        f"{test_split} ({len(qs)} questions over {len(passages)} passages), official SQuAD "
        f"v1.1 EM/F1; main metric F1 in open mode (retrieve, then read)")}


def render(m: dict, run_dir: Path) -> list[str]:
    rows = m["models"]
    lines = [f"Protocol: {m['protocol']}.", "",
             "| model | F1 open | EM open | F1 gold passage | EM gold passage | recall@1 | "
             "recall@5 | recall@20 | fit time (s) | target |", "|---" * 10 + "|"]
    for name, r in rows.items():
        rec = {int(k): v for k, v in r["recall"].items()}
        lines.append(f"| {name} | {r['f1']:.2f} | {r['exact_match']:.2f} | "
                     f"{r['f1_gold']:.2f} | {r['exact_match_gold']:.2f} | {rec[1]:.2f} | "
                     f"{rec[5]:.2f} | {rec[20]:.2f} | {r['fit_time']:.1f} | "
                     f"{target_cell(m, name, r['f1'])} |")
    lines.append("")
    for name, r in rows.items():
        lines += [f"EM / F1 by question type (gold passage), {name}:", "",
                  "| type | questions | EM | F1 |", "|---|---|---|---|"]
        lines += [f"| {t} | {v['n']} | {v['exact_match']:.1f} | {v['f1']:.1f} |"
                  for t, v in r["by_type"].items()]
        lines += ["", f"Examples from {name} (open mode):", "",
                  "| | question | answer | references |", "|---|---|---|---|"]
        lines += [f"| {'right' if e['right'] else 'wrong'} | {table_cell(e['question'])} | "
                  f"{table_cell(e['answer'])} | {table_cell(' / '.join(e['references']))} |"
                  for e in r["examples"]]
        lines.append("")
    return lines


QUESTION_ANSWERING = register_task(Task(
    name="question_answering", metrics=("f1", "exact_match"), main_metric="f1",
    model_types=("qa_pipeline",), run=question_answering, render=render, data_task=True,
    reads="a SQuAD-format data set"))
