"""TransformerClassifier alone (../shared/BENCHMARKS.md section 1) -> benchmarks/RESULTS.md.

In one run: ``TransformerClassifier`` defaults on SST-2 (train, early stopping on dev, test
accuracy), TREC (train -> test) and MR (10-fold CV, time per fold); skorch's
``NeuralNetClassifier`` with early stopping around a 2-layer, 128-wide ``nn.TransformerEncoder``
on the same word ids, on SST-2; the Trainer against a hand-written PyTorch loop on the same model
and batches; bf16 autocast on and off.

And ``FastTextClassifier`` trained by the Trainer against its former hand-written loop.

Run: ``.venv/bin/pip install -e ".[bench]" && .venv/bin/python benchmarks/neural.py``
(about 25 minutes on 2 cores; ``--quick`` skips MR, ``--fasttext-only`` runs only fastText).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).parent))
from _report import stamp, timed, write_section  # noqa: E402

from hybridnlp import FastTextClassifier, TransformerClassifier, load_dataset  # noqa: E402
from hybridnlp.estimators.fasttext_classifier import _BagBatches, _BagModel, _one_thread  # noqa: E402
from hybridnlp.neural import TextBatches  # noqa: E402
from hybridnlp.nn import EncoderConfig, SequenceClassifier  # noqa: E402
from hybridnlp.text import WordVocabTokenizer  # noqa: E402
from hybridnlp.train import Trainer  # noqa: E402

CNN_RAND = {"mr": 76.1, "trec": 91.2, "sst2": 82.7}


def fit_ours(train, dev=None, **params):
    clf = TransformerClassifier(random_state=0, **params)
    start = time.perf_counter()
    validation = None if dev is None else (dev.data, dev.target)
    clf.fit(train.data, train.target, validation_data=validation)
    return clf, time.perf_counter() - start


class SkorchTransformer(nn.Module):
    """Embedding + nn.TransformerEncoder (2 layers, 128 wide) + mean pooling + linear."""

    def __init__(self, vocab_size, n_classes=2, d_model=128, n_layer=2, n_head=4, max_len=128):
        super().__init__()
        self.emb = nn.Embedding(vocab_size, d_model, padding_idx=0)
        self.pos = nn.Embedding(max_len, d_model)
        layer = nn.TransformerEncoderLayer(d_model, n_head, 4 * d_model, dropout=0.1,
                                           batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, n_layer)
        self.out = nn.Linear(d_model, n_classes)

    def forward(self, X):
        mask = X != 0  # (B, T)
        pos = torch.arange(X.shape[1], device=X.device)
        h = self.encoder(self.emb(X) + self.pos(pos), src_key_padding_mask=~mask)  # (B, T, C)
        m = mask.unsqueeze(-1).float()
        return self.out((h * m).sum(1) / m.sum(1).clamp(min=1))  # (B, n_classes)


def fit_skorch(train, dev, test) -> tuple[float, float]:
    from skorch import NeuralNetClassifier
    from skorch.callbacks import EarlyStopping
    from skorch.dataset import Dataset
    from skorch.helper import predefined_split

    tok = WordVocabTokenizer().train(train.data)

    def ids(texts, length=64):
        out = np.zeros((len(texts), length), dtype=np.int64)
        for i, row in enumerate(tok.encode_batch(texts)):
            row = row[:length]
            out[i, : len(row)] = row
        return out

    torch.manual_seed(0)
    net = NeuralNetClassifier(
        SkorchTransformer, module__vocab_size=tok.vocab_size, criterion=nn.CrossEntropyLoss,
        optimizer=torch.optim.AdamW, lr=1e-3, max_epochs=20, batch_size=32,
        train_split=predefined_split(Dataset(ids(dev.data), dev.target)),
        callbacks=[EarlyStopping(patience=3, load_best=True)], verbose=0,
    )
    start = time.perf_counter()
    net.fit(ids(train.data), train.target)
    elapsed = time.perf_counter() - start
    return 100 * float((net.predict(ids(test.data)) == test.target).mean()), elapsed


def trainer_overhead(train, epochs: int = 2, repeats: int = 3) -> tuple[float, float, float]:
    """Trainer.fit vs a plain loop: same model init, batches, fused AdamW, clipping, constant lr.

    Runs alternate (plain, Trainer, plain, ...) so warm-up and machine noise hit both alike;
    the ratio is of the medians.
    """
    tok = WordVocabTokenizer().train(train.data)
    ids = tok.encode_batch(train.data)
    config = EncoderConfig.from_preset("small", vocab_size=tok.vocab_size, max_len=128)

    def batches():
        return TextBatches(ids, train.target, None, max_len=128, batch_size=32, shuffle=True,
                           seed=0, bos_id=tok.bos_id, pad_id=tok.pad_id)

    torch.manual_seed(0)
    model = SequenceClassifier(config)
    init = {k: v.clone() for k, v in model.state_dict().items()}
    trainer = Trainer(max_epochs=epochs, lr=1e-3, warmup=0, min_lr_ratio=1.0, device="cpu",
                      precision="fp32", grad_clip=1.0)

    def with_trainer():
        model.load_state_dict(init)
        trainer.fit(model, batches())

    def plain_loop():
        model.load_state_dict(init)
        opt = trainer.make_optimizer(model)
        data = batches()
        model.train()
        for epoch in range(epochs):
            data.set_epoch(epoch)
            for batch in data:
                _, loss = model(**batch)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                opt.step()
                opt.zero_grad(set_to_none=True)

    ours, plain = [], []
    for _ in range(repeats):
        plain.append(timed(plain_loop)[1])
        ours.append(timed(with_trainer)[1])
    ours_t, plain_t = float(np.median(ours)), float(np.median(plain))
    return ours_t / plain_t, ours_t, plain_t


def fasttext_on_trainer(name: str, repeats: int = 3) -> dict:
    """``FastTextClassifier.fit`` (through the Trainer) against the hand-written loop it had
    before (the same model, n-gram batches, SparseAdam + Adam, linear decay): fit time and
    test accuracy, alternating runs, medians."""
    train, test = load_dataset(name, split="train"), load_dataset(name, split="test")
    clf = FastTextClassifier(random_state=0)

    def with_trainer():
        return clf.fit(train.data, train.target).predict(test.data)

    def plain_loop():
        # what fit did before the Trainer: the same vocabulary, batches and optimizers
        seed = clf._seed()
        classes, y_idx = np.unique(train.target, return_inverse=True)
        grams = clf._ngrams(train.data)
        counts = Counter(g for text in grams for g in text)
        kept = [g for g, c in counts.most_common(clf.max_features) if c >= clf.min_count]
        clf.vocabulary_ = {g: i for i, g in enumerate(kept)}
        batches = _BagBatches(*clf._encode(grams), y_idx, batch_size=32, shuffle=True,
                              seed=seed)
        with _one_thread():
            torch.manual_seed(seed)
            model = _BagModel(len(kept), clf.dim, len(classes))
            opt = model.configure_optimizer(lr=0.01, weight_decay=0.0, betas=(0.9, 0.999),
                                            eps=1e-8)
            total, step = clf.max_epochs * len(batches), 0
            for epoch in range(clf.max_epochs):
                batches.set_epoch(epoch)
                for batch in batches:
                    for group in opt.param_groups:
                        group["lr"] = 0.01 * (1.0 - step / total)
                    step += 1
                    _, loss = model(**batch)
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
        clf.model_, clf.classes_ = model.eval(), classes
        return clf.predict(test.data)

    ours, plain = [], []
    for _ in range(repeats):
        plain_pred, t = timed(plain_loop)
        plain.append(t)
        ours_pred, t = timed(with_trainer)
        ours.append(t)
    target = np.asarray(test.target)
    return {"data": name, "ours": float(np.median(ours)), "plain": float(np.median(plain)),
            "acc_ours": 100 * float(np.mean(ours_pred == target)),
            "acc_plain": 100 * float(np.mean(plain_pred == target))}


def write_fasttext(rows: list[dict]) -> None:
    table = "\n".join(
        f"| {r['data']} | {r['ours']:.2f} s | {r['plain']:.2f} s | {r['ours'] / r['plain']:.2f} "
        f"| {r['acc_ours']:.2f} | {r['acc_plain']:.2f} |" for r in rows)
    write_section("fasttext-trainer", f"""## FastTextClassifier on the Trainer (fit time)

{stamp("python benchmarks/neural.py --fasttext-only")}
`FastTextClassifier()` defaults (word 1-2-grams, 100 dimensions, 5 epochs, SparseAdam + Adam,
linear decay, one thread) trained by the shared `Trainer`, against the hand-written loop it had
before (same model, batches and optimizers; alternating runs, medians of 3). Train -> test.

| data | fit, Trainer | fit, own loop | ratio | test accuracy, Trainer | own loop |
| --- | ---: | ---: | ---: | ---: | ---: |
{table}
""")


def mr_cv() -> tuple[float, float]:
    from sklearn.model_selection import StratifiedKFold

    mr = load_dataset("mr")
    texts = np.array(mr.data, dtype=object)
    scores, times = [], []
    for tr, te in StratifiedKFold(10, shuffle=True, random_state=0).split(texts, mr.target):
        clf = TransformerClassifier(random_state=0)
        start = time.perf_counter()
        clf.fit(list(texts[tr]), mr.target[tr])
        times.append(time.perf_counter() - start)
        scores.append(clf.score(list(texts[te]), mr.target[te]))
    return 100 * float(np.mean(scores)), float(np.mean(times))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="skip the MR 10-fold run")
    parser.add_argument("--overhead-only", action="store_true", help="only the Trainer overhead")
    parser.add_argument("--fasttext-only", action="store_true",
                        help="only FastTextClassifier on the Trainer against its own loop")
    args = parser.parse_args()
    if args.fasttext_only:
        write_fasttext([fasttext_on_trainer(name) for name in ("sst2", "trec")])
        return
    torch.set_num_threads(torch.get_num_threads())
    sst = {s: load_dataset("sst2", split=s) for s in ("train", "dev", "test")}
    if args.overhead_only:
        ratio, ours_t, plain_t = trainer_overhead(sst["train"])
        print(f"trainer overhead {ratio:.3f} ({ours_t:.1f} s vs {plain_t:.1f} s)")
        return
    rows = []

    clf, sst_t = fit_ours(sst["train"], sst["dev"])
    sst_acc = 100 * clf.score(sst["test"].data, sst["test"].target)
    rows.append(f"| sst2 | train (early stopping on dev) -> test | {sst_acc:.1f} | {sst_t:.0f} s "
                f"({len(clf.history_)} epochs) | {CNN_RAND['sst2']} |")
    print(rows[-1], flush=True)
    skorch_acc, skorch_t = fit_skorch(sst["train"], sst["dev"], sst["test"])
    print(f"skorch {skorch_acc:.1f} {skorch_t:.0f}s", flush=True)

    epoch_fp32 = sst_t / len(clf.history_)
    bf16, t16 = fit_ours(sst["train"], sst["dev"], precision="bf16", max_epochs=2)
    epoch_bf16 = t16 / len(bf16.history_)
    bf16_acc = 100 * bf16.score(sst["test"].data, sst["test"].target)
    print(f"bf16 {bf16_acc:.1f} {epoch_bf16:.1f}s/epoch vs {epoch_fp32:.1f}", flush=True)

    trec_train, trec_test = load_dataset("trec", split="train"), load_dataset("trec", split="test")
    clf, t = fit_ours(trec_train)
    rows.append(f"| trec | train (10% held out for early stopping) -> test | "
                f"{100 * clf.score(trec_test.data, trec_test.target):.1f} | {t:.0f} s | "
                f"{CNN_RAND['trec']} |")
    print(rows[-1], flush=True)
    if not args.quick:
        acc, per_fold = mr_cv()
        rows.append(f"| mr | 10-fold CV | {acc:.1f} | {per_fold:.0f} s per fold | "
                    f"{CNN_RAND['mr']} |")
        print(rows[-1], flush=True)
    ratio, ours_t, plain_t = trainer_overhead(sst["train"])
    print(f"trainer overhead {ratio:.3f}", flush=True)
    write_fasttext([fasttext_on_trainer(name) for name in ("sst2", "trec")])

    table = "\n".join(rows)
    body = f"""## TransformerClassifier alone (accuracy, %)

{stamp("python benchmarks/neural.py")}
Defaults: word tokenizer, "small" encoder (1 layer, 4 heads, 128 wide, MLP ratio 2, mean pooling,
dropout 0.3 on embeddings and on the pooled vector), AdamW lr 1e-3 with warmup + cosine, batch 32,
early stopping (patience 3) on validation accuracy, best weights restored. Chosen on SST-2 dev
accuracy. No pretrained weights or outside data.

| data | protocol | TransformerClassifier | fit time | CNN-rand (Kim 2014) |
| --- | --- | ---: | ---: | ---: |
{table}

Same run, SST-2 test:

| model | accuracy | fit time | time ratio |
| --- | ---: | ---: | ---: |
| `TransformerClassifier()` defaults, fp32 | {sst_acc:.1f} | {sst_t:.0f} s | 1.00 |
| `TransformerClassifier(precision="bf16", max_epochs=2)`: time per epoch against fp32's | {bf16_acc:.1f} (2 epochs) | {epoch_bf16:.1f} s per epoch | {epoch_bf16 / epoch_fp32:.2f} |
| skorch `NeuralNetClassifier`, 2-layer 128-wide `nn.TransformerEncoder`, early stopping | {skorch_acc:.1f} | {skorch_t:.0f} s | {skorch_t / sst_t:.2f} |

Trainer overhead: `Trainer.fit` against a hand-written PyTorch loop (same model, batches,
fused AdamW, clipping; 2 epochs of SST-2 train, fp32; alternating runs, median of 3): {ours_t:.1f} s
vs {plain_t:.1f} s =
**{ratio:.2f}x** (target <= 1.1x).
"""  # noqa: E501
    write_section("neural", body)


if __name__ == "__main__":
    main()
