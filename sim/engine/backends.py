"""Execution backends: where the runs of an experiment execute, always through :mod:`joblib`.

Each backend is a small class with one interface (:class:`Backend`):

* :meth:`Backend.check` -- fail early, with an install hint, if an optional
  dependency is missing;
* :meth:`Backend.enter` -- set the backend up inside a :class:`contextlib.ExitStack`
  (e.g. start a dask ``LocalCluster``) and return the keyword arguments of
  :class:`joblib.Parallel`;
* :meth:`Backend.run` -- yield run results as they finish.

:func:`get_backend` chooses one by name (:data:`BACKENDS`). ``dask`` and ``ray`` are
optional dependencies, imported only when their backend is used.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import ClassVar

import joblib

__all__ = ["BACKENDS", "Backend", "BackendError", "DaskBackend", "LokyBackend", "RayBackend", "SequentialBackend",
           "ThreadingBackend", "get_backend", "n_workers"]


#: Seconds to wait for a dask scheduler given by address before giving up.
SCHEDULER_TIMEOUT = 5


class BackendError(RuntimeError):
    """A backend cannot run: e.g. its scheduler does not answer (the message says what to do)."""


def n_workers(n_jobs: int | None) -> int:
    """Number of workers meant by joblib's ``n_jobs`` (None or 0: all cores; -1: all, -2: all but one...)."""
    cpus = joblib.cpu_count()
    if n_jobs is None or n_jobs == 0:
        return cpus
    if n_jobs < 0:
        return max(1, cpus + 1 + n_jobs)
    return n_jobs


class Backend:
    """One way of executing runs; subclasses set :attr:`name` and implement :meth:`enter`."""

    name: ClassVar[str] = ""

    def check(self) -> None:
        """Raise ImportError (saying how to install it) if an optional dependency is missing."""

    def enter(self, stack: contextlib.ExitStack, n_jobs: int | None, scheduler: str | None) -> dict:
        """Set up the backend inside ``stack``; return keyword arguments for :class:`joblib.Parallel`."""
        raise NotImplementedError  # pragma: no cover - abstract

    def run(self, calls: list, n_jobs: int | None, scheduler: str | None,
            batch_size: int | str) -> Iterator[tuple]:
        """Yield the results of the ``joblib.delayed`` ``calls`` as they finish."""
        with contextlib.ExitStack() as stack:
            kwargs = self.enter(stack, n_jobs, scheduler)
            try:
                parallel = joblib.Parallel(return_as="generator_unordered", batch_size=batch_size, **kwargs)
            except ValueError as exc:
                if "does not support return_as" not in str(exc):
                    raise
                parallel = None
            if parallel is not None:
                yield from parallel(calls)
                return
            # Backends without generator output (Ray's joblib backend derives from
            # joblib's multiprocessing backend): run in chunks, store each chunk.
            chunk = max(8, 4 * joblib.effective_n_jobs(kwargs.get("n_jobs", -1)))
            runner = joblib.Parallel(return_as="list", batch_size=batch_size, **kwargs)
            for start in range(0, len(calls), chunk):
                yield from runner(calls[start:start + chunk])


class SequentialBackend(Backend):
    """All runs one after the other in this process (``n_jobs`` is ignored)."""

    name = "sequential"

    def enter(self, stack, n_jobs, scheduler) -> dict:
        return {"n_jobs": 1, "backend": "sequential"}


class LokyBackend(Backend):
    """joblib's own worker processes; ``n_jobs=None`` means all cores."""

    name = "loky"

    def enter(self, stack, n_jobs, scheduler) -> dict:
        return {"n_jobs": n_jobs if n_jobs is not None else -1, "backend": self.name}


class ThreadingBackend(Backend):
    """Threads of this process (for models that release the GIL); ``n_jobs=None`` means all cores."""

    name = "threading"

    def enter(self, stack, n_jobs, scheduler) -> dict:
        return {"n_jobs": n_jobs if n_jobs is not None else -1, "backend": self.name}


class DaskBackend(Backend):
    """A ``dask.distributed`` cluster: the current client, one at ``scheduler``, or a new LocalCluster.

    The LocalCluster has ``n_jobs`` single-threaded worker processes (all cores when None)
    and is closed afterwards.
    """

    name = "dask"

    def check(self) -> None:
        try:
            import distributed  # noqa: F401
        except ImportError as exc:
            raise ImportError(
                "backend='dask' needs dask.distributed, which is not installed. "
                'Install it with: pip install "clustersim[dask]"'
            ) from exc

    def enter(self, stack, n_jobs, scheduler) -> dict:

        import distributed

        if scheduler is not None:
            try:
                stack.enter_context(distributed.Client(scheduler, timeout=SCHEDULER_TIMEOUT))
            except Exception as exc:  # refused, timed out, or something that is not a dask scheduler
                raise BackendError(f"no dask scheduler answers at {scheduler} within {SCHEDULER_TIMEOUT} s "
                                   f"({type(exc).__name__}); start one with 'dask scheduler' or check the "
                                   f"address") from None
        else:
            try:
                distributed.default_client()
            except ValueError:
                cluster = stack.enter_context(distributed.LocalCluster(
                    n_workers=n_workers(n_jobs), threads_per_worker=1, processes=True,
                    dashboard_address=None, silence_logs=logging.WARNING,
                ))
                stack.enter_context(distributed.Client(cluster))
        stack.enter_context(joblib.parallel_config(backend="dask"))
        return {"n_jobs": -1}


class RayBackend(Backend):
    """A Ray cluster (the local one, or ``scheduler``: ``"ray://host:10001"`` / ``"auto"``)."""

    name = "ray"

    def check(self) -> None:
        try:
            import ray  # noqa: F401
            from ray.util.joblib import register_ray  # noqa: F401
        except ImportError as exc:
            raise ImportError(
                "backend='ray' needs the optional dependency Ray, which is not installed. "
                'Install it with: pip install "clustersim[ray]"'
            ) from exc

    def enter(self, stack, n_jobs, scheduler) -> dict:
        import ray
        from ray.util.joblib import register_ray

        if scheduler is not None and not ray.is_initialized():
            ray.init(address=scheduler)
        register_ray()
        stack.enter_context(joblib.parallel_config(backend="ray"))
        return {"n_jobs": n_jobs if n_jobs is not None else -1}


_BY_NAME: dict[str, type[Backend]] = {cls.name: cls for cls in (SequentialBackend, LokyBackend, ThreadingBackend,
                                                                 DaskBackend, RayBackend)}

#: Execution backends accepted by :func:`sim.engine.experiments.run_experiments`.
BACKENDS: tuple[str, ...] = tuple(_BY_NAME)


def get_backend(name: str) -> Backend:
    """The backend called ``name`` (one of :data:`BACKENDS`); ValueError for any other name."""
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")
    return _BY_NAME[name]()
