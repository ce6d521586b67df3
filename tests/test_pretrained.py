"""Pretrained local encoders as components: tiny randomly initialised BERT / RoBERTa models and
a sentence-transformers-style directory written by the tests (nothing is downloaded)."""

import json
import pickle
import shutil

import numpy as np
import pytest
import skops.io as sio
import torch

transformers = pytest.importorskip("transformers")

from hybridnlp.estimators import TransformerClassifier  # noqa: E402
from hybridnlp.hybrid import HybridClassifier  # noqa: E402
from hybridnlp.persistence import load, save  # noqa: E402
from hybridnlp.pretrained import SentenceEmbeddingFeatures, clear_embedding_cache  # noqa: E402
from hybridnlp.pretrained.local import HFTokenizer, load_encoder  # noqa: E402
from hybridnlp.pretrained.module import layer_depths  # noqa: E402

WORDS = ("good great fine lovely superb bad awful poor dull boring film movie plot actors "
         "the a was is and very not").split()
GOOD, BAD = WORDS[:5], WORDS[5:10]


def _texts(n, seed=0):
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for i in range(n):
        label = i % 2
        words = list(rng.choice(GOOD if label else BAD, size=2)) + list(
            rng.choice(WORDS[10:], size=rng.integers(1, 6)))
        rng.shuffle(words)
        texts.append(" ".join(words))
        labels.append(label)
    return texts, np.asarray(labels)


def _bert_dir(path, **config):
    """A BERT directory: a WordPiece tokenizer (tokenizer.json, built with ``tokenizers``: the
    same on transformers 4 and 5) and a randomly initialised BertModel."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS,
             *(c for c in "bcdefghijklmnopqrstuvwxyz")]
    tk = Tokenizer(models.WordPiece({w: i for i, w in enumerate(vocab)}, unk_token="[UNK]"))
    tk.normalizer = normalizers.BertNormalizer(lowercase=True)
    tk.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tk.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
    path.mkdir(parents=True)
    transformers.PreTrainedTokenizerFast(
        tokenizer_object=tk, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
        sep_token="[SEP]", mask_token="[MASK]", model_max_length=128).save_pretrained(path)
    torch.manual_seed(0)
    cfg = transformers.BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2,
                                  num_attention_heads=2, intermediate_size=48,
                                  max_position_embeddings=128, **config)
    transformers.BertModel(cfg).save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def bert_dir(tmp_path_factory):
    return _bert_dir(tmp_path_factory.mktemp("models") / "bert")


@pytest.fixture(scope="module")
def roberta_dir(tmp_path_factory):
    return _roberta_dir(tmp_path_factory.mktemp("models") / "roberta")


def _roberta_dir(path):
    """A RoBERTa directory: byte-level BPE with <s> ... </s>, positions offset by the pad id."""
    from tokenizers import ByteLevelBPETokenizer, processors

    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator([" ".join(WORDS)] * 20, vocab_size=300, show_progress=False,
                            special_tokens=specials)
    bpe.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0))
    path.mkdir(parents=True)
    tok = transformers.PreTrainedTokenizerFast(
        tokenizer_object=bpe._tokenizer, bos_token="<s>", pad_token="<pad>", eos_token="</s>",
        unk_token="<unk>", mask_token="<mask>", cls_token="<s>", sep_token="</s>")
    tok.save_pretrained(path)
    torch.manual_seed(1)
    cfg = transformers.RobertaConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=2,
                                     num_attention_heads=2, intermediate_size=48,
                                     max_position_embeddings=130, pad_token_id=1)
    transformers.RobertaModel(cfg).save_pretrained(path)
    return path


def _sentence_transformers_dir(root, base, pooling: dict, normalize: bool):
    """A sentence-transformers directory: the Transformer module in 0_Transformer."""
    shutil.copytree(base, root / "0_Transformer")
    (root / "0_Transformer" / "sentence_bert_config.json").write_text(
        json.dumps({"max_seq_length": 16, "do_lower_case": True}))
    (root / "1_Pooling").mkdir()
    (root / "1_Pooling" / "config.json").write_text(json.dumps(pooling))
    modules = [{"idx": 0, "name": "0", "path": "0_Transformer",
                "type": "sentence_transformers.models.Transformer"},
               {"idx": 1, "name": "1", "path": "1_Pooling",
                "type": "sentence_transformers.models.Pooling"}]
    if normalize:
        modules.append({"idx": 2, "name": "2", "path": "2_Normalize",
                        "type": "sentence_transformers.models.Normalize"})
    (root / "modules.json").write_text(json.dumps(modules))
    return root


def _reference(path, texts, pooling="mean", max_length=None):
    """transformers' own tokenizer and forward, pooled by hand."""
    tok = transformers.AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = transformers.AutoModel.from_pretrained(path, local_files_only=True).eval()
    enc = tok(texts, padding=True, truncation=max_length is not None, max_length=max_length,
              return_tensors="pt")
    with torch.no_grad():
        h = model(**enc).last_hidden_state
    m = enc["attention_mask"].unsqueeze(-1).float()
    if pooling == "cls":
        return h[:, 0].numpy()
    if pooling == "max":
        return h.masked_fill(m == 0, -1e9).max(dim=1).values.numpy()
    return ((h * m).sum(1) / m.sum(1)).numpy()


def _reference_ids(path, text):
    tok = transformers.AutoTokenizer.from_pretrained(path, local_files_only=True)
    ids = tok(text)["input_ids"]
    assert tok.unk_token_id not in ids
    return ids[1:-1]


TEXTS = ["good film", "the plot was very dull and the actors were not good at all", "bad"]


@pytest.mark.parametrize("which", ["bert_dir", "roberta_dir"])
@pytest.mark.parametrize("pooling", ["mean", "cls", "max"])
def test_embeddings_equal_transformers_forward_and_pooling(request, which, pooling):
    path = request.getfixturevalue(which)
    emb = SentenceEmbeddingFeatures(pretrained=path, pooling=pooling, cache=None,
                                    batch_size=2).fit()
    out = emb.transform(TEXTS)
    assert out.shape == (3, 32) and out.dtype == np.float32
    assert emb.tokenizer_.encode_batch(TEXTS[:1])[0][1:-1] == _reference_ids(path, TEXTS[0])
    np.testing.assert_allclose(out, _reference(path, TEXTS, pooling), atol=1e-5)
    assert emb.normalize_ is False and emb.pooling_ == (pooling,)


@pytest.mark.parametrize("pooling, expect", [
    ({"word_embedding_dimension": 32, "pooling_mode_cls_token": True,
      "pooling_mode_mean_tokens": False}, "cls"),           # the old keys
    ({"embedding_dimension": 32, "pooling_mode": "max"}, "max"),  # the new key
])
def test_sentence_transformers_directory_pooling_and_normalize(tmp_path, bert_dir, pooling,
                                                               expect):
    path = _sentence_transformers_dir(tmp_path / "st", bert_dir, pooling, normalize=True)
    emb = SentenceEmbeddingFeatures(pretrained=str(path), cache=None).fit()
    assert emb.pooling_ == (expect,) and emb.normalize_ is True and emb.max_length_ == 16
    out = emb.transform([t.upper() for t in TEXTS])  # do_lower_case applies
    ref = _reference(bert_dir, TEXTS, expect, max_length=16)
    ref /= np.linalg.norm(ref, axis=1, keepdims=True)
    np.testing.assert_allclose(out, ref, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-6)


def test_sentence_transformers_concatenated_pooling_modes(tmp_path, bert_dir):
    pooling = {"pooling_mode_cls_token": True, "pooling_mode_mean_tokens": True}
    path = _sentence_transformers_dir(tmp_path / "st", bert_dir, pooling, normalize=False)
    emb = SentenceEmbeddingFeatures(pretrained=path, cache=None).fit()
    out = emb.transform(TEXTS)
    assert emb.pooling_ == ("cls", "mean") and out.shape == (3, 64)
    np.testing.assert_allclose(out[:, :32], _reference(bert_dir, TEXTS, "cls", 16), atol=1e-5)


def test_embedding_cache_in_memory_and_on_disk(tmp_path, bert_dir, monkeypatch):
    clear_embedding_cache()
    emb = SentenceEmbeddingFeatures(pretrained=bert_dir, cache=tmp_path / "cache").fit()
    first = emb.transform(TEXTS)
    assert len(list((tmp_path / "cache").rglob("*.npz"))) == 1

    def fail(self, texts):
        raise AssertionError(f"embedded again: {texts}")

    monkeypatch.setattr(SentenceEmbeddingFeatures, "_embed", fail)
    np.testing.assert_array_equal(emb.transform(TEXTS[::-1]), first[::-1])  # from memory
    clear_embedding_cache()  # a new process: the shards on disk
    again = SentenceEmbeddingFeatures(pretrained=bert_dir, cache=tmp_path / "cache").fit()
    np.testing.assert_array_equal(again.transform(TEXTS), first)
    other = SentenceEmbeddingFeatures(pretrained=bert_dir, pooling="cls",
                                      cache=tmp_path / "cache").fit()
    with pytest.raises(AssertionError, match="embedded again"):  # another key
        other.transform(TEXTS)


def test_embeddings_pickle_and_save_without_the_directory(tmp_path, bert_dir):
    model = tmp_path / "copy"
    shutil.copytree(bert_dir, model)
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    X, y = _texts(40)
    pipe = make_pipeline(SentenceEmbeddingFeatures(pretrained=model, cache=None),
                         LogisticRegression()).fit(X, y)
    expected = pipe.predict_proba(X)
    save(pipe, tmp_path / "saved")
    # the Path parameter is saved as a string: no path type for skops (any version) to trust
    assert not any("pathlib" in t for t in
                   sio.get_untrusted_types(file=tmp_path / "saved" / "model.skops"))
    assert pickle.loads(pickle.dumps(pipe))[0].pretrained == str(model)
    blob = pickle.dumps(pipe)
    shutil.rmtree(model)
    clear_embedding_cache()
    np.testing.assert_allclose(load(tmp_path / "saved").predict_proba(X), expected,
                               atol=1e-6)
    np.testing.assert_allclose(pickle.loads(blob).predict_proba(X), expected, atol=1e-6)


def test_fine_tuning_moves_the_loss_and_round_trips(tmp_path, bert_dir):
    X, y = _texts(64)
    clf = TransformerClassifier(pretrained=bert_dir, max_epochs=4, batch_size=8,
                                optimizer__lr=3e-3, patience=None, random_state=0).fit(X, y)
    losses = [row["train_loss"] for row in clf.history_]
    assert losses[-1] < losses[0] / 2, losses
    assert clf.score(X, y) >= 0.9
    assert clf.get_params()["pretrained"] == bert_dir and clf.model_.config.pooling == ("cls",)
    proba = clf.predict_proba(X)
    model = tmp_path / "copy"
    shutil.copytree(bert_dir, model)
    clf2 = TransformerClassifier(pretrained=model, max_epochs=1, random_state=0, patience=None)
    clf2.fit(X[:8], y[:8])
    save(clf, tmp_path / "saved")
    shutil.rmtree(model)
    loaded = load(tmp_path / "saved")
    np.testing.assert_allclose(loaded.predict_proba(X), proba, atol=1e-6)
    np.testing.assert_allclose(pickle.loads(pickle.dumps(clf2)).predict_proba(X),
                               clf2.predict_proba(X), atol=1e-6)


def test_fine_tuning_is_repeatable_and_resumes(tmp_path, roberta_dir):
    X, y = _texts(32)
    params = dict(pretrained=roberta_dir, max_epochs=2, batch_size=8, patience=None,
                  random_state=3, module__pooling="mean")
    a = TransformerClassifier(**params).fit(X, y).predict_proba(X)
    b = TransformerClassifier(**params).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, b)
    resumed = TransformerClassifier(**params, checkpoint_dir=tmp_path / "ckpt").fit(X, y)
    again = TransformerClassifier(**params, checkpoint_dir=tmp_path / "ckpt")
    np.testing.assert_allclose(again.fit(X, y, resume=True).predict_proba(X),
                               resumed.predict_proba(X), atol=1e-6)


def test_layer_decay_scales_learning_rates(bert_dir):
    depths, n = layer_depths(["embeddings.word_embeddings.weight",
                              "encoder.layer.0.attention.self.query.weight",
                              "encoder.layer.1.output.dense.bias", "pooler.dense.weight"])
    assert n == 2 and list(depths.values()) == [0, 1, 2, 3]
    X, y = _texts(16)
    clf = TransformerClassifier(pretrained=bert_dir, layer_decay=0.5, max_epochs=1,
                                patience=None, random_state=0).fit(X, y)
    groups = clf.model_.optimizer_groups(0.01)
    scale = {id(p): g["lr_scale"] for g in groups for p in g["params"]}
    named = dict(clf.model_.named_parameters())
    assert scale[id(named["head.out.weight"])] == 1.0
    assert scale[id(named["encoder.encoder.layer.1.output.dense.weight"])] == 0.5
    assert scale[id(named["encoder.encoder.layer.0.output.dense.weight"])] == 0.25
    assert scale[id(named["encoder.embeddings.word_embeddings.weight"])] == 0.125
    assert {g["weight_decay"] for g in groups if any(p.dim() < 2 for p in g["params"])} == {0.0}


def test_head_tail_truncation_keeps_the_special_tokens(tmp_path, bert_dir):
    _, tok, _ = load_encoder(bert_dir)
    words = tok.encode_batch(["a b c d e f g h i j k l"])[0]
    assert len(words) == 14 and 1 not in words  # no [UNK]
    ids = tok.encode_batch(["a b c d e f g h i j k l"], max_length=8, truncation="head_tail")[0]
    assert len(ids) == 8 and tok.n_truncated == 1
    assert ids[0] == words[0] and ids[-1] == words[-1]  # [CLS] ... [SEP]
    assert ids[1:-1] == [words[1], *words[-6:-1]]  # 6 kept: the first 1, the last 5
    assert pickle.loads(pickle.dumps(tok)) == tok
    tok.save(tmp_path / "tok.json")
    assert HFTokenizer.load(tmp_path / "tok.json") == tok


def test_hybrid_with_a_pretrained_encoder(bert_dir):
    X, y = _texts(60)
    frozen = HybridClassifier(pretrained=bert_dir, fine_tune=False, random_state=0).fit(X, y)
    assert "sentence_embedding" in frozen.get_params() and "transformer" not in frozen.get_params()
    assert frozen.score(X, y) >= 0.9
    tuned = HybridClassifier(pretrained=bert_dir, random_state=0)
    params = tuned.get_params()
    assert params["transformer__pretrained"] == bert_dir and params["transformer__max_epochs"] == 3
    assert params["sentence_embedding__sentenceembeddingfeatures__pretrained"] == bert_dir


@pytest.mark.parametrize("make, error, match", [
    (lambda d: SentenceEmbeddingFeatures(pretrained="sentence-transformers/all-MiniLM-L6-v2").fit(),
     FileNotFoundError, "model='sentence-transformers/all-MiniLM-L6-v2' is not a local "
     "directory. hybridnlp never downloads models at run time"),
    (lambda d: SentenceEmbeddingFeatures().fit(), ValueError,
     "SentenceEmbeddingFeatures needs pretrained=DIR"),
    (lambda d: TransformerClassifier(pretrained="bert-base-uncased").fit(*_texts(8)),
     FileNotFoundError, "pretrained='bert-base-uncased' is not a local directory"),
    (lambda d: TransformerClassifier(pretrained=d, max_len=200).fit(*_texts(8)),
     ValueError, "max_len=200 exceeds the 128 tokens the pretrained model"),
    (lambda d: TransformerClassifier(pretrained=d, module__n_layer=2).fit(*_texts(8)),
     ValueError, "module__n_layer cannot be set with pretrained=...: the encoder's shape comes"),
    (lambda d: TransformerClassifier(pretrained=d, word_vectors="x.txt").fit(*_texts(8)),
     ValueError, "word_vectors and pretrained cannot be combined"),
    (lambda d: TransformerClassifier(layer_decay=0.9).fit(*_texts(8)),
     ValueError, "layer_decay applies to a pretrained encoder"),
    (lambda d: SentenceEmbeddingFeatures(pretrained=d, pooling="first").fit(), ValueError,
     "pooling='first'"),
])
def test_bad_input_is_refused_clearly(bert_dir, make, error, match):
    with pytest.raises(error, match=match.replace("(", r"\(").replace(".", r"\.")
                       .replace("[", r"\[")):
        make(bert_dir)


def test_partial_directory_is_refused(tmp_path, bert_dir):
    partial = tmp_path / "partial"
    shutil.copytree(bert_dir, partial)
    (partial / "model.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match="is not a complete model directory: "
                       "model.safetensors or pytorch_model.bin missing"):
        SentenceEmbeddingFeatures(pretrained=partial).fit()
    modules = tmp_path / "st"
    modules.mkdir()
    (modules / "modules.json").write_text(json.dumps([{"path": "../..", "type": "x.Transformer"}]))
    with pytest.raises(ValueError, match="leaves the model directory"):
        SentenceEmbeddingFeatures(pretrained=modules).fit()


# ---------------------------------------------------------------- our own GPT as the encoder


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory):
    from hybridnlp.lm import CausalLM

    corpus = " ".join(_texts(200, seed=5)[0])
    lm = CausalLM(preset="gpt-nano", tokenizer="char", max_steps=30, random_state=0,
                  block_size=64).fit(corpus)
    path = tmp_path_factory.mktemp("lm") / "lm"
    lm.save(path)
    return lm, path


def test_gpt_initialised_classifier_starts_from_the_lm_and_learns(tiny_lm, tmp_path):
    lm, path = tiny_lm
    X, y = _texts(64)
    clf = TransformerClassifier(init_from=path, max_len=48, max_epochs=6, batch_size=8,
                                patience=None, optimizer__lr=3e-3, random_state=0)
    clf.fit(X, y)
    assert clf.tokenizer_.chars == lm.tokenizer_.chars and clf.tokenizer_.unknown == "unk"
    assert clf.predict(["Zebra!"]).shape == (1,)  # characters the LM never saw: <unk>
    losses = [row["train_loss"] for row in clf.history_]
    assert losses[-1] < losses[0] / 2 and clf.score(X, y) >= 0.9, losses
    start = TransformerClassifier(init_from=lm, max_len=48, max_steps=1, optimizer__lr=1e-9,
                                  patience=None, random_state=0).fit(X, y)
    for name, value in lm.model_.state_dict().items():  # the LM's weights, copied
        torch.testing.assert_close(start.model_.gpt.state_dict()[name], value, atol=1e-6,
                                   rtol=0)
    assert lm.model_.wte.weight.data_ptr() != start.model_.gpt.wte.weight.data_ptr()
    save(clf, tmp_path / "saved")
    np.testing.assert_allclose(load(tmp_path / "saved").predict_proba(X),
                               clf.predict_proba(X), atol=1e-6)


def test_gpt_classifier_pools_the_last_real_token_and_ignores_padding(tiny_lm):
    lm, _ = tiny_lm
    X, y = _texts(16)
    clf = TransformerClassifier(init_from=lm, max_len=48, max_steps=2, patience=None,
                                lm_weight=0.5, random_state=0).fit(X, y)
    one = np.vstack([clf.predict_proba([x]) for x in X[:4]])
    np.testing.assert_allclose(clf.predict_proba(X[:4]), one, atol=1e-5)  # padded batch


@pytest.mark.parametrize("params, match", [
    (dict(init_from="no/such/dir"), "init_from='no/such/dir' must be a fitted CausalLM or "
     "the directory"),
    (dict(lm_weight=0.5), "lm_weight is the auxiliary LM loss of a pretrained GPT"),
    (dict(init_from="LM", max_len=100), "max_len=100 exceeds the GPT's context window "
     "(block_size=64)"),
    (dict(init_from="LM", module__pooling="cls"), "module__pooling='cls'"),
    (dict(init_from="LM", module__n_layer=2), "module__n_layer cannot be set with init_from"),
])
def test_gpt_init_bad_input(tiny_lm, params, match):
    params = {k: (tiny_lm[1] if v == "LM" else v) for k, v in params.items()}
    import re

    with pytest.raises(ValueError, match=re.escape(match)):
        TransformerClassifier(**params).fit(*_texts(8))


def test_dense_retriever_over_a_pretrained_encoder(bert_dir, tmp_path):
    from hybridnlp.qa import DenseRetriever

    passages = [" ".join(_texts(4, seed=s)[0]) for s in range(6)]
    retriever = DenseRetriever(pretrained=bert_dir, batch_size=4).fit(passages)
    emb = SentenceEmbeddingFeatures(pretrained=bert_dir, normalize=True).fit_transform(passages)
    np.testing.assert_allclose(retriever.score_passages(passages[:2]), emb[:2] @ emb.T,
                               rtol=1e-5, atol=1e-6)
    ids, scores = retriever.search(passages, k=2)
    assert ids[:, 0].tolist() == list(range(6))  # each passage finds itself first
    np.testing.assert_allclose(scores[:, 0], 1.0, rtol=1e-5)
    retriever.save(tmp_path / "index")  # the embeddings and the encoder's fingerprint
    loaded = DenseRetriever.load(tmp_path / "index")
    np.testing.assert_allclose(loaded.score_passages(passages[:2]),
                               retriever.score_passages(passages[:2]), rtol=1e-6)
    with pytest.raises(ValueError, match=r"^word_vectors and pretrained \(an encoder "
                                         r"directory\) cannot be combined"):
        DenseRetriever(pretrained=bert_dir, word_vectors="vectors.txt").fit(passages)


def _span_task(n, seed=0):
    """Passages of the tiny vocabulary holding one word of GOOD among others; the answer is
    that word."""
    rng = np.random.default_rng(seed)
    qs, ps, ans = [], [], []
    for _ in range(n):
        words = list(rng.choice(WORDS[5:], 12))
        k = int(rng.integers(0, 12))
        words[k] = str(rng.choice(GOOD))
        p = " ".join(words)
        start = len(" ".join(words[:k])) + (k > 0)
        qs.append("which was good")
        ps.append(p)
        ans.append({"text": words[k], "answer_start": start})
    return qs, ps, ans


@pytest.mark.parametrize("which", ["bert", "roberta"])
def test_pretrained_extractive_reader_fine_tunes_and_round_trips(which, bert_dir, roberta_dir,
                                                                 tmp_path):
    """A local encoder fine-tuned as a start / end reader through the one Trainer (windows of
    the tokenizer's own pair template, answers mapped back to characters); saved and read
    back without the directory it came from, with the same answers."""
    from hybridnlp.qa import ExtractiveReader

    model_dir = shutil.copytree(bert_dir if which == "bert" else roberta_dir, tmp_path / "m")
    qs, ps, ans = _span_task(88)
    reader = ExtractiveReader(pretrained=model_dir, max_len=32, stride=8, max_question_words=12,
                              max_answer_words=3, max_epochs=8, batch_size=8,
                              optimizer__lr=3e-3, validation_fraction=None, random_state=0,
                              verbose=0).fit(qs[:64], ps[:64], ans[:64])
    spans = reader.predict(qs[64:], ps[64:])
    got = [p[s.start:s.end] for p, s in zip(ps[64:], spans, strict=True)]
    right = sum(g == a["text"] for g, a in zip(got, ans[64:], strict=True))
    assert right >= 18, got  # of 24; chance is about 1 in 12
    reader.save(tmp_path / "reader")
    shutil.rmtree(model_dir)
    again = load(tmp_path / "reader")
    assert type(again) is ExtractiveReader and again.tokenizer_ == reader.tokenizer_
    for a, b in zip(again.predict(qs[64:], ps[64:]), spans, strict=True):
        assert (a.start, a.end) == (b.start, b.end) and a.score == pytest.approx(b.score, abs=1e-4)


def test_a_question_answering_directory_answers_as_it_is(bert_dir, tmp_path):
    """A fine-tuned AutoModelForQuestionAnswering directory reads without training, its
    qa_outputs layer kept; a bare encoder is refused with what to do instead."""
    from hybridnlp.qa import ExtractiveReader

    qa_dir = shutil.copytree(bert_dir, tmp_path / "qa")
    torch.manual_seed(0)
    model = transformers.BertForQuestionAnswering(transformers.BertConfig.from_pretrained(qa_dir))
    model.save_pretrained(qa_dir)
    model.eval()
    reader = ExtractiveReader.from_pretrained(qa_dir, max_len=24, max_question_words=6)
    assert torch.equal(reader.model_.qa_outputs.weight, model.qa_outputs.weight)
    qs, ps, _ = _span_task(3)
    row = reader._window_maker()(qs[0], ps[0], 0)[0]
    idx = torch.tensor([row["ids"]])
    with torch.no_grad():
        ref = model(input_ids=idx, token_type_ids=torch.tensor([row["segment"]]))
    batch = {"idx": idx, "mask": torch.ones_like(idx, dtype=torch.bool),
             "segment": torch.tensor([row["segment"]])}
    with torch.no_grad():
        logits, _ = reader.model_(**batch)
    torch.testing.assert_close(logits[0, :, 0], ref.start_logits[0], atol=1e-5, rtol=0)
    torch.testing.assert_close(logits[0, :, 1], ref.end_logits[0], atol=1e-5, rtol=0)
    assert len(reader.predict(qs, ps)) == 3
    with pytest.raises(ValueError, match=r"holds an encoder without a question answering "
                                         r"layer .* fine-tune it with "
                                         r"ExtractiveReader\(pretrained=DIR\)\.fit"):
        ExtractiveReader.from_pretrained(bert_dir, max_len=24, max_question_words=6)
    with pytest.raises(ValueError, match=r"^word_vectors and pretrained cannot be combined"):
        ExtractiveReader(pretrained=bert_dir, word_vectors="x.kv").fit(qs, ps, _span_task(3)[2])


def test_a_pretrained_reader_exports_to_a_question_answering_directory(bert_dir, tmp_path):
    """save_pretrained / ``hybridnlp export --to hf``: transformers' own
    AutoModelForQuestionAnswering and AutoTokenizer read it and give the reader's start / end
    logits on the same window; from_pretrained reads it back with the same answers."""
    from hybridnlp.cli import main
    from hybridnlp.qa import ExtractiveReader

    qa_dir = shutil.copytree(bert_dir, tmp_path / "qa")
    torch.manual_seed(1)
    transformers.BertForQuestionAnswering(
        transformers.BertConfig.from_pretrained(qa_dir)).save_pretrained(qa_dir)
    reader = ExtractiveReader.from_pretrained(qa_dir, max_len=24, max_question_words=6)
    reader.save(tmp_path / "reader")
    assert main(["export", str(tmp_path / "reader"), "--to", "hf",
                 "--output", str(tmp_path / "hf")]) == 0
    model = transformers.AutoModelForQuestionAnswering.from_pretrained(tmp_path / "hf").eval()
    tok = transformers.AutoTokenizer.from_pretrained(tmp_path / "hf")
    qs, ps, _ = _span_task(3)
    row = reader._window_maker()(qs[0], ps[0], 0)[0]
    enc = tok(qs[0], ps[0], truncation="only_second", max_length=24)
    assert enc["input_ids"][:len(row["ids"])] == row["ids"][:len(enc["input_ids"])]
    idx = torch.tensor([row["ids"]])
    with torch.no_grad():
        ref = model(input_ids=idx, token_type_ids=torch.tensor([row["segment"]]))
        logits, _ = reader.model_(idx=idx, mask=torch.ones_like(idx, dtype=torch.bool),
                                  segment=torch.tensor([row["segment"]]))
    torch.testing.assert_close(logits[0, :, 0], ref.start_logits[0], atol=1e-5, rtol=0)
    torch.testing.assert_close(logits[0, :, 1], ref.end_logits[0], atol=1e-5, rtol=0)
    again = ExtractiveReader.from_pretrained(tmp_path / "hf", max_len=24, max_question_words=6)
    assert [(s.start, s.end) for s in again.predict(qs, ps)] == [
        (s.start, s.end) for s in reader.predict(qs, ps)]
