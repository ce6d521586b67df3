"""TransformerClassifier on IMDB on a GPU (../shared/BENCHMARKS.md section 5) -> RESULTS.md.

Trains on the 25,000 IMDB training reviews (early stopping on 10% of them), reports the time of
one epoch and test accuracy. Meant for a machine with a CUDA GPU, under 10 minutes;
``--smoke`` runs a few hundred reviews on whatever device there is, to check the script.

Run: ``HYBRIDNLP_DATA=../shared/data .venv/bin/python benchmarks/gpu_imdb.py``
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from _report import stamp, write_section  # noqa: E402

from hybridnlp import TransformerClassifier, load_dataset  # noqa: E402

BR = re.compile(r"<br\s*/?>")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke", action="store_true", help="300 reviews, 1 epoch, no report")
    parser.add_argument("--max-time", type=float, default=420.0, help="training budget, s")
    args = parser.parse_args()
    train, test = load_dataset("imdb", split="train"), load_dataset("imdb", split="test")
    X, y = [BR.sub(" ", t) for t in train.data], train.target
    Xt, yt = [BR.sub(" ", t) for t in test.data], test.target
    if args.smoke:  # the splits are sorted by label: sample, never slice
        rng = np.random.RandomState(0)
        pick = rng.choice(len(X), 300, replace=False)
        X, y = [X[i] for i in pick], y[pick]
        pick = rng.choice(len(Xt), 200, replace=False)
        Xt, yt = [Xt[i] for i in pick], yt[pick]
    clf = TransformerClassifier(
        vocab_size=30000, min_freq=2, preset="base", batch_size=64,
        max_epochs=1 if args.smoke else 10, max_time=args.max_time, patience=2,
        max_len=64 if args.smoke else 512,
        trainer__monitor="val_accuracy", random_state=0,
    )
    start = time.perf_counter()
    clf.fit(X, y)
    fit_time = time.perf_counter() - start
    times = clf.history_.get("time")
    epoch_times = np.diff([0.0, *times])
    acc = 100 * clf.score(Xt, yt)
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    print(f"{device}: {len(times)} epochs, epoch time {np.median(epoch_times):.1f} s, "
          f"fit {fit_time:.0f} s, test accuracy {acc:.2f}", flush=True)
    if args.smoke:
        return
    body = f"""## TransformerClassifier on IMDB, GPU

{stamp("python benchmarks/gpu_imdb.py")}
"base" encoder (4 layers, 8 heads, 256 wide), word vocabulary 30k, max_len 512, batch 64,
precision="auto" (bf16 autocast on CUDA), early stopping on 10% of train. Device: {device}.

| epochs | median epoch time | fit time | test accuracy |
| ---: | ---: | ---: | ---: |
| {len(times)} | {np.median(epoch_times):.1f} s | {fit_time:.0f} s | {acc:.2f} |
"""
    write_section("gpu_imdb", body)


if __name__ == "__main__":
    main()
