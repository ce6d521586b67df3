import numpy as np
import pytest

from hybridnlp.experiments.slices import slice_accuracy, worst_slice


def test_slices_by_hand():
    texts = ["a", "a b", "a b c", "a b c d", "x y", "a z"]
    y = np.array([0, 0, 1, 1, 1, 0])
    pred = np.array([0, 1, 1, 1, 0, 0])
    vocab = [{"a", "b", "c", "d"}] * 6
    out = slice_accuracy(texts, y, pred, train_vocabularies=vocab,
                         metadata={"source": ["web", "web", "news", "news", "web", "news"]})
    assert list(out) == ["length", "class", "unseen words", "source"]
    # word counts 1, 2, 3, 4, 2, 2: quartiles 2, 2, 2.75 -> edges 2 and 3
    assert out["length"] == {"1-2 words": {"n": 4, "accuracy": 0.5},
                             "3 words": {"n": 1, "accuracy": 1.0},
                             "over 3 words": {"n": 1, "accuracy": 1.0}}
    assert out["class"] == {"0": {"n": 3, "accuracy": 2 / 3}, "1": {"n": 3, "accuracy": 2 / 3}}
    assert out["unseen words"] == {"no unseen words": {"n": 4, "accuracy": 0.75},
                                   "over 25% unseen": {"n": 2, "accuracy": 0.5}}
    assert out["source"] == {"news": {"n": 3, "accuracy": 1.0},
                             "web": {"n": 3, "accuracy": 1 / 3}}
    assert worst_slice(out, min_texts=3) == ("source", "web", {"n": 3, "accuracy": 1 / 3})
    assert worst_slice(out, min_texts=7) is None
    # a number with many values is cut into quartiles
    many = slice_accuracy([f"w{i}" for i in range(12)], np.zeros(12), np.zeros(12),
                          metadata={"stars": np.arange(12.0)})
    assert list(many["stars"]) == ["quartile 1", "quartile 2", "quartile 3", "quartile 4"]
    assert sum(r["n"] for r in many["stars"].values()) == 12
    assert "unseen words" not in many
    assert many["class"] == {"0.0": {"n": 12, "accuracy": pytest.approx(1.0)}}
