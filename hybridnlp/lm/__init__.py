"""Language models: the GPT estimator ``CausalLM``, the Kneser-Ney ``NGramLM``, their mixture
``InterpolatedLM``, the generation engine, token streams, and GPT-2 checkpoint interop."""

from hybridnlp.lm._corpus import count_units, make_tokenizer, read_corpus, split_corpus
from hybridnlp.lm.causal_lm import CausalLM
from hybridnlp.lm.data import RandomWindows, SequentialWindows, encode_to_file, open_token_file
from hybridnlp.lm.decoding import Stepper, beam_search, process_logits, sample
from hybridnlp.lm.gpt2 import load_gpt2, save_gpt2
from hybridnlp.lm.interpolated import InterpolatedLM, fit_mixture_weight
from hybridnlp.lm.ngram import NGramLM

__all__ = [
    "CausalLM",
    "InterpolatedLM",
    "NGramLM",
    "RandomWindows",
    "SequentialWindows",
    "Stepper",
    "beam_search",
    "count_units",
    "encode_to_file",
    "fit_mixture_weight",
    "load_gpt2",
    "make_tokenizer",
    "open_token_file",
    "process_logits",
    "read_corpus",
    "sample",
    "save_gpt2",
    "split_corpus",
]
