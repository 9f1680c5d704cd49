"""Where the runs of a sweep run: this process, a local process pool, or a Dask cluster.

This module owns the executor choices (:class:`Serial`, :class:`Processes`, the default over
all cores, and :class:`Dask`, optional: ``pip install 'mailsim[dask]'``), turning what a caller
passes into one of them (:func:`resolve_executor`), starting and stopping the pool or cluster
(:func:`open_executor`: forkserver workers on Linux, spawn elsewhere; Ctrl-C stops the workers),
and running a list of (point, replication) pairs on it, yielding each run's metrics as it
finishes (:func:`execute_runs`). A run is a pure function of the point's effective YAML and
its seed (:func:`~.metrics.run_one`), so every executor gives identical results.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import multiprocessing
import signal
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..cores import available_cores
from .errors import SweepDefinitionError, SweepError
from .metrics import Metrics, run_one
from .plan import SweepPlan


@dataclass(frozen=True)
class Serial:
    """Run every run in this process, one after the other."""


@dataclass(frozen=True)
class Processes:
    """A local pool of worker processes (``jobs``: default every core this process may use)."""

    jobs: int | None = None


@dataclass(frozen=True)
class Dask:
    """A Dask cluster: ``"local"`` starts a LocalCluster (``workers`` processes, default one
    per core); any other address (``tcp://scheduler:8786``) connects to a running scheduler,
    whose workers must have mailsim installed."""

    address: str = "local"
    workers: int | None = None


def resolve_executor(executor: object) -> object:
    if executor is None:
        return Processes()
    if isinstance(executor, bool):
        raise TypeError("executor must be Serial(), Processes(n), Dask(address), an Executor or a number of jobs")
    if isinstance(executor, int):
        if executor < 1:
            raise ValueError(f"the number of jobs must be at least 1, got {executor}")
        return Serial() if executor == 1 else Processes(executor)
    if isinstance(executor, Processes) and executor.jobs == 1:
        return Serial()
    if isinstance(executor, Serial | Processes | Dask | cf.Executor) or _is_dask_client(executor):
        return executor
    raise TypeError(
        f"executor must be Serial(), Processes(n), Dask(address), an Executor or a number of jobs, "
        f"not {type(executor).__name__}"
    )


def _is_dask_client(obj: object) -> bool:
    return type(obj).__module__.startswith("distributed") and hasattr(obj, "get_executor")


def _ignore_sigint() -> None:
    """Worker initializer: Ctrl-C is the parent's to handle (it cancels and records)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _process_context() -> multiprocessing.context.BaseContext:
    """forkserver on Linux (workers fork from a clean, single-threaded server that has already
    imported the simulator: fast to start, no fork-with-threads hazards, no re-import of the
    caller's ``__main__``); spawn elsewhere (macOS and Windows, where fork is unsafe or absent)."""
    if sys.platform.startswith("linux"):
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([run_one.__module__, "simulator.runner"])  # what the workers run
        return context
    return multiprocessing.get_context("spawn")


@contextlib.contextmanager
def open_executor(executor: object, tasks: int) -> Iterator[cf.Executor | None]:
    """The executor to submit runs to (None: run them here), shut down afterwards if ours."""
    if tasks == 0 or isinstance(executor, Serial):
        yield None
    elif isinstance(executor, Processes):
        jobs = min(executor.jobs or available_cores(), tasks)
        if jobs <= 1:
            yield None
            return
        pool = cf.ProcessPoolExecutor(jobs, mp_context=_process_context(), initializer=_ignore_sigint)
        try:
            yield pool
        except BaseException:
            _stop_workers(pool)
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    elif isinstance(executor, Dask):
        with _dask_client(executor) as client:
            yield client.get_executor(pure=False)
    elif _is_dask_client(executor):
        yield executor.get_executor(pure=False)  # type: ignore[attr-defined]
    else:
        yield executor  # type: ignore[misc]  # the caller's own Executor: the caller shuts it down


def _stop_workers(pool: cf.ProcessPoolExecutor) -> None:
    """Stop a pool's workers now (on Ctrl-C) instead of letting them finish their runs."""
    terminate = getattr(pool, "terminate_workers", None)  # Python 3.14+
    if terminate is not None:
        terminate()
        return
    for process in list(getattr(pool, "_processes", {}).values()):
        with contextlib.suppress(Exception):
            process.terminate()


@contextlib.contextmanager
def _dask_client(spec: Dask) -> Iterator[Any]:
    try:
        import distributed
    except ImportError:
        raise SweepDefinitionError(
            "Dask is not installed: pip install 'mailsim[dask]' (or dask[distributed])"
        ) from None
    import logging

    if spec.address == "local":
        cluster = distributed.LocalCluster(
            n_workers=spec.workers or available_cores(), threads_per_worker=1, processes=True,
            dashboard_address=None, silence_logs=logging.ERROR,
        )
        try:
            with distributed.Client(cluster) as client:
                yield client
        finally:
            cluster.close()
    else:
        try:
            client = distributed.Client(spec.address, timeout="20s")
        except (OSError, TimeoutError) as error:
            raise SweepDefinitionError(f"cannot reach the Dask scheduler at {spec.address}: {error}") from None
        with client:
            yield client

def execute_runs(
    pool: cf.Executor | None, plan: SweepPlan, todo: Sequence[tuple[int, int]], keep: Path | None
) -> Iterator[tuple[tuple[int, int], Metrics]]:
    """Run ``todo`` (point, replication) pairs; yield each as it finishes."""

    def arguments(task: tuple[int, int]) -> tuple[str, int, str | None, int]:
        point, rep = task
        folder = None if keep is None else str(keep / run_folder_name(point, rep))
        return plan.point_yaml[point], plan.seeds[rep], folder, plan.scenario.max_messages

    def failed(task: tuple[int, int], error: BaseException) -> SweepError:
        point, rep = task
        return SweepError(
            f"run of point {point} ({plan.label(point)}), replication {rep} (seed {plan.seeds[rep]}) failed: "
            f"{type(error).__name__}: {error}"
        )

    if pool is None:
        for task in todo:
            try:
                metrics = run_one(*arguments(task))
            except Exception as error:
                raise failed(task, error) from error
            yield task, metrics
        return
    futures = {pool.submit(run_one, *arguments(task)): task for task in todo}
    try:
        for future in cf.as_completed(futures):
            task = futures[future]
            try:
                metrics = future.result()
            except Exception as error:
                raise failed(task, error) from error
            yield task, metrics
    finally:
        for future in futures:
            future.cancel()


def run_folder_name(point: int, replication: int) -> str:
    """The folder name of one kept run (``--keep-runs``) under ``runs/``."""
    return f"point{point:04d}-rep{replication:03d}"

