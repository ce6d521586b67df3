"""Data: the bundled real data sets, the larger ones from a data directory, and users' own files.

>>> from hybridnlp.datasets import load_dataset
>>> sst2 = load_dataset("sst2", split="train")
>>> len(sst2.data)
6920
"""

from hybridnlp.datasets._paths import DATA_ENV
from hybridnlp.datasets._registry import DATASETS, DatasetInfo, list_datasets, load_dataset
from hybridnlp.datasets.files import TextStream, load_texts

__all__ = ["DATASETS", "DATA_ENV", "DatasetInfo", "TextStream", "list_datasets", "load_dataset",
           "load_texts"]
