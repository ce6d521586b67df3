"""Where a run's fits go: joblib's backends (loky processes here, threads, or a
``dask.distributed`` cluster), chosen by the config's ``execution`` section."""

from __future__ import annotations

import contextlib
import logging
import os

import joblib

from hybridnlp.exceptions import HybridNLPError

__all__ = ["SCHEDULER_ENV", "execution_backend", "scheduler_address"]

logger = logging.getLogger("hybridnlp.experiments")

SCHEDULER_ENV = "HYBRIDNLP_DASK_SCHEDULER"
CONNECT_TIMEOUT = "30s"


def scheduler_address(execution, given: str | None = None) -> str | None:
    """The Dask scheduler a run with this ``execution`` section joins: ``given`` (``hybridnlp
    run --scheduler``), else ``$HYBRIDNLP_DASK_SCHEDULER``, else None (a local cluster, or no
    cluster for the other backends). Never a config's: joining a cluster trusts it to run code
    in this process (Dask moves results with pickle)."""
    if execution.backend != "dask":
        if given:
            raise HybridNLPError(f"--scheduler {given}: the config's execution.backend is "
                                 f"{execution.backend!r}; set execution.backend: dask (in a "
                                 f"classification run) to fit on the cluster.")
        return None
    return given or os.environ.get(SCHEDULER_ENV) or None


@contextlib.contextmanager
def execution_backend(execution, scheduler: str | None = None):
    """Inside the block, joblib (the runner's folds, and the hybrids' own ``n_jobs``) runs on
    ``execution.backend``; for "dask", a client of the scheduler at ``scheduler`` (or
    :func:`scheduler_address`'s), or of a local cluster of ``n_jobs`` one-thread workers started
    here and closed after."""
    scheduler = scheduler_address(execution, scheduler)
    if execution.backend != "dask":
        with joblib.parallel_config(backend=execution.backend):
            yield
        return
    import distributed

    with contextlib.ExitStack() as stack:
        if scheduler is None:
            workers = joblib.cpu_count() if execution.n_jobs < 0 else execution.n_jobs
            cluster = stack.enter_context(distributed.LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True,
                dashboard_address=None))
            logger.info("dask: a local cluster of %d workers", workers)
            client = stack.enter_context(distributed.Client(cluster))
        else:
            try:
                client = stack.enter_context(distributed.Client(scheduler,
                                                                timeout=CONNECT_TIMEOUT))
            except (OSError, TimeoutError, ValueError) as err:
                raise HybridNLPError(f"could not reach the Dask scheduler at {scheduler!r} "
                                     f"({type(err).__name__}: {err}); check the address "
                                     f"and that the scheduler runs.") from None
            logger.info("dask: the scheduler at %s", scheduler)
        del client  # joblib's dask backend finds the current client itself
        stack.enter_context(joblib.parallel_config(backend="dask"))
        yield

