"""The ``hybridnlp`` command: run, report, predict, explain, train-lm, generate, translate,
index, ask, serve, export, datasets. Each group of subcommands is a module here with its
handlers and an ``add_commands`` that registers their arguments.

Bad arguments and invalid configs exit with status 2 and a one-line message.
"""

from __future__ import annotations

import argparse
import sys

from hybridnlp.cli import _experiments, _lm, _models, _qa
from hybridnlp.cli._common import Parser, UsageError
from hybridnlp.utils.signals import exit_on_sigterm

__all__ = ["build_parser", "main"]

# What Ctrl-C leaves, for the commands that do not say it themselves: their output is
# written whole at the end (atomically), so an interruption leaves the old file or none.
INTERRUPTED = {
    "index": "nothing was written (the index is written whole at the end); run it again",
    "translate": "nothing was written (the translations are written together at the end); "
                 "run it again",
    "predict": "nothing was written; run it again",
}


def build_parser() -> argparse.ArgumentParser:
    from hybridnlp import __version__

    fmt = argparse.ArgumentDefaultsHelpFormatter
    parser = Parser(prog="hybridnlp", formatter_class=fmt,
                    description="Classical NLP and Transformers, combined: run experiment "
                                "configs, compare runs, use saved models.")
    parser.add_argument("--version", action="version", version=f"hybridnlp {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    def command(name: str, help: str):
        return sub.add_parser(name, help=help, description=help, formatter_class=fmt)

    for group in (_experiments, _models, _lm, _qa):
        group.add_commands(command)
    return parser


def main(argv=None) -> int:
    from hybridnlp.exceptions import HybridNLPError, Interrupted

    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # to start again under torchrun
    try:
        with exit_on_sigterm():  # a killed run cleans up and stays resumable
            return args.func(args)
    except (UsageError, HybridNLPError) as err:  # configs, data, locks: one line
        parser.exit(2, f"hybridnlp {args.command}: error: {err}\n")
    except KeyboardInterrupt as err:  # Ctrl-C: what was kept, and how to go on
        kept = str(err) if isinstance(err, Interrupted) and str(err) else INTERRUPTED.get(
            args.command, "nothing was written")
        parser.exit(130, f"hybridnlp {args.command}: interrupted; {kept}\n")
