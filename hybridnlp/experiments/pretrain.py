"""A config's ``pretrain`` section: unsupervised training on unlabelled text, done once per run
before any model, whose output (a file in ``RUN_DIR/pretrain``) model parameters receive as
``{pretrained: NAME}``. A resumed run reuses what its first attempt trained."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from hybridnlp.experiments.config import (
    CausalLMPretrainConfig,
    ExperimentConfig,
    Word2VecPretrainConfig,
    causal_lm_of,
)
from hybridnlp.experiments.run_state import Progress
from hybridnlp.experiments.task import reading_data
from hybridnlp.utils.io import read_file_bytes

__all__ = ["corpus_texts", "pretrain"]

logger = logging.getLogger("hybridnlp.experiments")


def corpus_texts(corpus: list[str], data_home=None) -> list[str]:
    """The texts of ``corpus`` entries: data set names (every split), ``NAME:SPLIT``, or text
    files with one text per line (``.txt`` or ``.txt.gz``). Labels are not read. A file that
    cannot be read is a :class:`~hybridnlp.exceptions.DataError` naming the entry."""
    texts: list[str] = []
    for i, entry in enumerate(corpus):
        with reading_data(f"pretraining corpus[{i}]"):
            texts.extend(_corpus_entry(entry, data_home))
    return texts


def _corpus_entry(entry: str, data_home) -> list[str]:
    from hybridnlp.datasets import DATASETS, load_dataset

    name, _, split = entry.partition(":")
    if name in DATASETS:
        return list(load_dataset(name, split=split or None, data_home=data_home).data)
    path = Path(entry)
    if not path.is_file():
        raise FileNotFoundError(f"pretraining corpus file {entry!r} does not exist; name a "
                                f"data set or a local text file with one text per line.")
    try:
        text = read_file_bytes(path).decode("utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(f"pretraining corpus file {entry!r} is not UTF-8 text (byte "
                         f"{err.start}); save it as UTF-8.") from None
    return [line for line in text.split("\n") if line.strip()]


def _word2vec(spec: Word2VecPretrainConfig, config: ExperimentConfig, path: Path) -> dict:
    from hybridnlp.features import Word2VecFeatures, save_word_vectors

    start = time.perf_counter()
    texts = corpus_texts(spec.corpus, config.data.data_home)
    w2v = Word2VecFeatures(vector_size=spec.vector_size, window=spec.window,
                           min_count=spec.min_count, sg=spec.sg, epochs=spec.epochs,
                           workers=spec.workers, random_state=config.seed)
    w2v.fit(texts)
    save_word_vectors(w2v, path)
    info = {"path": path.name, "corpus": list(spec.corpus), "n_texts": len(texts),
            "vocabulary": len(w2v.vectors_), "vector_size": spec.vector_size,
            "method": "skip-gram" if spec.sg else "CBOW", "epochs": spec.epochs,
            "time": time.perf_counter() - start}
    logger.info("pretrained word2vec: %s", info)
    return info


def _causal_lm(spec: CausalLMPretrainConfig, config: ExperimentConfig, path: Path) -> dict:
    start = time.perf_counter()
    texts = corpus_texts(spec.corpus, config.data.data_home)
    lm = causal_lm_of(spec, config.seed).fit(texts)
    lm.save(path)  # whole, then renamed into place: a reader never sees half a model
    info = {"path": path.name, "corpus": list(spec.corpus), "n_texts": len(texts),
            "tokens": int(lm.n_train_tokens_),
            "preset": spec.preset, "tokenizer": spec.tokenizer, "val_loss": lm.val_loss_,
            "steps": int(lm.history_[-1]["step"]) if lm.history_ else 0,
            "time": time.perf_counter() - start}
    logger.info("pretrained causal LM: %s", info)
    return info


def pretrain(config: ExperimentConfig, run_dir: Path) -> tuple[dict, dict]:
    """Train each configured section once (reused on resume). Returns (name -> path for the
    model parameters, name -> what was trained, for metrics.json)."""
    done = Progress(run_dir)
    paths, infos = {}, {}
    trainers = {"word2vec": (_word2vec, "word2vec.bin"), "causal_lm": (_causal_lm, "causal_lm")}
    for name, (train, filename) in trainers.items():
        spec = getattr(config.pretrain, name)
        if spec is None:
            continue
        path = run_dir / "pretrain" / filename
        info = done.get(f"pretrain-{name}")
        if info is None or not path.exists():
            info = train(spec, config, path)
            done.put(f"pretrain-{name}", info)
        paths[name], infos[name] = str(path), info
    return paths, infos
