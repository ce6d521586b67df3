import json
import re

import numpy as np
import pytest
import torch
from torch import nn

from hybridnlp.exceptions import NonFiniteLossError
from hybridnlp.train import (
    BucketBatchSampler,
    LambdaCallback,
    Trainer,
    cosine_lr,
    load_checkpoint,
    pad_sequences,
)
from hybridnlp.train.checkpoint import (
    load_state_dict_file,
    optimizer_from_flat,
    optimizer_to_flat,
    save_state_dict_file,
)


class Toy(nn.Module):
    """A small MLP classifier with dropout, honouring the (logits, loss) contract."""

    def __init__(self, dropout=0.2):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Dropout(dropout), nn.Linear(16, 2))

    def forward(self, x, targets=None):
        logits = self.net(x)
        loss = None if targets is None else nn.functional.cross_entropy(logits, targets)
        return logits, loss


class ToyWithHidden(Toy):
    """Toy, naming its first layer's weights as the hidden matrix Muon updates."""

    def hidden_matrices(self):
        return [self.net[0].weight]


class Loader:
    """Shuffled mini-batches whose order is a function of (seed, epoch)."""

    def __init__(self, x, y, batch_size, seed=0):
        self.x, self.y, self.batch_size, self.seed, self.epoch = x, y, batch_size, seed, 0

    def set_epoch(self, epoch):
        self.epoch = epoch

    def __len__(self):
        return -(-len(self.x) // self.batch_size)

    def __iter__(self):
        order = np.random.default_rng([self.seed, self.epoch]).permutation(len(self.x))
        for i in range(0, len(order), self.batch_size):
            b = order[i: i + self.batch_size]
            yield {"x": self.x[b], "targets": self.y[b]}


def toy_data(n=96, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=g)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).long()
    return x, y


def accuracy(logits, targets):
    return (logits.argmax(-1) == targets).float().mean()


def make(**kw):
    kw = {"max_epochs": 4, "lr": 1e-2, "device": "cpu", "seed": 0, **kw}
    return Trainer(**kw)


def weights(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_cosine_schedule():
    lrs = [cosine_lr(s, base_lr=1.0, warmup_steps=10, total_steps=110, min_lr_ratio=0.1)
           for s in range(120)]
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)
    assert lrs[60] == pytest.approx(0.55)  # halfway through the cosine: (1 + 0.1) / 2
    assert lrs[110] == lrs[119] == pytest.approx(0.1)
    assert all(a >= b for a, b in zip(lrs[9:], lrs[10:]))


def test_bucket_sampler_covers_everything_and_buckets_lengths():
    lengths = np.random.default_rng(0).integers(1, 60, 1000)
    sampler = BucketBatchSampler(lengths, 16, seed=3, pool_batches=10)
    batches = list(sampler)
    assert len(batches) == len(sampler) == 63
    assert sorted(i for b in batches for i in b) == list(range(1000))
    padded = sum(len(b) * max(lengths[b]) for b in batches)
    random_order = np.random.default_rng(1).permutation(1000)
    random_padded = sum(16 * max(lengths[random_order[i: i + 16]]) for i in range(0, 1000, 16))
    assert padded < 0.7 * random_padded
    assert list(sampler) == batches  # same epoch, same order
    sampler.set_epoch(1)
    assert list(sampler) != batches


def test_pad_sequences():
    idx, mask = pad_sequences([[5, 6, 7], [8]], pad_id=0)
    assert idx.tolist() == [[5, 6, 7], [8, 0, 0]]
    assert mask.tolist() == [[True, True, True], [True, False, False]]


def test_training_learns_and_records_history():
    x, y = toy_data()
    torch.manual_seed(0)  # the weights, whatever ran before this test
    model = Toy()
    trainer = make(max_epochs=8, metrics={"accuracy": accuracy})
    history = trainer.fit(model, Loader(x, y, 16), Loader(x, y, 32))
    assert [row["epoch"] for row in history] == list(range(1, 9))
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert history[-1]["val_accuracy"] > 0.9
    assert history[-1]["step"] == 8 * 6
    assert history.get("epoch") == list(range(1, 9))


def test_early_stopping_restores_best_weights():
    x, y = toy_data()
    xv, yv = toy_data(seed=1)
    yv = 1 - yv  # validation labels flipped: val loss rises as the model learns
    model = Toy(dropout=0.0)
    trainer = make(max_epochs=20, patience=2)
    history = trainer.fit(model, Loader(x, y, 16), Loader(xv, yv, 32))
    losses = history.get("val_loss")
    best = int(np.argmin(losses))
    assert len(history) == best + 3  # stopped two epochs after the best
    assert trainer.evaluate(model, Loader(xv, yv, 32))["val_loss"] == pytest.approx(losses[best])


def test_budgets():
    x, y = toy_data()
    model = Toy()
    history = make(max_epochs=50, max_steps=7).fit(model, Loader(x, y, 16))
    assert history[-1]["step"] == 7 and len(history) == 2
    history = make(max_epochs=50, max_time=0.0).fit(Toy(), Loader(x, y, 16))
    assert len(history) == 1 and history[-1]["step"] == 1


def test_gradient_accumulation_equals_bigger_batches():
    x, y = toy_data(n=64)

    class Fixed:  # the same batches every epoch, in order
        def __init__(self, size):
            self.size = size

        def __len__(self):
            return 64 // self.size

        def __iter__(self):
            for i in range(0, 64, self.size):
                yield {"x": x[i: i + self.size], "targets": y[i: i + self.size]}

    torch.manual_seed(0)
    a, b = Toy(dropout=0.0), Toy(dropout=0.0)
    b.load_state_dict(a.state_dict())
    make(max_epochs=3, grad_clip=None).fit(a, Fixed(16))
    make(max_epochs=3, grad_clip=None, grad_accum=2).fit(b, Fixed(8))
    for k, v in a.state_dict().items():
        assert torch.allclose(v, b.state_dict()[k], atol=1e-6), k


@pytest.mark.parametrize("optimizer", ["adamw", "muon"])
def test_resume_gives_the_weights_of_an_uninterrupted_run(tmp_path, optimizer):
    x, y = toy_data()
    xv, yv = toy_data(seed=1)
    torch.manual_seed(0)
    init = weights(ToyWithHidden(dropout=0.3))

    full = ToyWithHidden(dropout=0.3)
    full.load_state_dict(init)
    settings = dict(optimizer=optimizer, max_epochs=5, patience=10)
    make(**settings).fit(full, Loader(x, y, 16), Loader(xv, yv, 32))

    stop_after_two = LambdaCallback(
        on_epoch_end=lambda t, m, row: setattr(t, "should_stop", row["epoch"] == 2))
    part = ToyWithHidden(dropout=0.3)
    part.load_state_dict(init)
    first = make(**settings, checkpoint_dir=tmp_path / "ckpt",
                 callbacks=[stop_after_two])
    assert len(first.fit(part, Loader(x, y, 16), Loader(xv, yv, 32))) == 2
    assert json.loads((tmp_path / "ckpt" / "trainer.json").read_text())["epoch"] == 2

    resumed = ToyWithHidden(dropout=0.3)  # fresh weights: all must come from the checkpoint
    torch.manual_seed(123)  # and a disturbed RNG
    second = make(**settings, checkpoint_dir=tmp_path / "ckpt")
    history = second.fit(resumed, Loader(x, y, 16), Loader(xv, yv, 32), resume=True)
    assert [row["epoch"] for row in history] == [1, 2, 3, 4, 5]
    for k, v in full.state_dict().items():
        assert torch.equal(v, resumed.state_dict()[k]), k


class Exploding(Toy):
    def forward(self, x, targets=None):
        logits, loss = super().forward(x, targets)
        if self.training and bool((x[:, 3] > 100).any()):
            loss = loss * float("nan")
        return logits, loss


def test_nan_loss_names_the_step_and_keeps_the_checkpoint(tmp_path):
    x, y = toy_data(n=64)
    poisoned = x.clone()
    poisoned[:, 3] = 1000.0

    class TwoEpochs:
        def __init__(self):
            self.epoch = 0

        def set_epoch(self, epoch):
            self.epoch = epoch

        def __len__(self):
            return 4

        def __iter__(self):
            for i in range(4):
                bad = self.epoch == 1 and i == 2
                xs = poisoned if bad else x
                yield {"x": xs[i * 16: (i + 1) * 16], "targets": y[i * 16: (i + 1) * 16]}

    model = Exploding(dropout=0.0)
    trainer = make(max_epochs=3, checkpoint_dir=tmp_path / "ckpt")
    message = ("loss is nan at step 7 (epoch 2); training stopped. The last good checkpoint is "
               f"kept in {str(tmp_path / 'ckpt')!r}. Lower the learning rate, keep grad_clip "
               "on, or check the inputs for inf/NaN.")
    with pytest.raises(NonFiniteLossError, match=re.escape(message)):
        trainer.fit(model, TwoEpochs())
    restored = Exploding(dropout=0.0)
    state = load_checkpoint(tmp_path / "ckpt", model=restored)
    assert state["epoch"] == 1 and state["step"] == 4
    assert all(torch.isfinite(v).all() for v in restored.state_dict().values())


def test_checkpoint_file_errors(tmp_path):
    model = Toy()
    path = tmp_path / "model.safetensors"
    save_state_dict_file(path, model.state_dict())
    assert set(load_state_dict_file(path, model.state_dict())) == set(model.state_dict())
    other = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Dropout(), nn.Linear(8, 2))
    message = (f"checkpoint file {str(path)!r} does not match the model: tensor 'net.0.weight' "
               f"has shape (16, 4), the model expects (8, 4).")
    with pytest.raises(ValueError, match=re.escape(message)):
        load_state_dict_file(path, {("net." + k): v for k, v in other.state_dict().items()})
    with pytest.raises(ValueError, match=r"does not match the model: missing tensors \['extra'\]"):
        load_state_dict_file(path, {**model.state_dict(), "extra": torch.zeros(1)})
    path.write_bytes(b"\x00garbage")
    corrupt = rf"^checkpoint file {re.escape(repr(str(path)))} is corrupt"
    with pytest.raises(ValueError, match=corrupt):
        load_state_dict_file(path)


def test_optimizer_state_round_trip():
    x, y = toy_data()
    model = Toy()
    trainer = make(max_epochs=1)
    opt = trainer.make_optimizer(model)
    _, loss = model(x, y)
    loss.backward()
    opt.step()
    tensors, rest = optimizer_to_flat(opt)
    json.dumps(rest)  # the non-tensor part is plain JSON
    fresh = trainer.make_optimizer(model)
    fresh.load_state_dict(optimizer_from_flat(tensors, rest))
    for a, b in zip(opt.state.values(), fresh.state.values()):
        assert all(torch.equal(a[k], b[k]) for k in ("exp_avg", "exp_avg_sq"))


def test_bf16_on_cpu_trains():
    x, y = toy_data()
    trainer = make(max_epochs=3, precision="bf16")
    history = trainer.fit(Toy(), Loader(x, y, 16))
    assert trainer.precision in ("bf16", "fp32")
    assert np.isfinite(history[-1]["train_loss"])


@pytest.mark.parametrize("avx512_bf16, amx, expected", [
    (False, False, "fp32"), (True, False, "bf16"), (False, True, "bf16")])
def test_bf16_on_an_x86_cpu_without_bf16_instructions_falls_back_to_fp32(
        monkeypatch, avx512_bf16, amx, expected):
    # an AVX2-only CPU emulates bf16 products hundreds of times slower than fp32: asking for
    # bf16 there trains in fp32, with a warning that says why and how to silence it
    import platform

    from hybridnlp.utils.device import resolve_precision

    monkeypatch.setattr(platform, "machine", lambda: "x86_64")
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx)
    cpu = torch.device("cpu")
    if expected == "fp32":
        with pytest.warns(UserWarning, match=r"^precision='bf16' on a CPU without bf16 "
                          r"instructions \(avx512_bf16 or AMX\): torch would emulate it"):
            assert resolve_precision("bf16", cpu) == "fp32"
        with pytest.warns(UserWarning, match="training in fp32"):
            assert make(precision="bf16").precision == "fp32"
    else:
        assert resolve_precision("bf16", cpu) == "bf16"
    assert resolve_precision("auto", cpu) == "fp32"  # auto never picks bf16 on a CPU


def test_compiled_forward_trains_the_plain_module_to_the_same_weights():
    # dynamo's "eager" backend traces the forward without code generation: the same arithmetic,
    # so the weights match exactly, and the model handed back is the plain module.
    x, y = toy_data()
    torch.manual_seed(0)
    a, b = Toy(), Toy()
    b.load_state_dict(a.state_dict())
    make(max_epochs=2).fit(a, Loader(x, y, 16), Loader(x, y, 32))
    history = make(max_epochs=2, compile={"backend": "eager"}).fit(
        b, Loader(x, y, 16), Loader(x, y, 32))
    assert type(b) is Toy and not any("_orig_mod" in k for k in b.state_dict())
    assert history[-1]["val_loss"] > 0
    for k, v in a.state_dict().items():
        assert torch.equal(v, b.state_dict()[k]), k


def test_bad_settings():
    with pytest.raises(TypeError, match=r"^compile='yes' is not allowed; use True, False"):
        Trainer(compile="yes", device="cpu")
    with pytest.raises(ValueError, match=r"^precision='fp16' is not allowed"):
        Trainer(precision="fp16", device="cpu")
    with pytest.raises(ValueError, match=r"^device='gpu' is not a device"):
        Trainer(device="gpu")
    with pytest.raises(ValueError, match=r"^unknown hook 'on_step'"):
        LambdaCallback(on_step=print)


def test_a_kill_inside_the_checkpoint_swap_loses_nothing_and_resume_says_where(
        tmp_path, monkeypatch, caplog):
    """The swap is two renames; a kill between them (forced here) used to make resume restart
    from step 0 silently, and the next save then deleted both complete copies."""
    from pathlib import Path

    x, y = toy_data()
    stop_after = {"n": 2}
    stopper = LambdaCallback(on_epoch_end=lambda t, m, row: setattr(
        t, "should_stop", row["epoch"] == stop_after["n"]))
    ckpt = tmp_path / "ckpt"
    make(max_epochs=5, checkpoint_dir=ckpt, callbacks=[stopper]).fit(Toy(), Loader(x, y, 16))
    real_rename = Path.rename

    def die_before_the_second_rename(self, target):
        if self.name == "ckpt.tmp":
            raise KeyboardInterrupt("killed between the two renames")
        return real_rename(self, target)

    monkeypatch.setattr(Path, "rename", die_before_the_second_rename)
    stop_after["n"] = 3
    with pytest.raises(KeyboardInterrupt):
        make(max_epochs=5, checkpoint_dir=ckpt, callbacks=[stopper]).fit(
            Toy(), Loader(x, y, 16), resume=True)
    monkeypatch.undo()
    assert not ckpt.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt.lock", "ckpt.old", "ckpt.tmp"]
    steps = {p.name: json.loads((p / "trainer.json").read_text())["step"]
             for p in tmp_path.iterdir() if p.is_dir()}
    assert steps == {"ckpt.old": 12, "ckpt.tmp": 18}

    caplog.set_level("INFO", logger="hybridnlp")
    stop_after["n"] = 4
    history = make(max_epochs=5, checkpoint_dir=ckpt, callbacks=[stopper]).fit(
        Toy(), Loader(x, y, 16), resume=True)
    assert [row["epoch"] for row in history] == [1, 2, 3, 4]  # epochs 1-3 from the checkpoint
    assert "recovered the complete checkpoint of step 18 from ckpt.tmp" in caplog.text
    assert f"resumed from {ckpt} at epoch 3, step 18" in caplog.text
    assert json.loads((ckpt / "trainer.json").read_text())["step"] == 24


def test_resume_without_a_checkpoint_says_it_starts_from_step_0(tmp_path, caplog):
    caplog.set_level("INFO", logger="hybridnlp")
    x, y = toy_data()
    make(max_epochs=1, checkpoint_dir=tmp_path / "none").fit(Toy(), Loader(x, y, 16),
                                                              resume=True)
    assert f"resume=True but {tmp_path / 'none'} holds no checkpoint; training from step 0" \
        in caplog.text


def test_two_fits_sharing_a_checkpoint_dir_get_a_clear_in_use_error(tmp_path):
    import os

    from hybridnlp.exceptions import InUseError

    x, y = toy_data()
    inner = make(max_epochs=1, checkpoint_dir=tmp_path / "ckpt")
    errors = []

    def fit_again(trainer, model, row):  # a second fit while the first holds the folder
        try:
            inner.fit(Toy(), Loader(x, y, 16))
        except InUseError as err:
            errors.append(str(err))

    make(max_epochs=1, checkpoint_dir=tmp_path / "ckpt",
         callbacks=[LambdaCallback(on_epoch_end=fit_again)]).fit(Toy(), Loader(x, y, 16))
    assert errors == [f"checkpoint_dir {str(tmp_path / 'ckpt')!r} is in use by process "
                      f"{os.getpid()} (lock file {str(tmp_path / 'ckpt.lock')!r}); wait for it "
                      f"to finish, or give this one another folder."]
    inner.fit(Toy(), Loader(x, y, 16))  # free again once the first fit ended


def test_every_batch_class_of_the_project_follows_the_one_batch_protocol():
    """Seven batch classes, one protocol (train.data.Batches): len, iteration, set_epoch."""
    import importlib
    import inspect
    import pkgutil

    import hybridnlp
    from hybridnlp.train.data import Batches

    found = {}
    for info in pkgutil.walk_packages(hybridnlp.__path__, "hybridnlp."):
        if info.name.endswith(("__main__", "cli")):
            continue
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if inspect.isclass(obj) and obj.__module__ == info.name and (
                    "set_epoch" in vars(obj) or name.endswith(("Batches", "Windows"))):
                found[f"{info.name}.{name}"] = obj
    loose = sorted(n for n, cls in found.items()
                   if not issubclass(cls, Batches) and "Sampler" not in n)
    assert loose == []
    assert len([c for c in found.values() if issubclass(c, Batches) and c is not Batches]) >= 7


@pytest.mark.parametrize("adjust", [None, "match_rms_adamw"])
def test_muon_steps_as_torchs_in_bfloat16_and_orthogonalises_in_float32(adjust):
    from hybridnlp.train.optim import Muon, orthogonalise

    torch.manual_seed(0)
    start = torch.randn(8, 5)
    ours, theirs = nn.Parameter(start.clone()), nn.Parameter(start.clone())
    mine = Muon([ours], lr=0.02, ns_dtype=torch.bfloat16, adjust_lr_fn=adjust)
    torchs = torch.optim.Muon([theirs], lr=0.02, adjust_lr_fn=adjust)
    for _ in range(3):
        grad = torch.randn(8, 5)
        ours.grad, theirs.grad = grad.clone(), grad.clone()
        mine.step()
        torchs.step()
        assert torch.equal(ours, theirs)
    assert not torch.equal(ours, start)
    # in float32: singular values pulled from a spread of 10x to near 1 (the quintic's band),
    # the same directions as bfloat16's within its rounding
    grad = torch.randn(32, 12) @ torch.diag(torch.logspace(0, 1, 12))
    coefficients = (3.4445, -4.775, 2.0315)
    fp32 = orthogonalise(grad, coefficients, 5, 1e-7, torch.float32)
    assert fp32.dtype == torch.float32 and fp32.shape == (32, 12)
    s = torch.linalg.svdvals(fp32)
    assert 0.6 < s.min() and s.max() < 1.25
    bf16 = orthogonalise(grad, coefficients, 5, 1e-7, torch.bfloat16).float()
    assert (fp32 - bf16).abs().max() < 0.05


@pytest.mark.parametrize("shape", [(512, 128), (128, 384), (256, 128)])
def test_orthogonalise_on_the_gram_matrix_matches_the_direct_iterations(shape):
    # matrices at least twice as long as wide iterate on their Gram matrix in float32: the
    # same result as the direct iterations in float64, within float32's rounding, for a
    # spread-out and for a nearly low-rank gradient
    from hybridnlp.train.optim import _gram_newton_schulz, orthogonalise

    coefficients = (3.4445, -4.775, 2.0315)
    torch.manual_seed(0)
    spread = torch.randn(*shape)
    low_rank = torch.randn(shape[0], 4) @ torch.randn(4, shape[1]) + 1e-3 * torch.randn(*shape)
    for grad in (spread, low_rank):
        exact = orthogonalise(grad.double(), coefficients, 5, 1e-7, torch.float64)
        fast = orthogonalise(grad, coefficients, 5, 1e-7, torch.float32)
        assert fast.dtype == torch.float32 and fast.shape == shape
        assert (fast.double() - exact).abs().max() < 2e-5
        assert exact.abs().max() > 0.01  # the update is not vanishing
    # and the Gram form is the direct form's arithmetic, step for step, in float64
    x = spread.double().T if shape[0] > shape[1] else spread.double()
    x = x / x.norm()
    direct = x.clone()
    for _ in range(3):
        gram = direct @ direct.T
        direct = torch.addmm(direct, torch.addmm(gram, gram, gram, beta=-4.775, alpha=2.0315),
                             direct, beta=3.4445)
    assert torch.allclose(_gram_newton_schulz(x, *coefficients, 3), direct, atol=1e-12)


def test_muon_updates_the_hidden_matrices_and_adamw_the_rest():
    x, y = toy_data()
    xv, yv = toy_data(seed=1)
    torch.manual_seed(0)
    model = ToyWithHidden(dropout=0.0)
    muon, adamw = make(optimizer="muon").make_optimizer(model).optimizers
    assert [p for g in muon.param_groups for p in g["params"]] == [model.net[0].weight]
    assert [(p.shape, g["weight_decay"]) for g in adamw.param_groups for p in g["params"]] == [
        ((2, 16), 0.01), ((16,), 0.0), ((2,), 0.0)]
    history = make(optimizer="muon", max_epochs=6, metrics={"accuracy": accuracy}).fit(
        model, Loader(x, y, 16), Loader(xv, yv, 32))
    assert history[-1]["val_loss"] < history[0]["val_loss"]
    assert history[-1]["val_accuracy"] > 0.85
    with pytest.raises(ValueError, match=re.escape(
            "optimizer='muon' needs a model that names its hidden matrices (hidden_matrices(), "
            "as GPT does); a Toy does not: use optimizer='adamw'.")):
        make(optimizer="muon").fit(Toy(), Loader(x, y, 16))
    with pytest.raises(ValueError, match=re.escape(
            "optimizer='sgd' is not allowed; choose one of 'adamw', 'muon'.")):
        make(optimizer="sgd")


def test_muon_orthogonalises_in_bfloat16_on_a_gpu_and_float32_on_a_cpu():
    from hybridnlp.train.optim import ns_dtype

    assert ns_dtype(torch.device("cuda", 0)) is torch.bfloat16
    assert ns_dtype(torch.device("cpu")) is torch.float32
    muon, _ = make(optimizer="muon").make_optimizer(ToyWithHidden()).optimizers
    assert muon.ns_dtype is torch.float32
