"""``TransformerClassifier``: a Transformer encoder, trained from scratch or fine-tuned from
a local pretrained checkpoint, as a scikit-learn classifier."""

from __future__ import annotations

import numpy as np
import torch

from hybridnlp.estimators._classifier import LogitTemperature, TextClassifierMixin
from hybridnlp.estimators._encoders import check_fit
from hybridnlp.estimators._transformer_base import _TransformerEstimator
from hybridnlp.neural import accuracy, holdout_split
from hybridnlp.utils.class_weight import class_weights
from hybridnlp.utils.multilabel import check_texts_multilabel, is_multilabel
from hybridnlp.utils.validation import check_sample_weight, check_texts_labels

__all__ = ["TransformerClassifier"]


class TransformerClassifier(LogitTemperature, TextClassifierMixin, _TransformerEstimator):
    """Text classifier: tokenizer + Transformer encoder + linear head, trained with ``Trainer``.

    The parameters shared by every neural estimator (budgets, validation, device, checkpoints,
    ``optimizer__*``, ``trainer__*``, ``module__*``) are those of
    :mod:`hybridnlp.neural.base`; their defaults here are below.

    Parameters
    ----------
    tokenizer : {"word", "bpe", "char"} or Tokenizer, default="word"
        The vocabulary kind, trained on the training texts in ``fit``; a trained Tokenizer
        instance is used as is. (A segmenter name here is the old spelling of
        ``segmenter=``: it warns for one release.)
    segmenter : str or callable, optional
        How "word" splits words: a word segmenter (``"jieba"``, a name registered with
        ``hybridnlp.text.register_segmenter``, or a callable text -> words); default the
        shared script-aware splitter.
    vocab_size : int, default=30000
        Most words kept ("word") or BPE vocabulary size ("bpe").
    min_freq : int, default=1
        Words seen fewer times become ``<unk>`` ("word").
    pretrained : path, optional
        A local Hugging Face or sentence-transformers model directory (BERT, RoBERTa,
        DistilBERT, MiniLM ...) to fine-tune instead of training from scratch: its own
        tokenizer and encoder (``tokenizer``, ``vocab_size``, ``min_freq``, ``preset`` are then
        unused), the pooled hidden states (``module__pooling``: the directory's
        sentence-transformers pooling, else ``"cls"``; also "mean", "max") into the head
        (``module__head_dropout``, 0.1). Nothing is downloaded; the fitted classifier saves,
        loads and pickles without the directory. ``max_len`` may not exceed the model's
        limit.
    layer_decay : float, optional
        With ``pretrained``: layer-wise learning-rate decay (e.g. 0.9: each layer below the
        head learns 0.9 times as fast as the one above; the embeddings slowest).
    init_from : CausalLM or path, optional
        The project's own GPT, pretrained on unlabelled text (a fitted ``CausalLM`` or the
        directory of ``CausalLM.save``), fine-tuned as the classifier (GPT-1 / ULMFiT):
        its tokenizer, its causal blocks, the last real token's hidden state
        (``module__pooling="last"``, or "mean") into the head. ``max_len`` may not exceed its
        ``block_size``.
    lm_weight : float, default=0.0
        With ``init_from``: the LM loss on the training texts, times this, joins the
        classification loss (Radford et al. 2018 used 0.5).
    preset : {"tiny", "small", "base", "bert-base"}, default="small"
        Size of the encoder ("small": 1 layer, 4 heads, 128 wide, embedding and head dropout
        0.3); ``module__*`` parameters (``EncoderConfig``: n_layer, n_head, n_embd, dropout,
        pooling ...) override single fields.
    max_len : int, default=128
        Tokens per text (a leading ``<bos>`` included); longer texts are truncated, with one
        warning per call saying how many.
    truncation : {"head", "head_tail"}, default="head"
        Which tokens of a longer text are kept: the first ones, or the first quarter and the
        last three quarters of ``max_len`` (for long documents whose conclusion is at the
        end, such as reviews).
    max_epochs : int, default=20
    max_steps : int, optional
        Optimizer steps, at most.
    batch_size : int, default=32
    max_time : float, optional
        Training time budget in seconds.
    validation_fraction : float, default=0.1
        Held out (stratified) for early stopping when ``fit`` gets no ``validation_data``;
        0 trains on everything for ``max_epochs``.
    patience : int or None, default=3
        Epochs without improvement of the monitored validation metric (accuracy, unless
        ``trainer__monitor="val_loss"``) before stopping; the best weights are restored.
    class_weight : "balanced", dict or None
        Each text's weight in the loss times its class's ("balanced": n_texts / (n_classes
        x the class's count), as scikit-learn's).
    calibrate : bool, default=False
        Fit a temperature to the logits on the validation texts after training
        (``temperature_``); ``predict_proba`` divides the logits by it, ``predict`` is
        unchanged. Needs validation texts (``validation_data``, or ``validation_fraction``
        with ``patience``).

    word_vectors : path, Word2VecFeatures, gensim KeyedVectors or None
        (``embedding_init=`` before; it warns for one release.) Initialise the token
        embeddings of words that have a word2vec vector (e.g. vectors
        pretrained on unlabelled text, saved with ``hybridnlp.features.save_word_vectors``;
        a path names a word2vec-format file, text or binary). Their size
        must be the module's ``n_embd``.
    precision : {"auto", "bf16", "fp32"}, default="auto"
    device : str, default="auto"
        cuda, then mps, then cpu.
    warm_start : bool, default=False
        Keep the tokenizer and weights of a previous ``fit`` and continue training them.
    checkpoint_dir : path, optional
        Save the tokenizer and a training checkpoint (safetensors + JSON) after every epoch;
        ``fit(X, y, resume=True)`` with the same data and an int ``random_state`` continues an
        interrupted fit where it stopped.
    callbacks : list of hybridnlp.train.Callback, optional
        Hooks called by the Trainer (``on_epoch_end`` ...).
    random_state : int, RandomState or None
        With an int, refitting on CPU gives identical predictions.
    verbose : int, default=0
        1 shows a progress bar per epoch.
    optimizer__lr, optimizer__weight_decay, optimizer__betas, optimizer__eps
        AdamW: None (1e-3 from scratch, 5e-5 with ``pretrained``, Devlin et al.'s fine-tuning
        range), 0.01 (matrices only), (0.9, 0.999), 1e-8.
    trainer__warmup, trainer__min_lr_ratio, trainer__schedule
        Warmup (0.1: a share of the steps if < 1, else steps), then "cosine" decay to 0.1 of
        the rate.
    trainer__grad_clip, trainer__grad_accum : 1.0, 1
    trainer__monitor : {"val_accuracy", "val_loss"}, default="val_accuracy"
    trainer__compile : bool or dict, default=False
        ``torch.compile`` the forward (for GPUs).
    **kwargs
        ``module__<field>`` of ``EncoderConfig``.

    Attributes
    ----------
    classes_ : ndarray
    tokenizer_ : Tokenizer
    model_ : SequenceClassifier or PretrainedSequenceClassifier
    history_ : History
    n_truncated_ : int
        Training texts cut to ``max_len``.

    Examples
    --------
    >>> clf = TransformerClassifier(module__n_layer=1, max_epochs=5, random_state=0)
    >>> clf.fit(texts, labels).predict(["a gripping film"])   # doctest: +SKIP
    """

    _metrics = {"accuracy": accuracy}

    def __init__(self, *, class_weight=None, calibrate=False, trainer__monitor="val_accuracy",
                 **kwargs):
        self.class_weight = class_weight
        self.calibrate = calibrate
        super().__init__(trainer__monitor=trainer__monitor, **kwargs)

    def __setstate__(self, state: dict) -> None:
        super().__setstate__({"calibrate": False, **state})  # pickled before it existed

    def fit(self, X, y, sample_weight=None, *, validation_data=None, resume=False):
        """Train on texts ``X`` and labels ``y``. Returns self.

        Parameters
        ----------
        sample_weight : array (n_texts,), optional
            Each text's weight in the loss (an integer weight counts it that many times;
            combined with ``class_weight`` as scikit-learn combines them).
        validation_data : (texts, labels), optional
            Used for early stopping instead of a split of the training data.
        resume : bool, default=False
            Continue from the checkpoint in ``checkpoint_dir`` (same X, y and random_state).
        """
        self._check_params()
        multilabel = is_multilabel(y)
        self._check_calibration(validation_data is not None or (
            self.patience is not None and bool(self.validation_fraction)), multilabel)
        check_fit(self)
        if multilabel:  # y_idx: the boolean indicator matrix
            texts, y_idx, classes = check_texts_multilabel(X, y)
        else:
            texts, y = check_texts_labels(X, y)
            classes = np.unique(y)
        w = check_sample_weight(sample_weight, len(texts))
        seed = self._seed()
        continuing = self.warm_start and hasattr(self, "model_")
        if continuing:
            self._check_warm_classes(classes, multilabel)
        else:
            self.classes_, self.multilabel_ = classes, multilabel
        val = None
        if multilabel:
            if validation_data is not None:
                val_texts, val_y, _ = check_texts_multilabel(
                    *validation_data, require_words=False, classes=self.classes_)
                val = (val_texts, val_y)
        else:
            y_idx = np.searchsorted(self.classes_, y)
            self._class_weights(y_idx)  # checked now, applied below
            if validation_data is not None:
                _, _, val_texts, val_y, _ = holdout_split(texts, y_idx, self.classes_,
                                                          validation_data, None, seed)
                val = (val_texts, val_y)
        self._fit_module(texts, y_idx, val, seed, continuing, resume, w)
        return self

    def _n_outputs(self) -> int:
        return len(self.classes_)

    def _before_training(self, train_y) -> None:
        if not self._is_multilabel:  # a multi-label head's loss takes no class weights
            self.model_.class_weight.copy_(self._class_weights(train_y))

    def _class_weights(self, y_idx: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(class_weights(self.class_weight, self.classes_, y_idx),
                               dtype=torch.float32)

    def _after_training(self, val_texts, val_y) -> None:
        self._fit_calibration(val_texts, val_y)

    def _class_logits(self, texts) -> torch.Tensor:
        return self._logits(texts)

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, shape (n_texts, n_classes), columns in ``classes_`` order;
        float64, as scikit-learn's (float32 rows sum to 1 only within 1e-7, and
        ``sklearn.metrics.log_loss`` warns about them); divided by ``temperature_`` with
        ``calibrate``. Multi-label: each label's sigmoid probability."""
        return self._scaled_proba(self._logits(X))

    def decision_function(self, X) -> np.ndarray:
        """Logits; for two classes, the logit of ``classes_[1]`` minus that of ``classes_[0]``."""
        logits = self._logits(X).numpy()
        if logits.shape[1] == 2 and not self._is_multilabel:
            return logits[:, 1] - logits[:, 0]
        return logits

    def predict(self, X) -> np.ndarray:
        return self._labels_of(self.predict_proba(X))
