"""Chinese question answering and translation (issue 29, item 4) -> benchmarks/RESULTS.md.

- ``cmrc``: ``LogisticReader()`` (defaults; ``max_answer_words="auto"`` follows the training
  answers) trained on the CMRC 2018 trial set and the DRCD dev set (traditional characters;
  there is no CMRC training set here), EM/F1 on the 3,219 CMRC 2018 dev questions with the
  gold passage, scored as ``cmrc2018_evaluate.py`` does (character-level).
- ``tatoeba``: ``Seq2SeqLM()`` trained ``--minutes`` on the Tatoeba English-Chinese train
  pairs in each direction, sacreBLEU on test (``zh`` tokenisation for Chinese references,
  chosen by ``corpus_bleu``'s ``tokenize="auto"``) and chrF.

Run: ``HYBRIDNLP_DATA=../shared/data .venv/bin/python benchmarks/chinese_qa_mt.py cmrc tatoeba``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _report import stamp, write_section  # noqa: E402

from hybridnlp import load_dataset  # noqa: E402


def cmrc(command: str) -> None:
    from hybridnlp.qa import LogisticReader, squad_em_f1

    trial, drcd = load_dataset("cmrc2018", split="train"), load_dataset("drcd", split="dev")
    dev = load_dataset("cmrc2018", split="dev")
    qs, ps, ans = [], [], []
    for b in (trial, drcd):
        for q, refs, starts, p in zip(b.data, b.target, b.answer_starts, b.passage_index,
                                      strict=True):
            qs.append(q)
            ps.append(b.passages[p])
            ans.append({"text": refs[0], "answer_start": starts[0]})
    start = time.perf_counter()
    reader = LogisticReader(random_state=0).fit(qs, ps, ans)
    fit_s = time.perf_counter() - start
    dp = [dev.passages[i] for i in dev.passage_index]
    spans = reader.predict(dev.data, dp)
    texts = [p[s.start:s.end] for p, s in zip(dp, spans, strict=True)]
    got = squad_em_f1(texts, dev.target)
    english = squad_em_f1(texts, dev.target, language="en")
    body = "\n".join([
        "## Chinese question answering: CMRC 2018 dev (issue 29)", "", stamp(command), "",
        f"Trained on the CMRC 2018 trial set ({len(trial.data):,} questions) and the DRCD dev "
        f"set ({len(drcd.data):,}, traditional characters); {len(dev.data):,} CMRC dev "
        "questions read with their gold passage. EM/F1 as `cmrc2018_evaluate.py` computes "
        "them (character-level F1 over the longest common run); SQuAD's word-level F1 on the "
        "same answers beside it, for how much the old metric hid.", "",
        "| reader | EM | F1 | SQuAD-metric F1 | max answer chars | fit (s) |",
        "|---|---|---|---|---|---|",
        f"| LogisticReader() | {got['exact_match']:.1f} | {got['f1']:.1f} | "
        f"{english['f1']:.1f} | {reader.max_answer_words_} | {fit_s:.0f} |", "",
        "Published (trained on the 10k CMRC training set we do not have): BERT-base Chinese "
        "63.5 / 83.6.", ""])
    write_section("chinese-cmrc", body)


def tatoeba(command: str, minutes: float) -> None:
    from hybridnlp.seq2seq import Seq2SeqLM, corpus_bleu, corpus_chrf

    data = {s: load_dataset("tatoeba_cmn_eng", split=s) for s in ("train", "dev", "test")}
    rows = []
    for direction in ("en->zh", "zh->en"):
        def pair(b, d=direction):
            src, tgt = list(b.data), list(b.target)
            return (src, tgt) if d == "en->zh" else (tgt, src)
        train, dev, test = (pair(data[s]) for s in ("train", "dev", "test"))
        start = time.perf_counter()
        mt = Seq2SeqLM(max_time=minutes * 60, max_epochs=1000, precision="bf16",
                       random_state=0, verbose=0).fit(*train, validation_data=dev)
        fit_s = time.perf_counter() - start
        hyps = mt.predict(test[0])
        bleu, chrf = corpus_bleu(hyps, test[1]), corpus_chrf(hyps, test[1])
        rows.append(f"| {direction} | {bleu.score:.2f} | {chrf.score:.2f} | {fit_s:.0f} | "
                    f"`{bleu.signature}` |")
        print(rows[-1], flush=True)
    body = "\n".join([
        "## Chinese translation: Tatoeba English-Chinese (issue 29)", "", stamp(command), "",
        f"`Seq2SeqLM()` (defaults: BPE, the small encoder-decoder, beam 5) trained {minutes:g} "
        f"minutes per direction on the {len(data['train'].data):,} train pairs (dev for early "
        f"stopping), scored on the {len(data['test'].data):,} test pairs.", "",
        "| direction | BLEU | chrF | fit (s) | BLEU signature |", "|---|---|---|---|---|",
        *rows, ""])
    write_section("chinese-tatoeba", body)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("sections", nargs="*", default=["cmrc", "tatoeba"],
                        choices=["cmrc", "tatoeba"])
    parser.add_argument("--minutes", type=float, default=5.0)
    args = parser.parse_args()
    command = "python benchmarks/chinese_qa_mt.py " + " ".join(sys.argv[1:])
    for section in args.sections:
        if section == "cmrc":
            cmrc(command)
        else:
            tatoeba(command, args.minutes)
