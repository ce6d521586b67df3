"""DistributedDataParallel through the one Trainer: 2 gloo processes on 127.0.0.1, started by
the test with torch.multiprocessing (as torchrun would: RANK, WORLD_SIZE, MASTER_*)."""

import json
import os
import socket

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp
from conftest import cli_error

from hybridnlp.train import Callback
from hybridnlp.train.distributed import ShardedBatches


@pytest.fixture(autouse=True)
def _restore_torch_threads():
    """The tests here run torch on one thread; later test files get the count back."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)

WORDS = "good great fine bad awful poor film plot the a was".split()


def _texts(n=48):
    rng = np.random.default_rng(0)
    texts = [" ".join(rng.choice(WORDS, size=rng.integers(2, 7))) for _ in range(n)]
    labels = np.asarray([int("good" in t or "great" in t) for t in texts])
    return texts, labels


def _classifier(**kw):
    from hybridnlp.estimators import TransformerClassifier

    return TransformerClassifier(preset="tiny", module__dropout=0.0, module__emb_dropout=0.0,
                                 module__head_dropout=0.0, batch_size=16, patience=None,
                                 random_state=0, device="cpu", **{"max_epochs": 3, **kw})


class _StopAfter(Callback):
    """Ends the fit after ``epochs`` (its checkpoint written), as an interrupted run."""

    def __init__(self, epochs):
        self.epochs = epochs

    def on_epoch_end(self, trainer, model, row):
        if row["epoch"] == self.epochs:
            trainer.should_stop = True


def _worker(rank, size, port, out, checkpoint, resume, stop_after):
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(size), LOCAL_RANK=str(rank),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    import torch.distributed as dist

    X, y = _texts()
    try:
        callbacks = [_StopAfter(stop_after)] if stop_after else None
        clf = _classifier(checkpoint_dir=checkpoint, max_epochs=5 if checkpoint else 3,
                          callbacks=callbacks).fit(X, y, resume=resume)
        torch.save({k: v.clone() for k, v in clf.model_.state_dict().items()},
                   os.path.join(out, f"rank{rank}.pt"))
        with open(os.path.join(out, f"loss{rank}.txt"), "w") as f:
            json.dump([row["train_loss"] for row in clf.history_], f)
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _spawn(tmp_path, checkpoint=None, resume=False, stop_after=None):
    mp.spawn(_worker, args=(2, _free_port(), str(tmp_path), checkpoint, resume, stop_after),
             nprocs=2, join=True)
    return [torch.load(tmp_path / f"rank{r}.pt") for r in range(2)]


def test_two_ranks_stay_in_sync_only_rank_zero_checkpoints_and_resume_continues(tmp_path):
    torch.set_num_threads(1)
    checkpoint = tmp_path / "ckpt"
    ranks = _spawn(tmp_path, checkpoint=str(checkpoint), stop_after=3)  # stopped after 3 of 5
    single = _classifier(max_epochs=5, callbacks=[_StopAfter(3)]).fit(*_texts())
    for name, value in single.model_.state_dict().items():  # two ranks = one process
        torch.testing.assert_close(ranks[0][name], ranks[1][name], rtol=0, atol=0)  # in sync
        torch.testing.assert_close(ranks[0][name], value, rtol=1e-4, atol=1e-5)
    logged = json.loads((tmp_path / "loss0.txt").read_text())
    np.testing.assert_allclose(logged, [r["train_loss"] for r in single.history_], rtol=1e-4)
    written = sorted(p.name for p in checkpoint.iterdir())
    assert written and not any(".tmp" in name for name in written)
    resumed = _spawn(tmp_path, checkpoint=str(checkpoint), resume=True)  # epochs 4-5
    assert len(json.loads((tmp_path / "loss1.txt").read_text())) == 5
    straight = _classifier(max_epochs=5).fit(*_texts())
    for name, value in straight.model_.state_dict().items():
        torch.testing.assert_close(resumed[0][name], value, rtol=1e-4, atol=1e-5)


def test_sharded_batches_split_rows_and_weight_the_shares():
    batches = [{"idx": torch.arange(10).view(5, 2), "mask": torch.ones(5, 2, dtype=torch.bool),
                "targets": torch.arange(5)}, {"idx": torch.zeros(1, 2), "targets": torch.ones(1)}]
    shares = [list(ShardedBatches(batches, rank, 2)) for rank in range(2)]
    (a, wa), (b, wb) = shares[0][0], shares[1][0]
    assert a["targets"].tolist() == [0, 1, 2] and b["targets"].tolist() == [3, 4]
    assert (wa, wb) == (3 * 2 / 5, 2 * 2 / 5)  # mean of weighted means == the batch's mean
    assert shares[0][1][1] == shares[1][1][1] == 1.0  # fewer rows than ranks: whole, weight 1
    assert len(ShardedBatches(batches, 0, 2)) == 2


@pytest.mark.parametrize("env, match", [
    ({"WORLD_SIZE": "2", "RANK": "0"}, "WORLD_SIZE=2 but MASTER_ADDR is not set"),
    ({"WORLD_SIZE": "two"}, "WORLD_SIZE='two' must be integers"),
])
def test_a_broken_torchrun_environment_is_named(monkeypatch, env, match):
    monkeypatch.delenv("MASTER_ADDR", raising=False)
    monkeypatch.delenv("MASTER_PORT", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises((RuntimeError, ValueError), match=match):
        _classifier().fit(*_texts())


def test_train_lm_nproc_runs_torchrun_and_saves_the_one_process_model(tmp_path, capsys):
    import subprocess
    import sys

    from safetensors.torch import load_file

    from hybridnlp.cli import main

    corpus = tmp_path / "corpus.txt"
    corpus.write_text("the quick brown fox jumps over the lazy dog. " * 300)
    common = ["train-lm", str(corpus), "--preset", "gpt-nano", "--max-steps", "4", "--quiet"]
    assert main([*common, "--output", str(tmp_path / "one")]) == 0
    done = subprocess.run([sys.executable, "-m", "hybridnlp.cli", *common, "--nproc", "2",
                           "--output", str(tmp_path / "two")], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count("model saved to") == 1  # rank 0 alone reports and saves
    one, two = (load_file(tmp_path / d / "model.safetensors") for d in ("one", "two"))
    assert one.keys() == two.keys()
    for name in one:
        torch.testing.assert_close(two[name], one[name], atol=1e-5, rtol=1e-4)
    assert cli_error([*common, "--nproc", "0", "--output", str(tmp_path / "zero")], capsys) \
        == "hybridnlp train-lm: error: --nproc 0: use 1 or more processes\n"
