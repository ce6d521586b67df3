"""The dense passage retriever: cosine of TF-IDF-weighted mean word vectors (word2vec trained
on the passages, or given vectors), or of a local pretrained encoder's sentence embeddings;
saved as ``index.npz`` + JSON (nothing is unpickled)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from hybridnlp.qa.retrievers import _read_index, _Retriever
from hybridnlp.utils.io import atomic_path, atomic_write_json
from hybridnlp.utils.saved_arrays import checked_array
from hybridnlp.utils.validation import check_fitted, check_number

__all__ = ["DenseRetriever"]


class DenseRetriever(_Retriever):
    """Cosine similarity of TF-IDF-weighted mean word vectors: skip-gram word2vec trained on
    the passages in ``fit`` (``Word2VecFeatures``), or given vectors (``word_vectors``: a
    word2vec file or gensim ``KeyedVectors``). Queries whose words are all unknown score 0
    everywhere. The defaults (skip-gram, TF-IDF pooling, 200 dimensions, 30 epochs) were the
    best of those tried on the SQuAD training passages (benchmarks/RESULTS.md, "Question
    answering").

    ``pretrained``: a local sentence-transformers (or Hugging Face) directory instead; the
    passages and queries are embedded by it, frozen (``SentenceEmbeddingFeatures``, unit
    length), and the word-vector parameters are unused. Passages longer than the model's
    ``max_seq_length`` are cut there. ``verbose``: a progress bar (standard error) over the
    word2vec epochs or the batches embedded."""

    _renamed = {"embeddings": "word_vectors"}  # the old name warns for one release

    def __init__(self, *, vector_size: int = 200, epochs: int = 30, sg: int = 1,
                 pooling: str = "tfidf", min_count: int = 1, word_vectors=None,
                 pretrained=None, batch_size: int = 32, random_state=None, verbose=0):
        self.vector_size = vector_size
        self.epochs = epochs
        self.sg = sg
        self.pooling = pooling
        self.min_count = min_count
        self.word_vectors = word_vectors
        self.pretrained = pretrained
        self.batch_size = batch_size
        self.random_state = random_state
        self.verbose = verbose

    def _check_params(self) -> None:
        if self.pretrained is not None and self.word_vectors is not None:
            raise ValueError("word_vectors and pretrained (an encoder directory) "
                             "cannot be combined; pass one of them.")
        check_number("batch_size", self.batch_size, int, low=1)

    def _encoder(self):
        if self.pretrained is not None:
            from hybridnlp.pretrained import SentenceEmbeddingFeatures

            return SentenceEmbeddingFeatures(pretrained=self.pretrained, normalize=True,
                                             batch_size=self.batch_size, verbose=self.verbose)
        from hybridnlp.features import Word2VecFeatures

        return Word2VecFeatures(
            vector_size=self.vector_size, epochs=self.epochs, sg=self.sg,
            pooling=self.pooling, min_count=self.min_count, word_vectors=self.word_vectors,
            norm="l2", random_state=self.random_state, verbose=self.verbose)

    def _index(self, texts):
        self.encoder_ = self._encoder()
        self.matrix_ = self.encoder_.fit_transform(texts).astype(np.float32)

    def _scores(self, queries):
        return self.encoder_.transform(queries).astype(np.float32) @ self.matrix_.T

    def save(self, path: str | os.PathLike) -> None:
        """Write ``index.npz`` (the passage embeddings, and for word vectors their IDF
        weights), the word vectors in binary word2vec format (``vectors.bin``; for a
        pretrained encoder, the fingerprint of the directory it loads from instead) and
        ``config.json`` into the directory ``path``."""
        from hybridnlp.features import save_word_vectors

        check_fitted(self, "n_passages_")
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        arrays = {"matrix": self.matrix_}
        meta = self._meta()
        if self.pretrained is not None:
            meta["fingerprint"] = self.encoder_.fingerprint_
        else:
            save_word_vectors(self.encoder_.vectors_, path / "vectors.bin")
            arrays["idf"] = self.encoder_.idf_
        with atomic_path(path / "index.npz") as tmp:
            with open(tmp, "wb") as f:
                np.savez(f, **arrays)
        atomic_write_json(path / "config.json", meta)

    @classmethod
    def load(cls, path: str | os.PathLike) -> DenseRetriever:
        """Read a retriever written by ``save`` (nothing is unpickled; a pretrained encoder is
        loaded again from its directory, which must be the one the index was built with)."""
        from hybridnlp.features import load_word_vectors

        path = Path(path)
        meta = cls._read_meta(path)
        model = cls._from_meta(path, meta)
        arrays = _read_index(path / "index.npz")
        what = str(path / "index.npz")
        model.matrix_ = checked_array(arrays.get("matrix"), what=f"{what}: matrix", ndim=2)
        model._check_rows(path, model.matrix_.shape[0])
        encoder = model._encoder()
        if model.pretrained is not None:
            encoder.fit()
            if encoder.fingerprint_ != meta.get("fingerprint"):
                raise ValueError(f"{str(path)!r} was indexed with another version of the "
                                 f"encoder {str(model.pretrained)!r} (its files changed); "
                                 f"index the passages again.")
        else:
            vectors = load_word_vectors(path / "vectors.bin", binary=True)
            idf = checked_array(arrays.get("idf"), what=f"{what}: idf",
                                shape=(len(vectors.index_to_key),))
            encoder._restore(vectors, idf)
        width = encoder.n_features_out_
        if model.matrix_.shape[1] != width:
            raise ValueError(f"{what}: passage embeddings of {model.matrix_.shape[1]} "
                             f"dimensions, but the encoder gives {width}; the files come from "
                             f"different retrievers.")
        model.encoder_ = encoder
        return model
