"""What every ``hybridnlp`` subcommand shares: the one-line parser error, the usage error its
handlers raise (status 2, one line), and loading a saved model as a usage error."""

from __future__ import annotations

import argparse
from pathlib import Path

DATA_HOME_HELP = ("folder holding the larger data sets (imdb/, wikitext2/, ...); searched "
                  "first, then $HYBRIDNLP_DATA, ~/hybridnlp_data and a source checkout's "
                  "../shared/data")


class Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, status 2
        self.exit(2, f"{self.prog}: error: {message}\n")


class UsageError(Exception):
    """Bad arguments or input: ``main`` prints the message on one line, status 2."""


def load_model(model_dir: str):
    """``hybridnlp.load``, its refusals (no model there, a corrupt or foreign file) as usage
    errors."""
    from hybridnlp.persistence import load

    if not Path(model_dir).is_dir():
        raise UsageError(f"model directory {model_dir!r} does not exist")
    try:
        return load(model_dir)
    except (FileNotFoundError, ValueError) as err:
        raise UsageError(str(err)) from None
