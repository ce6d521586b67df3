"""Trust nothing from outside, round 3: each hostile config or file is built here and must be
refused with a clear message before anything runs, connects, or reads out of bounds."""

import json
import os
import pickle
import shutil
import socket
import subprocess
import sys

import numpy as np
import pytest
import scipy.sparse as sp
import yaml
from conftest import _with, cli_error

from hybridnlp.exceptions import HybridNLPError
from hybridnlp.experiments import ConfigError, load_config
from hybridnlp.experiments.config import ExecutionConfig
from hybridnlp.experiments.execution import execution_backend, scheduler_address
from hybridnlp.persistence import load, save
from hybridnlp.qa import BM25Retriever, QAPipeline, SlidingWindowReader, TfidfRetriever
from hybridnlp.utils.saved_arrays import check_loaded_sparse, checked_csr

PASSAGES = [
    "The Denver Broncos defeated the Carolina Panthers 24-10 to win Super Bowl 50.",
    "Super Bowl 50 was played at Levi's Stadium in Santa Clara, California.",
    "Beyonce and Bruno Mars performed at the halftime show of the game.",
]

# ---------------------------------------------------------------- 1. a config joins a cluster

ADDRESS_REFUSED = ("execution.address: a config may not choose where the program connects (a "
                   "Dask scheduler and its workers can run code in this process); remove it "
                   "and pass --scheduler ADDRESS to hybridnlp run, or set "
                   "HYBRIDNLP_DASK_SCHEDULER, for a cluster you trust.")


def test_a_config_naming_a_scheduler_is_refused_at_load_and_nothing_connects(
        tmp_path, capsys, monkeypatch):
    connects = []
    monkeypatch.setattr(socket.socket, "connect", lambda self, addr: connects.append(addr))
    config = _with(output=str(tmp_path / "runs"),
                   execution={"backend": "dask", "address": "tcp://127.0.0.1:8786"})
    with pytest.raises(ConfigError) as err:
        load_config(config)
    assert str(err.value) == ADDRESS_REFUSED
    file = tmp_path / "hostile.yaml"
    file.write_text(yaml.safe_dump(config))
    assert cli_error(["run", str(file)], capsys) == f"hybridnlp run: error: {ADDRESS_REFUSED}\n"
    # through --set too; and nothing was made or reached
    clean = tmp_path / "clean.yaml"
    clean.write_text(yaml.safe_dump(_with(output=str(tmp_path / "runs"))))
    line = cli_error(["run", str(clean), "--set", "execution.address=tcp://10.0.0.5:8786"],
                     capsys)
    assert line == f"hybridnlp run: error: {ADDRESS_REFUSED}\n"
    assert not (tmp_path / "runs").exists()
    assert connects == []


def test_run_directories_saved_with_an_empty_address_still_load():
    config = load_config(_with(execution={"backend": "loky", "n_jobs": 2, "address": None}))
    assert config.execution == ExecutionConfig(backend="loky", n_jobs=2)
    assert "address" not in config.to_dict()["execution"]


def test_the_scheduler_comes_from_the_command_line_or_the_environment(monkeypatch, tmp_path,
                                                                       capsys):
    dask = ExecutionConfig(backend="dask")
    monkeypatch.delenv("HYBRIDNLP_DASK_SCHEDULER", raising=False)
    assert scheduler_address(dask) is None  # a local cluster
    monkeypatch.setenv("HYBRIDNLP_DASK_SCHEDULER", "tcp://10.0.0.5:8786")
    assert scheduler_address(dask) == "tcp://10.0.0.5:8786"
    assert scheduler_address(dask, "tcp://10.0.0.6:8786") == "tcp://10.0.0.6:8786"
    assert scheduler_address(ExecutionConfig()) is None  # loky: the variable is not used
    with pytest.raises(HybridNLPError, match=r"^--scheduler tcp://h:1: the config's "
                       r"execution.backend is 'loky'; set execution.backend: dask"):
        scheduler_address(ExecutionConfig(), "tcp://h:1")
    clean = tmp_path / "clean.yaml"
    clean.write_text(yaml.safe_dump(_with(output=str(tmp_path / "runs"))))
    assert "execution.backend is 'loky'" in cli_error(
        ["run", str(clean), "--scheduler", "tcp://h:1"], capsys)
    assert not (tmp_path / "runs").exists()  # refused before the run directory


def test_an_unreachable_scheduler_is_one_clear_error(monkeypatch):
    pytest.importorskip("distributed")
    import hybridnlp.experiments.execution as execution

    monkeypatch.setattr(execution, "CONNECT_TIMEOUT", "1s")
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(HybridNLPError, match=rf"^could not reach the Dask scheduler at "
                       rf"'tcp://127.0.0.1:{port}' \(.*\); check the address"):
        with execution_backend(ExecutionConfig(backend="dask"), f"tcp://127.0.0.1:{port}"):
            pass


# ---------------------------------------------------------------- 2. a crafted index


@pytest.fixture
def index_dir(tmp_path):
    qa = QAPipeline(retriever=BM25Retriever(), reader=SlidingWindowReader(), top_k=2)
    save(qa.index(PASSAGES), tmp_path / "index")
    return tmp_path / "index"


def _rewrite_npz(file, **changes):
    with np.load(file, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    arrays.update(changes)
    with open(file, "wb") as f:
        np.savez(f, **arrays)
    return arrays


@pytest.mark.parametrize("change, problem", [
    (lambda a: {"indices": a["indices"] + 10_000}, "indices: holds"),
    (lambda a: {"indices": -a["indices"] - 1}, "below the least allowed value 0"),
    (lambda a: {"indptr": a["indptr"][::-1].copy()}, "indptr"),
    (lambda a: {"data": np.full_like(a["data"], np.nan)}, "NaN or infinite"),
    (lambda a: {"shape": np.array([2, a["shape"][1]])}, "indptr: expected shape (3,)"),
    (lambda a: {"idf": a["idf"][:-1]}, "idf: expected shape"),
])
def test_a_crafted_index_is_refused_before_use(index_dir, change, problem, capsys):
    file = index_dir / "retriever" / "index.npz"
    with np.load(file) as z:
        arrays = {k: z[k] for k in z.files}
    _rewrite_npz(file, **change(arrays))
    for loader in (QAPipeline.load, load):
        with pytest.raises(ValueError) as err:
            loader(index_dir)
        assert str(file) in str(err.value) and problem in str(err.value), str(err.value)
    assert problem in cli_error(["ask", str(index_dir), "Who won Super Bowl 50?"], capsys)


def test_the_cli_never_crashes_on_a_crafted_index(index_dir):
    file = index_dir / "retriever" / "index.npz"
    with np.load(file) as z:
        _rewrite_npz(file, indices=z["indices"] + 2**30)
    done = subprocess.run([sys.executable, "-m", "hybridnlp.cli", "ask", str(index_dir),
                           "Who won?"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr  # not 139: no segfault
    assert done.stderr.startswith("hybridnlp ask: error: ") and "Traceback" not in done.stderr


@pytest.mark.parametrize("edit, problem", [
    (lambda c: c["params"].update(k1=-1.0), "k1=-1.0 is out of range"),
    (lambda c: c["params"].update(b=float("nan")), "b=nan is not finite"),
    (lambda c: c.update(n_passages=10), "index.npz holds 3 passages, config.json 10"),
    (lambda c: c.update(ids=[1, 2]), "field 'ids' must be null or a list of 3"),
    (lambda c: c["vocabulary"].popitem(), "does not number the index's"),
])
def test_crafted_retriever_settings_are_refused(index_dir, edit, problem):
    file = index_dir / "retriever" / "config.json"
    config = json.loads(file.read_text())
    edit(config)
    file.write_text(json.dumps(config))
    with pytest.raises(ValueError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        QAPipeline.load(index_dir)


@pytest.mark.parametrize("top_k, problem", [(0, "top_k=0 is out of range"),
                                            (-3, "top_k=-3 is out of range"),
                                            ("5", "top_k='5' is a str")])
def test_a_saved_top_k_out_of_range_is_refused(index_dir, top_k, problem, capsys):
    file = index_dir / "config.json"
    config = json.loads(file.read_text())
    config["top_k"] = top_k
    file.write_text(json.dumps(config))
    with pytest.raises(ValueError, match=problem):
        QAPipeline.load(index_dir)
    assert problem in cli_error(["ask", str(index_dir), "Who won?"], capsys)


def test_top_k_below_one_on_the_command_line_is_refused(index_dir, tmp_path, capsys):
    assert cli_error(["ask", str(index_dir), "Who won?", "--top-k", "0"], capsys) == (
        "hybridnlp ask: error: --top-k 0: read at least 1 passage\n")
    passages = tmp_path / "p.txt"
    passages.write_text("\n".join(PASSAGES))
    assert "--top-k -1: read at least 1 passage" in cli_error(
        ["index", str(passages), "--output", str(tmp_path / "i"), "--top-k", "-1"], capsys)
    assert not (tmp_path / "i").exists()


def test_a_crafted_hashed_index_and_linear_model_are_refused(tmp_path):
    TfidfRetriever(n_features=64).fit(PASSAGES).save(tmp_path / "t")
    file = tmp_path / "t" / "index.npz"
    with np.load(file) as z:
        _rewrite_npz(file, idf_indices=z["idf_indices"] + 64)
    with pytest.raises(ValueError, match="idf_indices: holds .* above the greatest allowed "
                                         "value 63"):
        TfidfRetriever.load(tmp_path / "t")
    from hybridnlp.qa._linear import linear_from_state

    state = {"coef": [[1.0, 2.0]], "intercept": [0.0, 1.0], "classes": [0, 1]}
    with pytest.raises(ValueError, match=r"^f.json: intercept: expected shape \(1,\)"):
        linear_from_state(state, what="f.json")
    with pytest.raises(ValueError, match=r"^f.json: coef: expected shape \('any', 3\)"):
        linear_from_state({**state, "intercept": [0.0]}, what="f.json", n_features=3)


def test_passage_ids_keep_their_type_through_save_and_load(tmp_path):
    qa = QAPipeline(retriever=BM25Retriever(), reader=SlidingWindowReader(), top_k=2)
    qa.index(PASSAGES)
    qa.retriever_.passage_ids_ = np.asarray([101, "b", np.int64(7)], dtype=object)
    save(qa, tmp_path / "m")
    ids = load(tmp_path / "m").retriever_.passage_ids_.tolist()
    assert ids == [101, "b", 7] and type(ids[0]) is int


def test_sparse_matrices_in_any_loaded_model_get_the_full_check():
    good = sp.csr_matrix(np.eye(3))
    bad = sp.csr_matrix((np.ones(2), np.array([0, 99]), np.array([0, 1, 2, 2])), shape=(3, 3))
    holder = type("Holder", (), {})()
    holder.parts = [{"x": good}, ("y", bad)]
    with pytest.raises(ValueError, match=r"^model file 'm': a sparse matrix is malformed "
                                         r"\(.*\); the file is corrupt or was crafted"):
        check_loaded_sparse(holder, what="model file 'm'")
    holder.parts = [{"x": good}]
    check_loaded_sparse(holder, what="m")
    with pytest.raises(ValueError, match="indices: holds 5, above the greatest allowed value 2"):
        checked_csr([1.0], [5], [0, 1], [1, 3], what="f")


# ---------------------------------------------------------------- 3. a model folder and the Hub

transformers_needed = pytest.mark.skipif(
    __import__("importlib").util.find_spec("transformers") is None,
    reason="transformers is not installed")


@pytest.fixture(scope="module")
def bert(tmp_path_factory):
    pytest.importorskip("transformers")
    from test_pretrained import _bert_dir

    return _bert_dir(tmp_path_factory.mktemp("models") / "bert")


def _variant(bert, tmp_path, **config_changes):
    path = tmp_path / "variant"
    shutil.copytree(bert, path)
    config = json.loads((path / "config.json").read_text())
    config.update(config_changes)
    (path / "config.json").write_text(json.dumps(config))
    return path


@transformers_needed
@pytest.mark.parametrize("attention", ["kernels-community/flash-attn", "evil-org/payload",
                                       "flash_attention_2", {"": "evil/x"}])
def test_a_hub_kernel_named_in_a_local_config_is_refused_before_transformers_reads_it(
        bert, tmp_path, attention, monkeypatch):
    from hybridnlp.pretrained import SentenceEmbeddingFeatures

    called = []
    import transformers

    monkeypatch.setattr(transformers.AutoModel, "from_pretrained",
                        lambda *a, **k: called.append(a))
    path = _variant(bert, tmp_path, attn_implementation=attention)
    with pytest.raises(ValueError, match=r"config.json: attn_implementation is '.*'; hybridnlp "
                       r"loads only local attention implementations \(eager, sdpa\): any other "
                       r"name makes transformers fetch code from the Hugging Face Hub"):
        SentenceEmbeddingFeatures(pretrained=path).fit()
    assert called == []


@transformers_needed
def test_a_saved_estimator_whose_encoder_config_names_a_kernel_is_refused():
    from hybridnlp.pretrained.local import encoder_from_config

    with pytest.raises(ValueError, match=r"^a saved encoder's config: _attn_implementation is "
                                         r"'org/repo'"):
        encoder_from_config({"model_type": "bert", "_attn_implementation": "org/repo"})


@transformers_needed
def test_loading_a_local_model_opens_no_socket_and_leaves_the_environment(bert, monkeypatch):
    from hybridnlp.pretrained.local import load_encoder

    opened = []

    def refuse(self, *args, **kwargs):
        opened.append(args)
        raise OSError("no network in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    encoder, tokenizer, _ = load_encoder(bert)
    assert opened == [] and encoder.config.hidden_size == 32
    assert "HF_HUB_OFFLINE" not in os.environ


@transformers_needed
def test_weights_that_do_not_fit_the_config_are_refused(bert, tmp_path):
    from hybridnlp.pretrained.local import load_encoder

    path = _variant(bert, tmp_path, num_hidden_layers=3)  # the file holds two layers
    with pytest.raises(ValueError, match=r"the weights do not fit the model its config.json "
                                         r"describes: \d+ weights missing \(encoder.layer.2"):
        load_encoder(path)


@transformers_needed
def test_a_pickled_weights_file_is_refused_in_one_line(bert, tmp_path):
    from hybridnlp.pretrained.local import load_encoder

    path = tmp_path / "pickled"
    shutil.copytree(bert, path)
    (path / "model.safetensors").unlink()
    (path / "pytorch_model.bin").write_bytes(pickle.dumps(print))  # a function, not tensors
    with pytest.raises(ValueError, match=r"could not be loaded by transformers \(\w+: .*\); a "
                                         r"pickled pytorch_model.bin is read with weights only"):
        load_encoder(path)


# ---------------------------------------------------------------- 7, 9. configs that exhaust


def test_string_amplification_through_aliases_is_refused_before_it_is_built():
    from hybridnlp.utils.safe_yaml import load_yaml

    hostile = 'a: &a "' + "x" * 100_000 + '"\nb: [' + ", ".join(["*a"] * 200) + "]\n"
    assert len(hostile) < 110_000  # 108 KB on disk, 20 MB once expanded
    with pytest.raises(ConfigError, match=r"^config: the document expands to more than "
                                          r"10,000,000 characters of text through its aliases "
                                          r"\(line 2\)"):
        load_yaml(hostile)


@pytest.mark.parametrize("text, message", [
    ("[" * 100_000 + "]" * 100_000,
     "config: lists and mappings nest too deep to read; a config is not that deep."),
    ("a:\n" + "".join(" " * i + "-\n" for i in range(1, 200)),
     "config: lists and mappings nest more than 64 deep (line 66); a config is not that deep."),
])
def test_deeply_nested_yaml_is_one_clear_error(text, message, tmp_path, capsys):
    from hybridnlp.utils.safe_yaml import load_yaml

    with pytest.raises(ConfigError) as err:
        load_yaml(text)
    assert str(err.value) == message
    file = tmp_path / "deep.yaml"
    file.write_text(text)
    assert "nest" in cli_error(["run", str(file)], capsys)


# ---------------------------------------------------------------- 5. checkpoint_dir


def _tiny_lm(checkpoint_dir):
    from hybridnlp.lm import CausalLM

    return CausalLM(preset="gpt-nano", tokenizer="char", block_size=16, max_steps=2,
                    batch_size=4, checkpoint_dir=checkpoint_dir, random_state=0)


def test_a_checkpoint_dir_that_is_not_ours_is_refused_and_left_untouched(tmp_path):
    folder = tmp_path / "hf-model"
    folder.mkdir()
    for name in ("tokenizer.json", "config.json"):
        (folder / name).write_text('{"theirs": true}')
    (folder / "trainer").mkdir()
    (folder / "trainer" / "weights.bin").write_bytes(b"theirs")
    before = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    with pytest.raises(ValueError, match=r"^checkpoint_dir '.*hf-model' is a folder hybridnlp "
                                         r"did not write \(it holds config.json, tokenizer.json,"
                                         r" trainer\); nothing in it was touched"):
        _tiny_lm(folder).fit("hello world, hello there. " * 20)
    assert {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()} == before


def test_a_foreign_folder_where_the_trainer_swaps_is_refused(tmp_path):
    from hybridnlp.train.checkpoint import claim_checkpoint_dir

    claim_checkpoint_dir(tmp_path / "ck")
    (tmp_path / "ck" / "trainer.old").mkdir()
    (tmp_path / "ck" / "trainer.old" / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match=r"trainer.old' is a folder hybridnlp did not write"):
        _tiny_lm(tmp_path / "ck").fit("hello world, hello there. " * 20)
    assert (tmp_path / "ck" / "trainer.old" / "notes.txt").read_text() == "mine"


def test_an_empty_or_new_checkpoint_dir_is_claimed_and_reused(tmp_path):
    from hybridnlp.train.checkpoint import MARKER

    (tmp_path / "empty").mkdir()
    for folder in (tmp_path / "empty", tmp_path / "new"):
        _tiny_lm(folder).fit("hello world, hello there. " * 20)
        assert (folder / MARKER).is_file() and (folder / "trainer" / MARKER).is_file()
        _tiny_lm(folder).fit("hello world, hello there. " * 20, resume=True)  # ours: reused


def test_a_folder_another_rank_is_claiming_is_not_taken_for_a_foreign_one(tmp_path):
    """Two DDP ranks claim one checkpoint_dir at once: the one that looks while the other
    writes the marker sees only the marker's temporary, and claims the folder too."""
    from hybridnlp.train.checkpoint import MARKER, claim_checkpoint_dir

    folder = tmp_path / "ck"
    folder.mkdir()
    (folder / f".{MARKER}.12345.ab12cd.tmp").write_text("{")  # the other rank, mid-write
    assert claim_checkpoint_dir(folder) == folder and (folder / MARKER).is_file()


# ---------------------------------------------------------------- 6. gensim's C ints


@pytest.mark.parametrize("param, value, message", [
    ("window", 2**31, "window=2147483648 is out of range; it must be >= 1 and <= 10000"),
    ("vector_size", 10**9, "vector_size=1000000000 is out of range"),
    ("negative", 2**40, "negative=1099511627776 is out of range"),
    ("workers", 10**6, "workers=1000000 is out of range"),
])
def test_word2vec_settings_gensim_cannot_hold_are_refused_before_it_runs(param, value, message):
    from hybridnlp.features import Word2VecFeatures

    with pytest.raises(ValueError, match=message):
        Word2VecFeatures(**{param: value}).fit(["a b c d", "b c d e"])
    config = _with(pretrain={"word2vec": {"corpus": ["wikitext2:train"], param: value}})
    if param in ("window", "vector_size", "workers"):
        with pytest.raises(ConfigError, match=f"pretrain.word2vec.{message}"):
            load_config(config)


# ---------------------------------------------------------------- 8. silent wrong answers


@pytest.fixture(scope="module")
def tiny_lm():
    from hybridnlp.lm import CausalLM

    return CausalLM(preset="gpt-nano", tokenizer="char", block_size=16, max_steps=2,
                    batch_size=4, random_state=0).fit("hello world, hello there. " * 20)


@pytest.mark.parametrize("settings, message", [
    ({"num_beams": 0}, "num_beams=0 must be a positive integer (1: no beam search)."),
    ({"num_beams": 2.5}, "num_beams=2.5 must be a positive integer"),
    ({"temperature": float("nan")}, "temperature=nan must be a finite number."),
    ({"temperature": float("inf")}, "temperature=inf must be a finite number."),
    ({"top_p": float("nan")}, "top_p=nan must be a finite number."),
    ({"repetition_penalty": float("nan")}, "repetition_penalty=nan must be a finite number."),
])
def test_generation_settings_that_would_return_garbage_are_refused(tiny_lm, settings, message):
    with pytest.raises(ValueError) as err:
        tiny_lm.generate("hello", max_new_tokens=3, **settings)
    assert str(err.value).startswith(message)


def test_a_question_with_no_indexed_word_gets_no_answer(index_dir, capsys):
    from hybridnlp.cli import main

    qa = load(index_dir)
    assert qa.predict(["zzyzx qwerty?"]) == [{"text": None, "passage": None, "start": None,
                                             "end": None, "score": None}]
    assert qa.predict(["Who won Super Bowl 50?"])[0]["text"] is not None
    assert main(["ask", str(index_dir), "zzyzx qwerty?"]) == 0
    assert capsys.readouterr().out.startswith("no answer: none of the question's words")


def test_a_passage_without_a_candidate_span_is_never_returned_whole():
    from hybridnlp.qa import LogisticReader

    reader = SlidingWindowReader().fit(None, PASSAGES)
    span = reader.predict(["Who played?"], ["?!"])[0]
    assert (span.start, span.end, span.score) == (0, 0, float("-inf"))
    assert LogisticReader  # the same empty span: one _best for every classical reader


@transformers_needed
def test_the_dense_index_notices_a_changed_tokenizer_config(bert, tmp_path):
    from hybridnlp.qa import DenseRetriever

    encoder = tmp_path / "enc"
    shutil.copytree(bert, encoder)
    DenseRetriever(pretrained=encoder, batch_size=4).fit(PASSAGES).save(tmp_path / "index")
    DenseRetriever.load(tmp_path / "index")  # unchanged: loads
    config = json.loads((encoder / "tokenizer_config.json").read_text())
    config["do_lower_case"] = not config.get("do_lower_case", True)
    (encoder / "tokenizer_config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="was indexed with another version of the encoder"):
        DenseRetriever.load(tmp_path / "index")


# ---------------------------------------------------------------- 7. sizes in saved files


@pytest.mark.parametrize("field, value", [("n_embd", 3 * 2**15), ("block_size", 2**24),
                                          ("vocab_size", None)])
def test_sizes_in_a_saved_config_are_checked_against_the_weights_before_allocating(
        tiny_lm, tmp_path, field, value):
    import resource

    from hybridnlp.lm import CausalLM

    save(tiny_lm, tmp_path / "lm")
    file = tmp_path / "lm" / "config.json"
    config = json.loads(file.read_text())
    if value is None:  # the tokenizer and config agree, the weights do not
        config["gpt"]["vocab_size"] += 0
        from safetensors.torch import load_file, save_file

        weights = load_file(tmp_path / "lm" / "model.safetensors")
        wte = next(k for k in weights if "wte" in k)
        weights[wte] = weights[wte][:-1].clone()
        save_file(weights, tmp_path / "lm" / "model.safetensors")
        message = rf"tensor '{wte}' has shape \(\d+, \d+\), the model expects"
    else:
        config["gpt"][field] = value
        message = r"does not match the model|the model expects"
    file.write_text(json.dumps(config))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(ValueError, match=message):
        CausalLM.load(tmp_path / "lm")
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kib < 200_000  # n_embd 98,304 would ask for gigabytes before the check


def test_non_finite_weights_are_refused(tiny_lm, tmp_path):
    from safetensors.torch import load_file, save_file

    from hybridnlp.lm import CausalLM

    save(tiny_lm, tmp_path / "lm")
    weights = load_file(tmp_path / "lm" / "model.safetensors")
    name = next(iter(weights))
    weights[name] = weights[name].clone().fill_(float("nan"))
    save_file(weights, tmp_path / "lm" / "model.safetensors")
    with pytest.raises(ValueError, match="holds NaN or infinite weights"):
        CausalLM.load(tmp_path / "lm")


def test_gzip_bombs_and_truncated_gzip_files_are_refused(tmp_path, capsys):
    import gzip

    from hybridnlp.datasets import TextStream, load_texts
    from hybridnlp.utils.io import read_file_bytes

    bomb = tmp_path / "bomb.txt.gz"
    bomb.write_bytes(gzip.compress(b"\0" * 10**7))
    assert bomb.stat().st_size < 20_000
    with pytest.raises(ValueError, match=r"bomb.txt.gz' holds more than 1,000,000 bytes once "
                                         r"decompressed; files read whole are limited"):
        read_file_bytes(bomb, limit=10**6)
    raw = gzip.compress(("text,label\n" + "hello there,1\nbad one,0\n" * 5000).encode())
    cut = tmp_path / "cut.csv.gz"
    cut.write_bytes(raw[:len(raw) // 2])
    message = "is a truncated or corrupt gzip file"
    with pytest.raises(ValueError, match=message):
        load_texts(cut, label_column="label")
    with pytest.raises(ValueError, match=message):
        list(TextStream(cut))
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump(_with(output=str(tmp_path / "runs"),
                                           data={"path": str(cut)})))
    assert message in cli_error(["run", str(config)], capsys)


def test_a_csv_field_longer_than_pythons_default_limit_is_read(tmp_path):
    from hybridnlp.datasets import TextStream, load_texts

    file = tmp_path / "long.csv"
    file.write_text("text,label\n" + "word " * 40_000 + ",1\nshort,0\n")
    assert len(load_texts(file, label_column="label").data[0]) == 200_000
    assert [len(t) for t in TextStream(file)] == [200_000, 5]


# ---------------------------------------------------------------- 9. one line, never a traceback


def test_names_too_long_for_a_folder_are_refused_at_load(tmp_path, capsys):
    long = "m" * 300
    with pytest.raises(ConfigError, match=r"^models\[0\].name: 'm+'... is 300 characters; a "
                                          r"model's name becomes a folder, so keep it to 120"):
        load_config(_with(models=[{"type": "nbsvm", "name": long}]))
    with pytest.raises(ConfigError, match=r"^name: 'm+'... is 300 characters"):
        load_config(_with(name=long))


def test_data_files_that_cannot_be_read_are_one_line_naming_the_key(tmp_path, capsys):
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump(_with(output=str(tmp_path / "runs"),
                                           data={"path": str(tmp_path / "missing.csv")})))
    line = cli_error(["run", str(config)], capsys)
    assert line.startswith("hybridnlp run: error: data.path: ") and "missing.csv" in line
    corpus = tmp_path / "bad.txt"
    corpus.write_bytes(b"\xff\xfe not utf-8")
    from hybridnlp.exceptions import DataError
    from hybridnlp.experiments.pretrain import corpus_texts

    with pytest.raises(DataError, match=r"^pretraining corpus\[1\]: pretraining corpus file "
                                        r"'.*bad.txt' is not UTF-8 text \(byte 0\)"):
        corpus_texts(["mr", str(corpus)])


@pytest.fixture(scope="module")
def translator_dir(tmp_path_factory):
    from hybridnlp.seq2seq import Seq2SeqLM

    src = ["a cat", "a dog", "the cat sat"] * 5
    tgt = ["eine katze", "ein hund", "die katze sass"] * 5
    path = tmp_path_factory.mktemp("mt") / "model"
    save(Seq2SeqLM(preset="tiny", tokenizer="char", max_steps=2, random_state=0)
               .fit(src, tgt), path)
    return path


@pytest.mark.parametrize("content, extra, message", [
    (b"a cat\n\xff\xfe\n", [], "'IN' is not UTF-8 text (byte 6); save it as UTF-8"),
    ("a cat\nzzz \u6f22\n".encode(), [], "'IN' line 2: character '\u6f22' (U+6F22) at "
                                         "position 4 was not in the training text"),
    (b"\n  \n", [], "'IN' holds no sentence (one sentence a line)"),
    (b"a cat\n", ["--batch-size", "0"], "--batch-size 0 must be at least 1"),
    (b"a cat\n", ["--output", "OUTDIR"], "--output 'OUTDIR' must be a file in an existing "
                                         "folder (it is a folder)"),
])
def test_translate_refuses_bad_input_in_one_line(translator_dir, tmp_path, capsys, content,
                                                 extra, message):
    source = tmp_path / "in.txt"
    source.write_bytes(content)
    argv = ["translate", str(translator_dir), "--input", str(source), "--quiet"]
    argv += [str(tmp_path) if a == "OUTDIR" else a for a in extra]
    line = cli_error(argv, capsys)
    expected = message.replace("'IN'", repr(str(source))).replace("OUTDIR", str(tmp_path))
    assert line.startswith(f"hybridnlp translate: error: {expected}"), line


def _dead_pid() -> int:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    return int(done.stdout)


def test_a_save_removes_what_a_killed_save_left_beside_it(tmp_path):
    from hybridnlp.utils.io import atomic_directory, atomic_write_bytes

    dead, alive = _dead_pid(), os.getppid()
    left = [tmp_path / f".model.{dead}.abcd1234.tmp", tmp_path / f".model.{dead}.ab12.old",
            tmp_path / f".config.json.{dead}.x1y2.tmp"]
    for folder in left[:2]:
        folder.mkdir()
        (folder / "model.safetensors").write_bytes(b"half")
    left[2].write_bytes(b"half")
    running = tmp_path / f".model.{alive}.zzzz9999.tmp"  # a writer still at work
    running.mkdir()
    with atomic_directory(tmp_path / "model") as tmp:
        (tmp / "x").write_text("new")
    atomic_write_bytes(tmp_path / "config.json", b"{}")
    assert not any(p.exists() for p in left)
    assert running.exists() and (tmp_path / "model" / "x").read_text() == "new"


def test_a_full_disk_is_named_in_one_line(tmp_path, monkeypatch):
    import errno

    from hybridnlp.exceptions import DiskFullError
    from hybridnlp.utils.io import atomic_write_bytes

    (tmp_path / "f").write_bytes(b"old")

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(DiskFullError, match=rf"^\[Errno {errno.ENOSPC}\] no space left to write "
                                            rf"in '{tmp_path}' \(No space left on device\); "
                                            rf"free some space"):
        atomic_write_bytes(tmp_path / "f", b"new")
    assert (tmp_path / "f").read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["f"]


# ---------------------------------------------------------------- Ctrl-C: one line, exit 130


def _interrupted(argv, capsys) -> str:
    from hybridnlp.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 130
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("\n") == 1, err
    return err


def test_ctrl_c_in_train_lm_says_what_was_kept_and_resume_continues(tmp_path, capsys,
                                                                     monkeypatch):
    from hybridnlp.cli import main
    from hybridnlp.lm import CausalLM

    corpus = tmp_path / "c.txt"
    corpus.write_text("to be or not to be, that is the question. " * 40)
    out, ck = str(tmp_path / "lm"), str(tmp_path / "ck")
    argv = ["train-lm", str(corpus), "--output", out, "--preset", "gpt-nano", "--max-steps",
            "3", "--quiet", "--checkpoint-dir", ck]
    assert main(argv) == 0
    step = json.loads((tmp_path / "ck" / "trainer" / "trainer.json").read_text())["step"]
    real_fit = CausalLM.fit

    def stopped(self, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(CausalLM, "fit", stopped)
    assert _interrupted(argv + ["--resume"], capsys) == (
        f"hybridnlp train-lm: interrupted; the checkpoint of step {step} is kept in {ck!r}; "
        f"continue with the same command and --resume\n")
    assert "nothing was kept; pass --checkpoint-dir DIR" in _interrupted(argv[:-2], capsys)
    monkeypatch.setattr(CausalLM, "fit", real_fit)
    assert main(argv + ["--resume"]) == 0  # continues from the checkpoint
    assert "--resume continues from --checkpoint-dir DIR" in cli_error(
        argv[:-2] + ["--resume"], capsys)


def test_ctrl_c_in_a_run_names_the_directory_to_resume(tmp_path, capsys, monkeypatch):
    import hybridnlp.experiments.classification as classification

    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump(_with(output=str(tmp_path / "runs"))))

    def stopped(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(classification, "_classification_model", stopped)
    line = _interrupted(["run", str(config), "--quiet"], capsys)
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert line == (f"hybridnlp run: interrupted; the folds and models that finished are kept "
                    f"in {str(run_dir)!r}; continue with: hybridnlp run --resume {run_dir}\n")


@pytest.mark.parametrize("command", ["index", "translate"])
def test_ctrl_c_in_index_and_translate_says_nothing_was_written(command, tmp_path, capsys,
                                                                monkeypatch, translator_dir):
    import hybridnlp.cli as cli

    def stopped(args):
        raise KeyboardInterrupt

    parser = cli.build_parser()
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    sub = next(a for a in parser._actions if a.dest == "command").choices[command]
    sub.set_defaults(func=stopped)
    argv = {"index": ["index", "p.txt", "--output", "o"],
            "translate": ["translate", str(translator_dir)]}[command]
    assert _interrupted(argv, capsys) == (
        f"hybridnlp {command}: interrupted; nothing was written ("
        + {"index": "the index is written whole at the end); run it again\n",
           "translate": "the translations are written together at the end); run it again\n"}[
            command])


def test_a_real_sigint_stops_a_run_in_one_line(tmp_path):
    import signal
    import time

    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump(_with(output=str(tmp_path / "runs"), models=[
        {"type": "transformer", "params": {"max_epochs": 100_000, "patience": None,
                                                     "preset": "tiny"}}])))
    proc = subprocess.Popen([sys.executable, "-m", "hybridnlp.cli", "run", str(config),
                             "--quiet"], stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while time.time() < deadline and not list((tmp_path / "runs").glob("*/log.txt")):
        time.sleep(0.2)
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert err.startswith("hybridnlp run: interrupted; the folds and models that finished are "
                          "kept in ") and err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize("settings", [{"num_beams": 1}, {"do_sample": True, "seed": 0}])
def test_greedy_and_sampled_translations_report_their_real_score(translator_dir, settings):
    mt = load(translator_dir)
    text, score = mt.generate("a cat", return_scores=True, length_penalty=0.0, **settings)
    total, n = mt.log_likelihood(["a cat"], [text])
    assert score != 0.0 and score == pytest.approx(total, rel=1e-5)


_DYING_WORKER = """
import gensim.models.word2vec as w
from hybridnlp.features import Word2VecFeatures

def boom(self, *args, **kwargs):
    raise OverflowError("Python int too large to convert to C int")

w.Word2Vec._do_train_job = boom  # what an overflowing setting did inside gensim's worker
try:
    Word2VecFeatures(vector_size=8, epochs=1, workers=WORKERS).fit(["a b c d", "b c d e"] * 20)
except RuntimeError as err:
    print(err)
"""


@pytest.mark.parametrize("workers", [1, 2])
def test_a_dying_gensim_worker_is_an_error_not_a_hang(workers):
    done = subprocess.run([sys.executable, "-c", _DYING_WORKER.replace("WORKERS",
                                                                         str(workers))],
                          capture_output=True, text=True, timeout=120)  # a hang fails here
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("a gensim word2vec worker thread stopped (OverflowError: "
                                  "Python int too large to convert to C int), so training "
                                  "cannot finish")
