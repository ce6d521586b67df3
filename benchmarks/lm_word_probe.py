"""One short word-level GPT run on WikiText-2, scored on the validation split: the probe behind
the "word" preset and the adaptive softmax's defaults (RESULTS.md "WikiText-2: how the word
preset was chosen"). Prints one JSON line: the settings, steps, training tokens/s, parameters,
passes over the training text and the perplexity of the first ``--score`` validation tokens.

Run alone (a timed budget): ``.venv/bin/python benchmarks/lm_word_probe.py --minutes 4
--cut 2000,10000 --precision bf16``; ``--cut none`` is the full softmax. Never the test split.
"""

from __future__ import annotations

import argparse
import json
import math
import time

from lm import wikitext2_text

from hybridnlp import CausalLM
from hybridnlp.lm._corpus import make_tokenizer, token_stream


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=float, default=4)
    p.add_argument("--embd", type=int, default=128)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--block", type=int, default=128)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--cut", default="none", help="'none', 'auto' or bounds such as 2000,10000")
    p.add_argument("--div", type=float, default=4.0)
    p.add_argument("--wd", type=float, default=0.1)
    p.add_argument("--precision", default="auto")
    p.add_argument("--score", type=int, default=60000)
    a = p.parse_args()
    train, valid = wikitext2_text("train"), wikitext2_text("dev")
    tok = make_tokenizer("word")
    tok.train([train])
    cut = (None if a.cut == "none" else "auto" if a.cut == "auto"
           else [int(x) for x in a.cut.split(",")])
    start = time.perf_counter()
    lm = CausalLM(preset="quick", tokenizer=tok, max_time=a.minutes * 60, block_size=a.block,
                  batch_size=a.batch, optimizer__lr=a.lr, optimizer__weight_decay=a.wd,
                  module__dropout=a.dropout, module__n_layer=a.layers, module__n_embd=a.embd,
                  module__n_head=a.heads, module__adaptive_cutoffs=cut,
                  module__adaptive_div=a.div, eval_interval=500, eval_windows=50,
                  precision=a.precision, random_state=0, verbose=0,
                  ).fit(train, validation_data=valid)
    fit = time.perf_counter() - start
    lp = lm.token_log_probs(token_stream(tok, valid)[:a.score])
    steps = lm.history_[-1]["step"]
    tokens = steps * a.batch * a.block
    print(json.dumps(dict(vars(a), steps=steps, tok_s=round(tokens / fit),
                          params=sum(q.numel() for q in lm.model_.parameters()),
                          epochs=round(tokens / lm.n_train_tokens_, 2),
                          val_ppl=round(math.exp(-lp.mean()), 1))))


if __name__ == "__main__":
    main()
