"""save_model / load_model: every model the project saves loads, and a crafted file runs no code.

The payloads are skops files written by hand, as an attacker would: each rebuilds an attribute
through a callable that, on main before the exact allow-list, ran on ``load_model``.
"""

import json
import re
import subprocess
import sys
import zipfile

import numpy as np
import pytest
from conftest import _with
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from skops.io import _general as skops_general

from hybridnlp import load_dataset
from hybridnlp.experiments import build_model, run
from hybridnlp.features import TopicFeatures, Word2VecFeatures
from hybridnlp.persistence import allowed_type_names, allowed_types, load, save


def _json_node(value) -> dict:
    return {"__class__": type(value).__name__, "__module__": "builtins",
            "__loader__": "JsonNode", "content": json.dumps(value), "is_json": True}


def _dict_node(content: dict) -> dict:
    key_type = {"__class__": "str", "__module__": "builtins", "__loader__": "TypeNode"}
    return {"__class__": "dict", "__module__": "builtins", "__loader__": "DictNode",
            "content": content,
            "key_types": {"__class__": "list", "__module__": "builtins",
                          "__loader__": "ListNode", "content": [key_type] * len(content)}}


def _call_node(module: str, name: str, *args) -> dict:
    """What skops writes for ``obj`` whose ``__reduce__`` is ``(type(obj), args)``; on load it
    calls ``module.name(*args)``."""
    content = []
    for a in args:
        if isinstance(a, dict):  # an empty dict (runstring's namespace)
            content.append(_dict_node({}))
        else:
            content.append(_json_node(a))
    return {"__class__": name, "__module__": module, "__loader__": "ConstructorFromReduceNode",
            "content": {"__class__": "tuple", "__module__": "builtins",
                        "__loader__": "TupleNode", "content": content}}


def _write_payload(model_dir, node) -> None:
    """A model directory as ``save`` writes it, whose skops file is a fitted-looking
    dict with one attribute rebuilt by ``node``."""
    model_dir.mkdir()
    schema = {**_dict_node({"coef_": node}), "protocol": 2, "_skops_version": "0.16.0"}
    with zipfile.ZipFile(model_dir / "model.skops", "w") as zf:
        zf.writestr("schema.json", json.dumps(schema))
    (model_dir / "model.json").write_text(json.dumps({"kind": "skops", "class": "dict"}))


def _payloads(marker):
    m = str(marker)
    return {
        "builtins.eval": _call_node("builtins", "eval", f"open({m!r}, 'w').write('x')"),
        "builtins.exec": _call_node("builtins", "exec", f"open({m!r}, 'w').write('x')"),
        "numpy.testing._private.utils.runstring": _call_node(
            "numpy.testing._private.utils", "runstring", f"open({m!r}, 'w').write('x')", {}),
        "builtins.open": _call_node("builtins", "open", m, "w"),
        "hybridnlp.utils.io.atomic_write_json": _call_node(
            "hybridnlp.utils.io", "atomic_write_json", m, "x"),
    }


# older skops (0.11, the floor) has no constructor-call node: it refuses the file as corrupt
# before the allow-list is consulted (nothing runs either way); newer skops reaches the list
_REFUSAL = (r"names types or functions outside the allow-list: \['{name}'\]; it was not "
            r"loaded" if hasattr(skops_general, "ConstructorFromReduceNode") else
            r"is corrupt: +Can't find loader ConstructorFromReduceNode for type {name}")


@pytest.mark.parametrize("name", list(_payloads("x")))
def test_a_crafted_model_file_is_refused_and_runs_nothing(tmp_path, name):
    marker = tmp_path / "written-by-the-payload"
    _write_payload(tmp_path / "model", _payloads(marker)[name])
    with pytest.raises(ValueError, match=_REFUSAL.format(name=re.escape(name))):
        load(tmp_path / "model")
    assert not marker.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_the_cli_refuses_a_crafted_model_without_a_traceback(tmp_path):
    marker = tmp_path / "written-by-the-payload"
    _write_payload(tmp_path / "model", _payloads(marker)["builtins.eval"])
    (tmp_path / "in.txt").write_text("a fine film\n")
    out = subprocess.run([sys.executable, "-m", "hybridnlp.cli", "predict",
                          str(tmp_path / "model"), "--input", str(tmp_path / "in.txt")],
                         capture_output=True, text=True)
    assert out.returncode == 2, out.stderr
    assert re.search(_REFUSAL.format(name="builtins.eval"), out.stderr)
    assert "Traceback" not in out.stderr
    assert not marker.exists()


def test_the_allow_list_is_exact_names_of_classes_only():
    names = allowed_type_names()
    assert all(isinstance(t, type) for t in allowed_types())
    assert "hybridnlp.features.tfidf.TfidfFeatures" in names
    assert "hybridnlp.features.TfidfFeatures" not in names  # a re-export is another name
    assert not any(n.startswith(("builtins.", "numpy.", "scipy.")) for n in names)
    assert "hybridnlp.utils.io.atomic_write_json" not in names


def test_every_model_the_project_saves_loads_and_predicts_the_same(tmp_path, mr_small):
    texts, y = mr_small
    quick = {"max_epochs": 1, "module__n_layer": 1, "module__n_embd": 32}
    models = {kind: build_model(kind, params) for kind, params in {
        "tfidf_lr": {}, "nbsvm": {}, "fasttext": {"max_epochs": 1},
        "transformer": {**quick, "tokenizer": "char"},
        "fusion": quick,
        "stacking": {"cv": StratifiedKFold(3, shuffle=True, random_state=0)},
        "ensemble": {"gating": True},
        "hybrid": {"transformer__max_epochs": 1, "transformer__preset": "tiny", "cv": 2},
    }.items()}
    models["bpe_transformer"] = build_model("transformer", {**quick, "tokenizer": "bpe",
                                                            "vocab_size": 300})
    models["word2vec"] = make_pipeline(Word2VecFeatures(vector_size=8, epochs=1, random_state=0),
                                       LogisticRegression())
    models["topics"] = make_pipeline(TopicFeatures(n_topics=3, random_state=0),
                                     LogisticRegression())
    for name, model in models.items():
        model.fit(texts, y)
        restored = load(save(model, tmp_path / name))
        assert type(restored) is type(model), name
        np.testing.assert_array_equal(restored.predict_proba(texts[:20]),
                                      model.predict_proba(texts[:20]), err_msg=name)
    ovr = build_model("nbsvm", {}).fit(texts, np.arange(len(texts)) % 3)  # a model per class
    restored = load(save(ovr, tmp_path / "nbsvm_ovr"))
    assert len(restored.estimators_) == 3
    np.testing.assert_array_equal(restored.predict_proba(texts[:20]), ovr.predict_proba(texts[:20]))


def test_saved_files_follow_the_umask_as_ordinary_files_do(tmp_path, mr_small):
    import os

    texts, y = mr_small
    old = os.umask(0o022)
    try:
        save(build_model("nbsvm", {}).fit(texts, y), tmp_path / "m")
        os.umask(0o077)
        save(build_model("nbsvm", {}).fit(texts, y), tmp_path / "private")
    finally:
        os.umask(old)
    modes = {p.name: p.stat().st_mode & 0o777 for p in (tmp_path / "m").iterdir()}
    assert modes == dict.fromkeys(["model.skops", "model.json", "config.json", "README.md"],
                                  0o644)
    assert {p.stat().st_mode & 0o777 for p in (tmp_path / "private").iterdir()} == {0o600}


_WRITER = """
import sys
from hybridnlp.lm import NGramLM
from hybridnlp.persistence import save
order, tokenizer, path, n = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
lm = NGramLM(order=order, tokenizer=tokenizer).fit("the cat sat on the mat. " * 20)
print("ready", flush=True)
for _ in range(n):
    save(lm, path)
"""


def test_a_reader_never_sees_a_mix_of_two_models_saved_to_one_folder(tmp_path):
    """Two processes save different models to one folder while this one loads it: every load
    is one model or the other, never one's tables with the other's tokenizer or config."""
    from hybridnlp.lm import NGramLM

    target = tmp_path / "lm"
    save(NGramLM(order=2, tokenizer="char").fit("the cat sat on the mat. " * 20), target)
    writers = [subprocess.Popen([sys.executable, "-c", _WRITER, str(order), tok, str(target),
                                 "150"], stdout=subprocess.PIPE, text=True)
               for order, tok in ((2, "char"), (3, "word"))]
    for w in writers:
        assert w.stdout.readline().strip() == "ready"
    seen = set()
    while any(w.poll() is None for w in writers):
        lm = load(target)
        kind = (lm.order, type(lm.tokenizer_).__name__, max(lm._scores.logp))
        assert kind in {(2, "CharTokenizer", 2), (3, "WhitespaceTokenizer", 3)}, kind
        seen.add(kind)
    assert all(w.wait() == 0 for w in writers)
    assert len(seen) == 2  # both models were read while the other was being written
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lm"]  # no temporary folder left


def test_saved_model_loads_in_a_fresh_process_and_predicts_identically(tmp_path):
    result = run(_with(output=str(tmp_path), **{"data.test_split": "test", "data.name": "sst2",
                                                "data.limit": 400}), quiet=True)
    model_dir = result.run_dir / "models" / "nbsvm"
    texts = list(load_dataset("sst2", split="test").data[:50])  # any texts
    expected = result.models["nbsvm"].predict_proba(texts)
    (tmp_path / "texts.json").write_text(json.dumps(texts))
    code = ("import json, numpy as np; from hybridnlp.persistence import load; "
            f"m = load({str(model_dir)!r}); "
            f"t = json.load(open({str(tmp_path / 'texts.json')!r})); "
            "print(json.dumps(m.predict_proba(t).tolist()))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert np.array_equal(np.array(json.loads(out)), expected)


def test_persistence_of_a_transformer_and_refusal_of_foreign_types(tmp_path):
    mr = load_dataset("mr")
    idx = np.random.default_rng(0).permutation(len(mr.data))[:200]
    X, y = [mr.data[i] for i in idx], mr.target[idx]
    clf = build_model("transformer", {"max_epochs": 1, "module__n_layer": 1}).fit(X, y)
    save(clf, tmp_path / "clf")
    assert np.array_equal(load(tmp_path / "clf").predict_proba(X), clf.predict_proba(X))
    for kind, params in (("stacking", {}), ("ensemble", {"gating": True}),
                         ("fusion", {"max_epochs": 1})):
        model = build_model(kind, params).fit(X, y)
        save(model, tmp_path / kind)
        restored = load(tmp_path / kind)
        assert type(restored) is type(model)
        assert np.array_equal(restored.predict_proba(X), model.predict_proba(X))
    import decimal

    import skops.io as sio

    sio.dump({"f": decimal.Decimal("1")}, tmp_path / "clf" / "model.skops")
    with pytest.raises(ValueError, match="names types or functions outside the allow-list: "
                                         "\\['decimal.Decimal'\\]; it was not loaded"):
        load(tmp_path / "clf")
    with pytest.raises(FileNotFoundError, match="holds no model"):
        load(tmp_path)
