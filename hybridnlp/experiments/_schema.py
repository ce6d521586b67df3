"""The experiment config's schema: one dataclass per section (``data``, ``models``,
``evaluation``, ``pretrain``, ``execution``), read and checked by :mod:`hybridnlp.experiments.
config`."""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass, field

BACKENDS = ("loky", "threading", "dask")
MAX_NAME_CHARS = 120  # a run's and a model's name become folder names (255 bytes at most)


@dataclass
class DataConfig:
    """Where the texts come from: a data set by ``name`` (``hybridnlp.datasets``) or a file
    by ``path`` with ``text_column`` / ``label_column``."""

    name: str | None = None
    path: str | None = None
    text_column: str = "text"
    label_column: str | None = "label"
    train_split: str = "train"
    test_split: str | None = None  # None: cross-validation on the train split
    limit: int | None = None  # quick runs: a seeded sample of N texts per split (LM: N chars;
    # translation: the first N pairs of each split)
    data_home: str | None = None
    source: str | None = None  # translation: the source and target languages (e.g. en, de)
    target: str | None = None
    # classification from a file: more columns (numbers, categories) for the models whose
    # text_column is set (the hybrids' meta learner reads them beside the texts)
    feature_columns: list | None = None


@dataclass
class SearchConfig:
    """A hyper-parameter search of one model (``experiments.search.OptunaSearch``): Optuna
    over ``params`` (name -> ``{low, high}``, with ``log: true`` or ``step``, or
    ``{choices: [...]}``), by ``cv``-fold cross-validation on the texts the model is fit on,
    for ``trials`` trials and/or ``timeout`` seconds, scored by ``metric`` (default: the
    task's main metric); the best parameters are refit."""

    params: dict
    trials: int | None = 20
    timeout: float | None = None
    cv: int = 3
    metric: str | None = None
    pruning: bool = True


@dataclass
class ModelConfig:
    """A registered model (``hybridnlp.experiments.MODELS``) and its parameters."""

    type: str
    name: str | None = None  # its label in reports; defaults to the type
    params: dict = field(default_factory=dict)
    search: SearchConfig | None = None

    def __post_init__(self):
        if self.name is None and isinstance(self.type, str):
            self.name = self.type  # set once here; validation changes nothing


@dataclass
class Word2VecPretrainConfig:
    """Word vectors trained on unlabelled text before any model (``Word2VecFeatures``), once
    per run; a model parameter ``{pretrained: word2vec}`` receives the file."""

    # data set names (every split, e.g. "imdb"), "name:split" (e.g. "wikitext2:train") or
    # text files (one text per line); never the experiment's own test texts
    corpus: list[str]
    vector_size: int = 128  # the width of TransformerClassifier's "small" encoder
    window: int = 5
    min_count: int = 3
    sg: int = 0  # 0: CBOW, 1: skip-gram
    epochs: int = 5
    workers: int = 1  # gensim threads; more than one is faster but not reproducible


@dataclass
class CausalLMPretrainConfig:
    """The project's GPT (``CausalLM``) trained on unlabelled text before any model, once per
    run; a model parameter ``{pretrained: causal_lm}`` receives its directory (e.g.
    ``init_from`` of a ``transformer``: GPT-1's recipe)."""

    corpus: list[str]  # as word2vec's; never the experiment's own test texts
    preset: str = "quick"
    tokenizer: str = "bpe"  # a classifier reads words: BPE rather than characters
    vocab_size: int = 8192
    block_size: int | None = 128  # the longest text (in tokens) the classifier reads
    max_time: float | None = 600.0  # seconds of training
    max_steps: int | None = None
    batch_size: int = 32
    params: dict = field(default_factory=dict)  # any other CausalLM parameter


@dataclass
class PretrainConfig:
    word2vec: Word2VecPretrainConfig | None = None
    causal_lm: CausalLMPretrainConfig | None = None


@dataclass
class EvaluationConfig:
    cv: int = 5  # folds when the data has no test split
    metrics: list[str] = field(default_factory=lambda: ["accuracy", "macro_f1"])
    per: str = "token"  # language modelling: perplexity per "token", "word" or "char"
    validation: float = 0.1  # language modelling: share held out when there is no dev split
    samples: int = 1  # language modelling: generated samples in the report
    prompt: str = ""
    max_new_tokens: int = 200
    top_words: int = 10  # topic modelling
    save_models: bool = True  # write each fitted model into the run directory
    # model name -> target of the task's main metric (accuracy, perplexity, coherence), shown
    # in reports as met or missed (perplexity: at most the target; the others: at least)
    targets: dict = field(default_factory=dict)


@dataclass
class ExecutionConfig:
    """Where a classification run's folds are fit: ``n_jobs`` folds at once on a joblib
    backend ("loky": processes on this machine; "threading"; "dask": a local
    ``dask.distributed`` cluster of ``n_jobs`` workers, or the scheduler given on the command
    line, ``hybridnlp run --scheduler ADDRESS``, or in ``$HYBRIDNLP_DASK_SCHEDULER``).

    A config never says where the program connects: Dask moves results with pickle, so a
    scheduler and its workers can run code in this process. ``address`` is refused at load.
    """

    backend: str = "loky"
    n_jobs: int = 1


@dataclass
class ExperimentConfig:
    name: str
    task: str
    data: DataConfig
    models: list[ModelConfig]
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)
    execution: ExecutionConfig = field(default_factory=ExecutionConfig)
    seed: int = 0
    output: str = "runs"
    description: str = ""

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _hint(key: str, options) -> str:
    close = difflib.get_close_matches(key, list(options), n=1, cutoff=0.6)
    return f" Did you mean {close[0]!r}?" if close else ""
