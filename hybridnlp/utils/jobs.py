"""Fits as joblib jobs: on joblib's current backend (loky processes, threads, or Dask through
``joblib.parallel_config(backend="dask")``), with torch threads shared between them."""

from __future__ import annotations

import os

import joblib

__all__ = ["run_jobs", "threads_per_job"]


def run_jobs(function, jobs: list[tuple], n_jobs):
    """``function(*args)`` for each ``args`` of ``jobs``, ``n_jobs`` at a time on the current
    backend; a generator of the results in the order of ``jobs`` (each as soon as it and
    those before it are done). With ``n_jobs`` None or 1 they run here, one at a time."""
    if not jobs:  # (a Parallel whose generator is never read warns)
        return iter(())
    return joblib.Parallel(n_jobs=n_jobs, return_as="generator")(
        joblib.delayed(function)(*args) for args in jobs)


def threads_per_job(n_jobs, n_tasks: int) -> int | None:
    """Torch threads for each of ``n_tasks`` jobs run ``n_jobs`` at a time, so that the jobs
    running at once share the cores (None: one job at a time, torch left as it is)."""
    if n_jobs in (None, 1) or n_tasks < 2:
        return None
    running = min(joblib.effective_n_jobs(n_jobs), n_tasks)
    return max(1, (os.cpu_count() or 1) // max(running, 1))
