"""The texts and labels of a config's data: a data set by name or a file, one split,
``data.limit`` applied; the tasks scored per example read them here."""

from __future__ import annotations

import numpy as np

from hybridnlp.experiments.config import ExperimentConfig
from hybridnlp.experiments.task import reading_data

__all__ = ["load_split"]


def load_split(config: ExperimentConfig, split: str | None, *, with_table: bool = False):
    """(texts, labels or None, label names) of one split of the config's data (``data.limit``
    applied); ``with_table``: and the DataFrame of ``data.text_column`` and
    ``data.feature_columns`` (None without feature columns)."""
    from hybridnlp.datasets import DATASETS, load_dataset, load_texts

    d = config.data
    if d.name is not None:
        info = DATASETS.get(d.name)
        if info is not None and not info.splits and split == d.train_split:
            split = None  # MR, Subj: one set, cross-validated
        with reading_data("data.name"):
            bunch = load_dataset(d.name, split=split, data_home=d.data_home)
        texts, target = bunch.data, bunch.target
        names = list(getattr(bunch, "target_names", None) or [])
    else:
        if split not in (None, d.train_split):
            raise ValueError(f"data.path gives one file; test_split={split!r} cannot be read "
                             f"from it. Set data.test_split to null for cross-validation.")
        with reading_data("data.path"):
            bunch = load_texts(d.path, text_column=d.text_column,
                               label_column=d.label_column,
                               feature_columns=d.feature_columns)
        texts, target = bunch.data, bunch.target
        names = list(getattr(bunch, "target_names", None) or [])
    table = getattr(bunch, "frame", None)
    if table is not None:
        table = table.assign(**{d.text_column: list(texts)})
    if d.limit is not None and d.limit < len(texts):  # a seeded sample, in corpus order
        keep = np.sort(np.random.default_rng(config.seed).choice(len(texts), d.limit,
                                                                 replace=False))
        texts = [texts[i] for i in keep]
        target = None if target is None else np.asarray(target)[keep]
        table = None if table is None else table.iloc[keep].reset_index(drop=True)
    out = list(texts), (None if target is None else np.asarray(target)), names
    return (*out, table) if with_table else out
