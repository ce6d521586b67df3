"""Classical features: scikit-learn transformers on lists of texts."""

from hybridnlp.features._counting import NgramCounter, counter_for
from hybridnlp.features._ngrams import pipeline_proba, shared_counts
from hybridnlp.features._text_transformer import TextTransformer
from hybridnlp.features.nb import NBFeatures
from hybridnlp.features.pairs import PairFeatures
from hybridnlp.features.tfidf import TfidfFeatures
from hybridnlp.features.topics import TopicFeatures
from hybridnlp.features.word2vec import Word2VecFeatures, load_word_vectors, save_word_vectors

__all__ = ["NBFeatures", "NgramCounter", "PairFeatures", "TextTransformer", "TfidfFeatures",
           "TopicFeatures", "Word2VecFeatures", "counter_for", "load_word_vectors",
           "pipeline_proba", "save_word_vectors", "shared_counts"]
