"""The training loop shared by every neural model, with its callbacks, schedule and checkpoints.
Knows nothing of GPT or classification."""

from hybridnlp.train.callbacks import Callback, History, LambdaCallback
from hybridnlp.train.checkpoint import load_checkpoint, save_checkpoint
from hybridnlp.train.data import Batches, BucketBatchSampler, pad_sequences
from hybridnlp.train.optim import OptimizerChain
from hybridnlp.train.schedule import cosine_lr
from hybridnlp.train.trainer import Trainer

__all__ = [
    "Batches",
    "BucketBatchSampler",
    "Callback",
    "History",
    "LambdaCallback",
    "OptimizerChain",
    "Trainer",
    "cosine_lr",
    "load_checkpoint",
    "pad_sequences",
    "save_checkpoint",
]
