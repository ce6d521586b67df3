"""Helpers shared across layers: input validation."""

from hybridnlp.utils.validation import check_labels, check_texts, check_texts_labels

__all__ = ["check_labels", "check_texts", "check_texts_labels"]
