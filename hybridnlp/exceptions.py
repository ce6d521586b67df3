"""Exceptions raised by hybridnlp.

Every user-facing error is a ``ValueError`` or ``TypeError`` (or a subclass), so callers can catch
the built-in types; the subclasses here exist to be caught precisely.
"""

__all__ = [  # and scikit-learn's NotFittedError, re-exported below
    "ConfigError", "DataError", "DataNotFoundError", "DiskFullError", "HybridNLPError",
    "InUseError", "Interrupted", "NonFiniteLossError",
]


class HybridNLPError(Exception):
    """Base class of the errors defined by hybridnlp."""


class DataNotFoundError(HybridNLPError, FileNotFoundError):
    """A data set that is not bundled was asked for and its files were not found.

    The message names every directory searched and how to point hybridnlp at the data.
    """


class DataError(HybridNLPError, ValueError):
    """A run's data could not be read: a missing, truncated, oversized or malformed file; the
    message starts with the config key that named it (``data.path``, ``pretrain...corpus``)."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C (or SIGINT) during a long job; the message says what was kept and how to go
    on. A ``KeyboardInterrupt``, so code that stops on Ctrl-C still does."""


class NonFiniteLossError(HybridNLPError, FloatingPointError):
    """The training loss became NaN or infinite; the message names the step and where the last
    good checkpoint is."""


class ConfigError(HybridNLPError, ValueError):
    """An experiment config that does not match the schema, or a file that is not a config's
    YAML; the message starts with the key's path (``models[1].params.lr``) or the file."""


class DiskFullError(HybridNLPError, OSError):
    """A write ran out of space (or quota); the message names the folder. What was there
    before the write is intact (writes are atomic)."""


class InUseError(HybridNLPError, RuntimeError):
    """A checkpoint folder or run directory is held by another fit or run; the message names
    the process."""


def __getattr__(name: str):
    # scikit-learn's NotFittedError, re-exported; imported on first use (it costs a second)
    if name == "NotFittedError":
        from sklearn.exceptions import NotFittedError

        return NotFittedError
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
