"""Where a run's fits go: joblib's backends (loky processes here, threads, or a
``dask.distributed`` cluster), chosen by the config's ``execution`` section."""

from __future__ import annotations

import contextlib
import logging

import joblib

__all__ = ["execution_backend"]

logger = logging.getLogger("hybridnlp.experiments")


@contextlib.contextmanager
def execution_backend(execution):
    """Inside the block, joblib (the runner's folds, and the hybrids' own ``n_jobs``) runs on
    ``execution.backend``; for "dask", a client of the scheduler at ``execution.address``, or
    of a local cluster of ``n_jobs`` one-thread workers started here and closed after."""
    if execution.backend != "dask":
        with joblib.parallel_config(backend=execution.backend):
            yield
        return
    import distributed

    with contextlib.ExitStack() as stack:
        if execution.address is None:
            workers = joblib.cpu_count() if execution.n_jobs < 0 else execution.n_jobs
            cluster = stack.enter_context(distributed.LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True,
                dashboard_address=None))
            logger.info("dask: a local cluster of %d workers", workers)
            client = stack.enter_context(distributed.Client(cluster))
        else:
            client = stack.enter_context(distributed.Client(execution.address))
            logger.info("dask: the scheduler at %s", execution.address)
        del client  # joblib's dask backend finds the current client itself
        stack.enter_context(joblib.parallel_config(backend="dask"))
        yield

