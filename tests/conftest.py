"""Shared fixtures: small, seeded slices of real bundled data."""

import json
import os
from pathlib import Path

import numpy as np
import pytest

from hybridnlp.datasets import load_dataset


@pytest.fixture(scope="session")
def mr_small():
    """200 MR sentences (100 per class), drawn with a fixed seed, and their string labels."""
    mr = load_dataset("mr")
    rng = np.random.RandomState(0)
    neg = rng.choice(np.flatnonzero(mr.target == 0), 100, replace=False)
    pos = rng.choice(np.flatnonzero(mr.target == 1), 100, replace=False)
    idx = rng.permutation(np.concatenate([neg, pos]))
    texts = [mr.data[i] for i in idx]
    labels = np.array(mr.target_names)[mr.target[idx]]
    return texts, labels


@pytest.fixture(scope="session")
def trec_small():
    """300 TREC training questions over the 6 coarse classes."""
    trec = load_dataset("trec", split="train")
    idx = np.random.RandomState(0).choice(len(trec.data), 300, replace=False)
    return [trec.data[i] for i in idx], np.array(trec.target_names)[trec.target[idx]]


def data_dir_available() -> bool:
    return bool(os.environ.get("HYBRIDNLP_DATA")) and os.path.isdir(os.environ["HYBRIDNLP_DATA"])


requires_data_dir = pytest.mark.skipif(
    not data_dir_available(),
    reason="HYBRIDNLP_DATA is not set to the shared data directory (make test sets it)",
)


def cli_error(argv, capsys) -> str:
    """Run the CLI on ``argv``, which must exit with status 2 and one line of error, never a
    traceback; returns that line."""
    from hybridnlp.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("\n") == 1, err
    return err


@pytest.fixture(scope="session")
def chinese_toy():
    """A Chinese sentiment toy from a seeded grammar: 300 training and 200 test sentences,
    written without spaces (as Chinese is), labels "pos"/"neg"."""
    rng = np.random.RandomState(0)
    subjects = ["这部电影", "这家餐厅", "他们的服务", "这本书", "演员的表演", "这个酒店", "音乐",
                "剧情", "菜的味道", "这次旅行"]
    degrees = ["非常", "很", "特别", "真", "十分", "太", ""]
    good = ["精彩", "出色", "好吃", "满意", "棒", "感人", "舒服", "有趣"]
    bad = ["糟糕", "无聊", "难吃", "失望", "差", "乏味", "吵闹", "拖沓"]
    good_end = ["，下次还来", "，推荐给大家", "，值得一看", ""]
    bad_end = ["，不会再来", "，浪费时间", "，后悔了", ""]
    marks = ["！", "。", "", "！！"]

    def sentence(label):
        words, ends = (good, good_end) if label == "pos" else (bad, bad_end)
        pick = lambda options: options[rng.randint(len(options))]  # noqa: E731
        return (pick(subjects) + pick(degrees) + pick(words) + pick(ends) + pick(marks))

    labels = np.array(["pos", "neg"])[rng.randint(2, size=500)]
    texts = [sentence(label) for label in labels]
    return (texts[:300], labels[:300]), (texts[300:], labels[300:])


# ---------------------------------------------------------------------- configs

EXPERIMENTS = sorted((Path(__file__).parents[1] / "experiments").glob("*.yaml"))


BASE = {"name": "t", "task": "classification", "data": {"name": "mr", "limit": 300},
        "models": [{"type": "nbsvm"}], "evaluation": {"cv": 3}}


def _with(**changes):
    values = json.loads(json.dumps(BASE))
    for key, value in changes.items():
        node = values
        *head, last = key.split(".")
        for part in head:
            node = node[int(part)] if isinstance(node, list) else node[part]
        node[last] = value
    return values
