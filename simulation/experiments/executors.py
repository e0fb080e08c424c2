"""Where runs execute: in this process, a local process pool, or a Dask cluster.

Each backend is a context manager whose ``map_unordered(fn, tasks)`` yields
results as they finish. At most a few tasks per worker are in flight, so a
sweep of a million runs does not queue a million futures. Results do not
depend on the backend: a task carries everything its run needs.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from typing import Any

IN_FLIGHT_PER_WORKER = 4
# One BLAS/OpenMP thread per worker process (as Dask's nanny does): parallelism comes from the processes,
# and several multi-threaded numpy libraries on the same cores slow every run down.
SINGLE_THREAD_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def default_workers() -> int:
    """All usable cores."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


def exit_with_parent(parent_pid: int, interval_s: float = 0.5) -> None:
    """Pool-worker initializer: end this worker process soon after its parent is gone.

    A parent killed with ``kill -9`` (or by the out-of-memory killer) cannot stop its pool; its
    workers would otherwise wait forever on a result pipe nobody reads, holding memory and cores.
    A daemon thread checks every ``interval_s`` seconds whether the parent process changed.
    """

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(interval_s)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


class SerialBackend(AbstractContextManager):
    """Runs tasks one after another in this process (debugging, tiny sweeps)."""

    name = "serial"
    workers = 1

    def map_unordered(self, fn: Callable[[Any], Any], tasks: Iterable[Any]) -> Iterator[Any]:
        for task in tasks:
            yield fn(task)

    def __exit__(self, *exc: object) -> None:
        return None


class FuturesBackend(AbstractContextManager):
    """Any :class:`concurrent.futures.Executor`; owns (and shuts down) the pool unless given one."""

    def __init__(self, executor: cf.Executor, workers: int, owned: bool, name: str, restore_env: dict[str, str | None] | None = None) -> None:
        self.executor, self.workers, self.owned, self.name = executor, workers, owned, name
        self.restore_env = restore_env or {}

    def map_unordered(self, fn: Callable[[Any], Any], tasks: Iterable[Any]) -> Iterator[Any]:
        pending: set[cf.Future] = set()
        queue = iter(tasks)
        limit = max(1, self.workers * IN_FLIGHT_PER_WORKER)
        try:
            while True:
                for task in queue:
                    pending.add(self.executor.submit(fn, task))
                    if len(pending) >= limit:
                        break
                if not pending:
                    return
                done, pending = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
                for future in done:
                    yield future.result()
        finally:
            for future in pending:
                future.cancel()

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if self.owned:
            self.executor.shutdown(wait=exc_type is None, cancel_futures=True)
        for key, value in self.restore_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def process_backend(workers: int | None = None) -> FuturesBackend:
    """A local process pool started with "spawn": safe in Jupyter and with threads (no forked locks).

    Workers start lazily while the pool is in use and inherit single-threaded BLAS settings
    (unless the caller set them); the caller's environment is restored when the pool closes.
    """
    workers = workers or default_workers()
    restore = {key: os.environ.get(key) for key in SINGLE_THREAD_ENV if key not in os.environ}
    os.environ.update({key: SINGLE_THREAD_ENV[key] for key in restore})
    pool = cf.ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                                  initializer=exit_with_parent, initargs=(os.getpid(),))
    return FuturesBackend(pool, workers, owned=True, name="process", restore_env=restore)


class DaskBackend(AbstractContextManager):
    """A Dask distributed client: a new LocalCluster, an existing scheduler address, or a given Client."""

    name = "dask"

    def __init__(self, workers: int | None = None, scheduler: str | None = None, client: Any = None) -> None:
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            from simulation.experiments.spec import SweepError

            raise SweepError("--executor dask: Dask is not installed; install the 'dask' extra: pip install -e '.[dask]'") from None
        self.cluster = None
        self.owned = client is None
        if client is not None:
            self.client = client
        elif scheduler:
            check_reachable(scheduler)
            self.client = Client(scheduler, timeout="20s")
        else:
            self.cluster = LocalCluster(n_workers=workers or default_workers(), threads_per_worker=1, processes=True,
                                        dashboard_address=":0")
            self.client = Client(self.cluster)
        self.workers = max(1, sum(self.client.nthreads().values()))

    def map_unordered(self, fn: Callable[[Any], Any], tasks: Iterable[Any]) -> Iterator[Any]:
        from distributed import as_completed

        queue = iter(tasks)
        limit = max(1, self.workers * IN_FLIGHT_PER_WORKER)
        first = [self.client.submit(fn, task, pure=False) for task in _take(queue, limit)]
        if not first:
            return
        running = as_completed(first)
        try:
            for future in running:
                result = future.result()
                future.release()
                for task in _take(queue, 1):
                    running.add(self.client.submit(fn, task, pure=False))
                yield result
        finally:
            running.clear()

    def __exit__(self, *exc: object) -> None:
        if self.owned:
            self.client.close()
            if self.cluster is not None:
                self.cluster.close()


def check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """Raise a one-line :class:`SweepError` if a ``tcp://host:port`` scheduler address is malformed or nobody listens."""
    from simulation.experiments.spec import SweepError

    protocol, _, location = address.rpartition("://")
    host, _, port = location.rpartition(":")
    if protocol not in ("", "tcp") :
        return  # tls://, ucx://, ...: leave the checks to Dask
    if not host or not port.isdigit():
        raise SweepError(f"--scheduler: {address!r} is not a scheduler address like tcp://host:8786")
    try:
        socket.create_connection((host, int(port)), timeout=timeout_s).close()
    except OSError as error:
        raise SweepError(f"--scheduler: cannot reach a Dask scheduler at {address} ({error.strerror or error})") from None


def _take(iterator: Iterator[Any], n: int) -> list[Any]:
    out = []
    for item in iterator:
        out.append(item)
        if len(out) >= n:
            break
    return out


def open_backend(executor: Any = "process", workers: int | None = None, scheduler: str | None = None) -> AbstractContextManager:
    """A backend from a name (``serial``, ``process``, ``dask``), a concurrent.futures Executor or a dask Client."""
    if isinstance(executor, cf.Executor):
        count = workers or getattr(executor, "_max_workers", None) or default_workers()
        return FuturesBackend(executor, count, owned=False, name=type(executor).__name__)
    if executor == "serial":
        return SerialBackend()
    if executor == "process":
        return process_backend(workers)
    if executor == "dask":
        return DaskBackend(workers, scheduler)
    if type(executor).__name__ == "Client" and hasattr(executor, "submit"):
        return DaskBackend(client=executor)
    raise ValueError(f"executor must be 'serial', 'process', 'dask', a concurrent.futures.Executor or a dask Client (got {executor!r})")
