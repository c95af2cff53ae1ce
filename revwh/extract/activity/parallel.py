"""Run parse tasks in worker processes, results in task order, with few results in flight.

Parsing is pure Python and bound to one core per process; landing (dlt, DuckDB) runs in the
calling process meanwhile. At most ``2 x workers`` results wait in memory, so memory stays
bounded however large the input is.

Workers are forked (on Linux) before the load starts: a fork needs no importable ``__main__``
(the CLI, an Airflow task or a notebook all work) and starts in milliseconds. Where fork does not
exist, they are spawned.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

import pyarrow as pa

T = TypeVar("T")

SMALL_INPUT_BYTES = 8 << 20  # below this, starting worker processes costs more than it saves
BATCH_ROWS = 400_000  # rows handed to the landing at once (see coalesced)


def default_workers(extra: dict | None = None) -> int:
    configured = (extra or {}).get("activity_workers")
    if configured:
        return max(1, int(configured))
    return max(1, min(4, os.cpu_count() or 1))


def _ready() -> int:
    return os.getpid()


@contextmanager
def worker_pool(workers: int):
    """A process pool of ``workers`` processes, started now; None when one process will do."""
    if workers <= 1:
        yield None
        return
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx)
    try:
        for f in [pool.submit(_ready) for _ in range(workers)]:
            f.result()
        yield pool
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def ordered_map(fn: Callable[..., T], tasks: Iterable[tuple],
                pool: ProcessPoolExecutor | None) -> Iterator[T]:
    """``fn(*task)`` for each task, in order; in ``pool`` when there is one."""
    if pool is None:
        for args in tasks:
            yield fn(*args)
        return
    in_flight = 2 * pool._max_workers
    pending: deque[Future] = deque()
    it = iter(tasks)
    try:
        for args in it:
            pending.append(pool.submit(fn, *args))
            if len(pending) >= in_flight:
                break
        while pending:
            result = pending.popleft().result()
            nxt = next(it, None)
            if nxt is not None:
                pending.append(pool.submit(fn, *nxt))
            yield result
    finally:
        for f in pending:
            f.cancel()


def coalesced(items: Iterable[tuple[str, pa.Table]], rows: int = BATCH_ROWS
              ) -> Iterator[tuple[str, pa.Table]]:
    """``(table name, arrow table)`` items joined into fewer, bigger ones, each table's rows in
    their order: the landing pays a fixed cost per item, whatever its size. Everything held is
    passed on once ``rows`` rows wait, so memory stays bounded."""
    held: dict[str, list[pa.Table]] = {}
    waiting = 0
    for name, table in items:
        held.setdefault(name, []).append(table)
        waiting += table.num_rows
        if waiting >= rows:
            yield from _joined(held)
            held, waiting = {}, 0
    yield from _joined(held)


def _joined(held: dict[str, list[pa.Table]]) -> Iterator[tuple[str, pa.Table]]:
    for name, tables in held.items():
        yield name, tables[0] if len(tables) == 1 else pa.concat_tables(tables)
