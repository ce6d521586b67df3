"""What a task asks of its data, checked when a config is loaded: a translation reads the
pairs of a translation data set in a direction it has; question answering reads a
SQuAD-format set; only translation has source and target languages."""

from __future__ import annotations

import contextlib

from hybridnlp.datasets import DATASETS
from hybridnlp.exceptions import ConfigError, DataError, HybridNLPError

__all__ = ["check_task_data", "reading_data"]


@contextlib.contextmanager
def reading_data(key: str):
    """Inside the block, a file that cannot be read (missing, truncated, too large, not the
    format it claims) is a :class:`DataError` starting with the config ``key`` that named
    it, so the CLI prints one line and exits 2 rather than a traceback."""
    try:
        yield
    except HybridNLPError:
        raise
    except (OSError, ValueError) as err:  # FileNotFoundError, UnicodeDecodeError included
        raise DataError(f"{key}: {err}") from None


NEEDS = {"translation": "the sentence pairs of a translation data set",
         "question_answering": "a SQuAD-format data set"}
LANGUAGES = ("en", "de")  # multi30k's; its reader states them as source_lang / target_lang


def check_task_data(config) -> None:
    """The data set of a translation or question-answering config has that task; source and
    target languages are a translation's only, and two different languages of its set."""
    d = config.data
    if config.task in NEEDS:
        info = DATASETS.get(d.name) if d.name is not None else None
        if info is None or info.task != config.task:
            have = ", ".join(n for n, i in DATASETS.items() if i.task == config.task)
            raise ConfigError(f"data.name: the {config.task} task reads {NEEDS[config.task]} "
                              f"({have}); got {d.name or 'path ' + repr(d.path)}.")
    for key in ("source", "target"):
        value = getattr(d, key)
        if value is None:
            continue
        if config.task != "translation":
            raise ConfigError(f"data.{key}: only the translation task has a {key} language; "
                              f"remove it (task is {config.task!r}).")
        if value not in LANGUAGES:
            raise ConfigError(f"data.{key}: {value!r} is not a language of {d.name}; choose "
                              f"one of {', '.join(LANGUAGES)}.")
    if d.source is not None and d.source == d.target:
        raise ConfigError(f"data.target: source and target are both {d.source!r}; give two "
                          f"different languages.")
