"""Export (ONNX, ARPA) round trips and the HTTP model server: answers equal to in-process
``predict``, micro-batching, and a 4xx with a message for bad requests."""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import warnings

import numpy as np
import pytest
import torch

import hybridnlp
from hybridnlp import FastTextClassifier, NBSVMClassifier, NGramLM, TransformerClassifier
from hybridnlp.cli import main
from hybridnlp.hybrid import FusionClassifier
from hybridnlp.utils.calibration import with_temperature

pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def saved(tmp_path_factory, mr_small):
    """A fitted NBSVM, tiny Transformer, fastText and fusion classifier on 200 MR sentences,
    and an n-gram LM, saved."""
    root = tmp_path_factory.mktemp("deploy")
    texts, y = mr_small
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a few texts truncated
        models = {
            "nbsvm": NBSVMClassifier().fit(texts, y),
            "transformer": TransformerClassifier(
                max_epochs=2, max_len=48, random_state=0, module__n_layer=1,
                module__n_embd=32, module__n_head=2).fit(texts, y),
            "fasttext": FastTextClassifier(max_epochs=3, random_state=0).fit(texts, y),
            "fusion": FusionClassifier(max_epochs=1, max_len=48, random_state=0,
                                       module__n_layer=1, module__n_embd=32,
                                       module__n_head=2).fit(texts, y),
            "ngram": NGramLM(order=3).fit(texts),
        }
    for name, model in models.items():
        hybridnlp.save(model, root / name)
    return root, models, texts


@pytest.mark.parametrize("name", ["transformer", "fasttext", "fusion"])
def test_onnx_export_gives_the_same_probabilities_and_int8_the_same_labels(saved, name,
                                                                           tmp_path):
    root, models, texts = saved
    est = models[name]
    test = [*texts[:20], "", *texts[20:40], "words it never saw", ""]  # empty bags too
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hybridnlp.export(root / name, to="onnx", output=tmp_path / "fp32")
        hybridnlp.export(est, to="onnx", output=tmp_path / "int8", quantize="int8")
        fp32, int8 = hybridnlp.load(tmp_path / "fp32"), hybridnlp.load(tmp_path / "int8")
        ref = est.predict_proba(test)
        assert type(fp32).__name__ == "OnnxClassifier" and fp32.quantize is None
        np.testing.assert_allclose(fp32.predict_proba(test), ref, atol=1e-5)
        assert list(fp32.predict(test)) == list(est.predict(test))
        fp32.estimator_.temperature_ = 2.0  # as calibrate=True would have fit it
        np.testing.assert_allclose(fp32.predict_proba(test), with_temperature(ref, 2.0),
                                   atol=1e-5)
        assert list(fp32.classes_) == list(est.classes_)
        assert int8.quantize == "int8"
        agree = np.mean(int8.predict(test) == est.predict(test))
        assert agree >= 0.9
        assert np.abs(int8.predict_proba(test) - ref).max() < 0.1
    assert sorted(p.name for p in (tmp_path / "fp32").iterdir()) == [
        "README.md", "config.json", "estimator", "model.onnx"]


def test_the_exported_bag_is_embedding_bags_mean_empty_bags_included():
    """fastText's export writes the bag as gathers and sums (ONNX has no EmbeddingBag): the
    same logits, an empty bag first, inside and last."""
    from hybridnlp.estimators.fasttext_classifier import _BagModel
    from hybridnlp.estimators.onnx import _BagLogits

    torch.manual_seed(0)
    model = _BagModel(50, 8, 3).eval()
    torch.nn.init.normal_(model.linear.weight)
    ids, offsets = torch.tensor([3, 4, 5, 9, 1, 7]), torch.tensor([0, 0, 2, 2, 5, 6])
    assert torch.allclose(_BagLogits(model)(ids, offsets), model(ids, offsets)[0], atol=1e-6)


def test_export_refuses_what_a_model_cannot_become(saved, tmp_path):
    root, models, _ = saved
    with pytest.raises(ValueError, match=r"a NBSVMClassifier cannot be exported to 'onnx': it "
                                         r"has no export format"):
        hybridnlp.export(models["nbsvm"], to="onnx", output=tmp_path / "x")
    with pytest.raises(ValueError, match=r"a NGramLM cannot be exported to 'onnx': it exports "
                                         r"to \['arpa'\]"):
        hybridnlp.export(root / "ngram", to="onnx", output=tmp_path / "x")
    with pytest.raises(ValueError, match=r"to='tflite' is not an export format; choose one of "
                                         r"\['hf', 'onnx', 'ctranslate2', 'arpa'\]"):
        hybridnlp.export(models["ngram"], to="tflite", output=tmp_path / "x")
    with pytest.raises(ValueError, match=r"quantize='int8' applies to to='onnx' and "
                                         r"to='ctranslate2' only"):
        hybridnlp.export(models["ngram"], to="arpa", output=tmp_path / "x", quantize="int8")
    assert not (tmp_path / "x").exists()


def test_cli_export_writes_what_load_reads(saved, tmp_path, capsys):
    root, models, texts = saved
    assert main(["export", str(root / "ngram"), "--to", "arpa",
                 "--output", str(tmp_path / "lm.arpa")]) == 0
    assert "wrote" in capsys.readouterr().out
    back, lm = hybridnlp.load(tmp_path / "lm.arpa"), models["ngram"]
    for line in texts[:5]:  # a sentence from its start (ARPA's n-grams stop at line breaks)
        ids = [lm.tokenizer_.eos_id, *lm.tokenizer_.encode(line), lm.tokenizer_.eos_id]
        np.testing.assert_allclose(back.token_log_probs(ids), lm.token_log_probs(ids),
                                   atol=1e-6)
    with pytest.raises(SystemExit) as exit_:
        main(["export", str(root / "nbsvm"), "--to", "onnx", "--output", str(tmp_path / "o")])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("hybridnlp export: error: a NBSVMClassifier cannot be exported")
    assert "Traceback" not in err


# ---------------------------------------------------------------------- the server


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _request(url, body=None, *, raw: bytes | None = None, method=None):
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            payload = r.read()
            status = r.status
    except urllib.error.HTTPError as err:
        payload, status = err.read(), err.code
    try:
        return status, json.loads(payload)
    except ValueError:
        return status, payload.decode()


@pytest.fixture(scope="module")
def server(saved):
    """The app of nbsvm, the Transformer and the n-gram LM on uvicorn, in this process."""
    uvicorn = pytest.importorskip("uvicorn")
    from hybridnlp.serve.server import build_app

    root, _, _ = saved
    app = build_app({name: (hybridnlp.load(root / name), None,
                            (root / name / "README.md").read_text())
                     for name in ("nbsvm", "transformer", "ngram")}, max_wait_ms=20)
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    for _ in range(200):
        if srv.started:
            break
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", app
    srv.should_exit = True
    thread.join(10)


def test_served_predictions_equal_in_process_predict(server, saved):
    url, _ = server
    _, models, texts = saved
    status, health = _request(url + "/health")
    assert status == 200
    assert health == {"status": "ok", "models": {"nbsvm": "classifier",
                                                 "transformer": "classifier",
                                                 "ngram": "generator"}}
    for name in ("nbsvm", "transformer"):
        status, out = _request(url + "/predict", {"texts": texts[:7], "model": name})
        assert status == 200, out
        assert out["labels"] == list(models[name].predict(texts[:7]))
        np.testing.assert_allclose(out["probabilities"], models[name].predict_proba(texts[:7]),
                                   rtol=1e-6, atol=1e-7)
        assert out["classes"] == list(models[name].classes_)
    status, out = _request(url + "/generate", {"prompt": "the film", "max_new_tokens": 5,
                                               "seed": 0})
    assert status == 200
    assert out["text"] == models["ngram"].generate("the film", 5, seed=0)
    status, card = _request(url + "/models/nbsvm")
    assert status == 200 and card["kind"] == "classifier" and "# " in card["card"]


def test_concurrent_requests_are_batched_and_each_gets_its_own_answer(server, saved):
    url, app = server
    _, models, texts = saved
    results = {}

    def ask(i):
        results[i] = _request(url + "/predict", {"texts": [texts[i]], "model": "transformer"})

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    proba = models["transformer"].predict_proba(texts[:24])
    for i in range(24):
        status, out = results[i]
        assert status == 200
        np.testing.assert_allclose(out["probabilities"][0], proba[i], rtol=1e-5, atol=1e-6)
    assert max(app.state.batchers["transformer"].batch_sizes) > 1  # some ran together


@pytest.mark.parametrize("raw, status, message", [
    (b'{"texts": ["a",', 400, "the body is not valid JSON"),
    (b'{"texts": "a film"}', 422, "texts: Input should be a valid array"),
    (b'{"texts": [1, 2]}', 422, "texts.0: Input should be a valid string"),
    (b'{"texts": []}', 422, "texts: List should have at least 1 item"),
    (b'{"texts": ["a"], "temperature": 2}', 422, "temperature: Extra inputs are not permitted"),
    (b'{"texts": ["a"], "model": "nope"}', 404, "no model named 'nope' is served"),
    (b'{"texts": ["a"]}', 400, "2 classifiers are served (['nbsvm', 'transformer']); name "
                               "one with \"model\""),
    (b'{"texts": ["a"], "model": "ngram"}', 400, "model 'ngram' is a generator, not a "
                                                  "classifier"),
    (b'{"texts": ["' + b"a" * 10_000_000 + b'"]}', 413, "is over the limit of 1000000 bytes"),
])
def test_bad_requests_get_a_4xx_with_a_message_and_the_server_keeps_serving(
        server, raw, status, message):
    url, _ = server
    got, out = _request(url + "/predict", raw=raw)
    assert got == status, out
    assert message in out["error"]
    assert _request(url + "/predict", {"texts": ["a fine film"], "model": "nbsvm"})[0] == 200


def test_cli_serve_answers_and_stops_gracefully_on_sigterm(saved):
    pytest.importorskip("uvicorn")
    root, models, texts = saved
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "hybridnlp.cli", "serve", str(root / "nbsvm"),
                             "--port", str(port)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        for _ in range(600):
            try:
                status, out = _request(f"http://127.0.0.1:{port}/predict",
                                       {"texts": texts[:3]})
                break
            except urllib.error.URLError:
                time.sleep(0.1)
        assert status == 200 and out["labels"] == list(models["nbsvm"].predict(texts[:3]))
    finally:
        proc.send_signal(signal.SIGTERM)
        output = proc.communicate(timeout=60)[0]
    assert proc.returncode == 128 + signal.SIGTERM, output  # the shell's code for SIGTERM
    assert "Application shutdown complete" in output  # after the requests under way
    assert "Traceback" not in output


def test_cli_serve_refuses_a_bad_directory_in_one_line(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    with pytest.raises(SystemExit) as exit_:
        main(["serve", str(tmp_path / "empty")])
    assert exit_.value.code == 2
    assert capsys.readouterr().err.startswith("hybridnlp serve: error: ")


# ---------------------------------------------------------------------- Hugging Face GPT-2


def _tiny_gpt2_dir(path, *, tokenizer_json: bool):
    """A random 2-layer GPT-2 with a byte-level BPE trained on a few lines, saved as
    ``transformers`` does (tokenizer.json, or vocab.json + merges.txt)."""
    transformers = pytest.importorskip("transformers")
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(["the cat sat on the mat", "a dog ate the log"] * 20,
                            trainers.BpeTrainer(vocab_size=300, special_tokens=["<|endoftext|>"],
                                                initial_alphabet=pre_tokenizers.ByteLevel
                                                .alphabet(), show_progress=False))
    path.mkdir()
    if tokenizer_json:
        tok.save(str(path / "tokenizer.json"))
    else:
        tok.model.save(str(path))  # vocab.json, merges.txt
    eos = tok.token_to_id("<|endoftext|>")
    config = transformers.GPT2Config(vocab_size=tok.get_vocab_size(), n_positions=64,
                                     n_embd=32, n_layer=2, n_head=2, bos_token_id=eos,
                                     eos_token_id=eos)
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    transformers.GPT2LMHeadModel(config).save_pretrained(path)
    return tok, eos


@pytest.mark.parametrize("tokenizer_json", [True, False])
def test_a_local_gpt2_directory_generates_as_transformers_does(tmp_path, tokenizer_json):
    import torch
    import transformers

    from hybridnlp import CausalLM

    tok, eos = _tiny_gpt2_dir(tmp_path / "gpt2", tokenizer_json=tokenizer_json)
    lm = hybridnlp.load(tmp_path / "gpt2")  # a Hugging Face folder: CausalLM.from_pretrained
    assert isinstance(lm, CausalLM) and lm.tokenizer_.eos_id == eos
    ref = transformers.GPT2LMHeadModel.from_pretrained(tmp_path / "gpt2").eval()
    for prompt in ("the cat", "a dog ate"):
        ids = [eos, *tok.encode(prompt).ids]
        with torch.no_grad():
            out = ref.generate(torch.tensor([ids]), max_new_tokens=12, do_sample=False,
                               pad_token_id=eos)[0, len(ids):].tolist()
        out = out[:out.index(eos)] if eos in out else out
        assert lm.generate(prompt, 12, do_sample=False) == tok.decode(out)


def test_a_causal_lm_exports_a_directory_transformers_loads_with_its_tokenizer(tmp_path):
    import torch
    import transformers

    from hybridnlp import CausalLM

    text = "the cat sat on the mat. a dog ate the log. " * 30
    lm = CausalLM(preset="gpt-nano", tokenizer="bpe", vocab_size=300, max_steps=20,
                  random_state=0).fit(text)
    hybridnlp.export(lm, to="hf", output=tmp_path / "hf")
    model = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "hf").eval()
    tok = transformers.AutoTokenizer.from_pretrained(tmp_path / "hf")
    line = "the dog sat on the log."
    ids = tok(line)["input_ids"]
    assert ids == lm.tokenizer_.encode(line)
    with torch.no_grad():
        theirs = model(torch.tensor([ids])).logits
        ours, _ = lm.model_(torch.tensor([ids]))
    torch.testing.assert_close(theirs, ours, atol=1e-5, rtol=1e-5)
    back = hybridnlp.load(tmp_path / "hf")
    assert back.generate("the cat", 10, do_sample=False) == lm.generate("the cat", 10,
                                                                        do_sample=False)
    with pytest.raises(ValueError, match=r"a CausalLM cannot be exported to 'hf': it has no "
                                         r"export format"):
        hybridnlp.export(CausalLM(preset="gpt-nano", max_steps=2).fit(text), to="hf",
                         output=tmp_path / "char")


# ---------------------------------------------------------------------- Hugging Face classifiers


@pytest.mark.parametrize("family", ["bert", "roberta"])
def test_a_fine_tuned_classifier_exports_what_transformers_reads_with_the_same_probabilities(
        tmp_path, family):
    import torch
    import transformers
    from test_pretrained import BAD, GOOD, _bert_dir, _roberta_dir

    source = (_bert_dir if family == "bert" else _roberta_dir)(tmp_path / family)
    rng = np.random.default_rng(0)
    texts = [" ".join(rng.choice(GOOD if i % 2 else BAD, 4)) + " film" for i in range(40)]
    labels = ["pos" if i % 2 else "neg" for i in range(40)]
    est = TransformerClassifier(pretrained=source, max_epochs=2, max_len=32, random_state=0)
    est.fit(texts, labels)
    hybridnlp.export(est, to="hf", output=tmp_path / "hf")
    model = transformers.AutoModelForSequenceClassification.from_pretrained(tmp_path / "hf")
    tok = transformers.AutoTokenizer.from_pretrained(tmp_path / "hf")
    test = [*texts[:6], "Good FILM, not boring", "a plot"]
    batch = tok(test, padding=True, truncation=True, return_tensors="pt")
    with torch.no_grad():
        theirs = torch.softmax(model.eval()(**batch).logits.double(), -1).numpy()
    np.testing.assert_allclose(theirs, est.predict_proba(test), atol=1e-5)
    assert model.config.id2label == {0: "neg", 1: "pos"}
    est.temperature_ = 2.0  # as calibrate=True would have fit it: the export divides too
    hybridnlp.export(est, to="hf", output=tmp_path / "hf-calibrated")
    model = transformers.AutoModelForSequenceClassification.from_pretrained(
        tmp_path / "hf-calibrated")
    with torch.no_grad():
        theirs = torch.softmax(model.eval()(**batch).logits.double(), -1).numpy()
    np.testing.assert_allclose(theirs, est.predict_proba(test), atol=1e-5)
    with pytest.raises(ValueError, match=r"is a Hugging Face '(bert|roberta)' model directory, "
                                         r"not a hybridnlp one"):
        hybridnlp.load(tmp_path / "hf")


# ---------------------------------------------------------------------- CTranslate2


def test_ctranslate2_decodes_greedily_as_the_translator_does(tmp_path):
    module = {"module__positions": "sinusoidal", "module__scale_embedding": True}  # Marian's
    pytest.importorskip("ctranslate2")
    from test_seq2seq import toy_pairs

    from hybridnlp import Seq2SeqLM

    src, tgt = toy_pairs(2000, 0)  # word-for-word translation, word order reversed
    # lr 1e-2: at 3e-3 this shape had not learnt the task in 8 epochs on an AMD EPYC (BLEU 2),
    # and int8's agreement with an untrained model's guesses is a coin toss
    mt = Seq2SeqLM(preset="tiny", vocab_size=300, max_epochs=8, random_state=0,
                   module__n_embd=64, optimizer__lr=1e-2, **module).fit(src, tgt)
    hybridnlp.export(mt, to="ctranslate2", output=tmp_path / "ct2")
    ct2 = hybridnlp.load(tmp_path / "ct2")
    assert type(ct2).__name__ == "CTranslate2Translator"
    test, references = toy_pairs(30, 1)
    ours = mt.generate(test, num_beams=1)
    assert mt.score(test, references) > 50  # a model that has learnt the task
    assert ct2.generate(test, num_beams=1) == ours  # token for token
    hybridnlp.export(mt, to="ctranslate2", output=tmp_path / "int8", quantize="int8")
    int8 = hybridnlp.load(tmp_path / "int8").generate(test, num_beams=1)
    assert np.mean([a == b for a, b in zip(int8, ours, strict=True)]) >= 0.8


def test_translators_and_qa_pipelines_are_served(tmp_path):
    pytest.importorskip("uvicorn")
    import uvicorn

    from hybridnlp import Seq2SeqLM
    from hybridnlp.qa import QAPipeline, SlidingWindowReader
    from hybridnlp.serve import build_app

    mt = Seq2SeqLM(preset="tiny", vocab_size=300, max_epochs=1, random_state=0).fit(
        ["a red cat", "a big dog"] * 20, ["eine rote katze", "ein grosser hund"] * 20)
    passages = ["Seattle is a city in Washington.", "The Broncos won Super Bowl 50."]
    qa = QAPipeline(reader=SlidingWindowReader(), top_k=1).index(passages)
    app = build_app({"mt": mt, "qa": qa})
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    while not srv.started:
        time.sleep(0.05)
    try:
        url = f"http://127.0.0.1:{port}"
        status, out = _request(url + "/translate", {"texts": ["a red cat", "a big dog"]})
        assert status == 200 and out == {"translations": mt.predict(["a red cat", "a big dog"])}
        status, out = _request(url + "/answer", {"questions": ["Who won Super Bowl 50?"]})
        assert status == 200
        assert out["answers"] == qa.predict(["Who won Super Bowl 50?"])
        status, out = _request(url + "/predict", {"texts": ["a"]})
        assert status == 404 and out["error"].startswith("no classifier is served")
    finally:
        srv.should_exit = True
        thread.join(10)
