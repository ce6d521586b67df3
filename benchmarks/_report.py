"""Shared by the benchmark scripts: machine description, timing, and writing one section of
RESULTS.md without touching the sections other scripts own."""

from __future__ import annotations

import contextlib
import datetime
import math
import os
import platform
import statistics
import time
from pathlib import Path

RESULTS = Path(__file__).with_name("RESULTS.md")
HEADER = """# Benchmark results

Written by the scripts in `benchmarks/`; each section names the command that produced it, the
machine and the date. Speed is given as a ratio against a peer measured in the same run
(absolute times are context only: these machines are shared and noisy). Protocols and targets:
`../shared/BENCHMARKS.md`.
"""


def machine() -> str:
    from hybridnlp.utils.device import cpu_name

    cpu = cpu_name()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    gpu = "no GPU"
    try:
        import torch

        if torch.cuda.is_available():
            gpu = torch.cuda.get_device_name(0)
    except ImportError:
        pass
    return f"{cpu}, {cores} cores, {gpu}, Python {platform.python_version()}"


def stamp(command: str) -> str:
    today = datetime.date.today().isoformat()
    return f"Command: `{command}`  \nMachine: {machine()}  \nDate: {today}\n"


def timed(fn, repeats: int = 1):
    """(result of the last call, median seconds over ``repeats`` calls)."""
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return result, statistics.median(times)


def write_section(name: str, body: str) -> None:
    """Replace (or append) the section between this script's markers in RESULTS.md."""
    from hybridnlp.experiments.report import replace_section

    replace_section(RESULTS, name, body, header=HEADER)


@contextlib.contextmanager
def sklearn_counting():
    """Every batch of n-grams counted by scikit-learn's ``transform``, as before 2026-12-08
    (``hybridnlp.features._counting`` sends batches under ``SMALL_BATCH`` windows there)."""
    from hybridnlp.features import _counting

    kept = _counting.SMALL_BATCH
    _counting.SMALL_BATCH = math.inf
    try:
        yield
    finally:
        _counting.SMALL_BATCH = kept
