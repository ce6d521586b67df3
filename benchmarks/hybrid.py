"""Hybrid classifiers against their components (../shared/BENCHMARKS.md section 1) -> RESULTS.md.

A thin wrapper over the configs in ``experiments/``: for each data set it runs
``experiments/<name>_hybrid.yaml`` (a run directory under ``runs/benchmarks``) and writes the
``hybrid_<name>`` section of RESULTS.md, and its plot ``hybrid_<name>.png``, from that run
directory, exactly as ``hybridnlp report RUN_DIR --results benchmarks/RESULTS.md --section
hybrid_<name>`` would. The same by hand, for MR:

    hybridnlp run experiments/mr_hybrid.yaml --output runs/benchmarks
    hybridnlp report runs/benchmarks/<run> --results benchmarks/RESULTS.md --section hybrid_mr

Run: ``.venv/bin/python benchmarks/hybrid.py [--data sst2 sst2_phrases trec mr subj imdb]``
(SST-2 about 5 minutes on 2 cores, SST-2 trained on phrases 10, TREC 10, MR 12-16, Subj 13,
IMDB about 50 minutes); ``--resume RUN_DIR`` continues an interrupted run of one data set.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from hybridnlp.experiments import run
from hybridnlp.experiments.report import write_results_section
from hybridnlp.utils.signals import exit_on_sigterm

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "RESULTS.md"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", nargs="+",
                        default=["sst2", "sst2_phrases", "trec", "mr", "subj", "imdb"])
    parser.add_argument("--output", default=str(ROOT / "runs" / "benchmarks"))
    parser.add_argument("--resume", metavar="RUN_DIR", help="continue this run (one data set)")
    args = parser.parse_args()
    if args.resume and len(args.data) != 1:
        parser.error("--resume continues one run: give one --data name")
    for name in args.data:
        config = f"experiments/{name}_hybrid.yaml"
        result = run(ROOT / config, output=args.output, resume=args.resume)
        write_results_section([result.run_dir], RESULTS, f"hybrid_{name}")
        print(f"{name}: section hybrid_{name} of {RESULTS} written from {result.run_dir}")


if __name__ == "__main__":
    with exit_on_sigterm():  # a killed run removes its temporary files; --resume continues it
        main()
