"""Every Python block of the README runs on its own (each has its imports), on small slices.

The blocks are the README's text, executed; only the substitutions below shrink them to test
size (a 160-text sample of each labelled data set, one Transformer epoch and one 20% holdout
for a hybrid's held-out predictions, a 2-second LM budget),
so a renamed parameter or a missing import in the README fails here.
"""

import re
from pathlib import Path

import numpy as np
import pytest
from conftest import data_dir_available

import hybridnlp
from hybridnlp.datasets import load_dataset

README = Path(__file__).parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text("utf-8"), flags=re.S)
SHRINK = {  # README text -> test-size text
    "max_time=90": "max_time=2",
    "text[:1_003_854], text[1_003_854:]": "text[:100_000], text[100_000:200_000]",
    "HybridClassifier()": "HybridClassifier().set_params(transformer__max_epochs=1, cv=0.2)",
    "HybridClassifier(random_state=0)":
        "HybridClassifier(random_state=0).set_params(transformer__max_epochs=1, cv=0.2)",
    'HybridClassifier(word_vectors="imdb-128.bin")':
        'HybridClassifier(word_vectors="imdb-128.bin")'
        '.set_params(transformer__max_epochs=1, cv=0.2)',
    "module__n_layer=1, optimizer__lr=1e-3": "module__n_layer=1, optimizer__lr=1e-3, "
                                             "max_epochs=1",
    'Seq2SeqLM(max_time=2700, precision="bf16")':
        'Seq2SeqLM(preset="tiny", max_epochs=1, vocab_size=400, module__max_len=128)',
    "ShallowFusion(translator=mt, lm=NGramLM(order=4))":
        "ShallowFusion(translator=mt, lm=NGramLM(order=4), weights=(0, 0.2))",
    'HybridClassifier(segmenter="two_chars")':
        'HybridClassifier(segmenter="two_chars").set_params(transformer__max_epochs=1, cv=0.2)',
    "HybridClassifier(pretrained=model)":
        "HybridClassifier(pretrained=model).set_params(transformer__max_epochs=1, cv=0.2)",
    "max_epochs=3, patience=None": "max_epochs=1, patience=None",
    "max_time=600": "preset='gpt-nano', max_time=2",
    "HybridClassifier(n_jobs=-1, random_state=0)":
        "HybridClassifier(n_jobs=-1, random_state=0).set_params(transformer__max_epochs=1, cv=0.2)",
    "LocalCluster(n_workers=2)": "LocalCluster(n_workers=2, dashboard_address=None)",
}


def _small(name, split=None, **kw):
    """``load_dataset`` with at most 160 texts (a seeded sample; SQuAD: its first 60
    questions and their passages); text corpora unchanged."""
    bunch = load_dataset(name, split=split, **kw)
    if "passages" in bunch and len(bunch.data) > 60:
        for key in ("data", "target", "answer_starts", "ids", "passage_index"):
            if key in bunch:
                bunch[key] = bunch[key][:60]
        kept = sorted(set(np.asarray(bunch.passage_index).tolist()))
        new = {old: i for i, old in enumerate(kept)}
        bunch.passages = [bunch.passages[i] for i in kept]
        if "titles" in bunch:
            bunch.titles = [bunch.titles[i] for i in kept]
        bunch.passage_index = np.array([new[i] for i in np.asarray(bunch.passage_index)])
        return bunch
    if "target" not in bunch or len(bunch.data) <= 160 or "passages" in bunch:
        return bunch
    keep = np.sort(np.random.default_rng(0).choice(len(bunch.data), 160, replace=False))
    bunch.data = [bunch.data[i] for i in keep]
    bunch.target = bunch.target[keep]
    return bunch


def test_the_readme_has_python_blocks_and_the_substitutions_still_apply():
    assert len(BLOCKS) >= 5
    text = "".join(BLOCKS)
    assert all(key in text for key in SHRINK), [k for k in SHRINK if k not in text]


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_block_runs_on_its_own(index, tmp_path, monkeypatch, capsys):
    code = BLOCKS[index]
    if any(name in code for name in ("imdb", "chnsenticorp", "multi30k", "squad", "emobank",
                                     "goemotions", "stsb")) and not data_dir_available():
        pytest.skip("needs the data directory (IMDB, ChnSentiCorp, Multi30k, SQuAD, EmoBank, "
                    "GoEmotions, STS-B)")
    for old, new in SHRINK.items():
        code = code.replace(old, new)
    monkeypatch.chdir(tmp_path)  # files the examples write (vectors, models) land here
    if '"all-MiniLM-L6-v2"' in code:  # a tiny random BERT stands for the local model
        pytest.importorskip("transformers")
        from test_pretrained import _bert_dir

        _bert_dir(tmp_path / "all-MiniLM-L6-v2")
    monkeypatch.setattr(hybridnlp, "load_dataset", _small, raising=False)
    exec(compile(code, f"README.md block {index}", "exec"), {"__name__": "readme"})  # noqa: S102
    assert capsys.readouterr().out.strip()  # every block prints something
